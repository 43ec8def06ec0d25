package tokenwarden.rules.token_can_manage_tokens_test

import data.tokenwarden.rules.token_can_manage_tokens

config := {
	"max_lifetime_days": 90,
	"expiry_warning_days": 14,
	"max_secret_age_days": 90,
	"max_unused_days": 90,
	"min_ipv4_prefix": 16,
	"min_ipv6_prefix": 48,
	"max_permission_groups": 10,
	"lingering_days": 30,
	"privilege_escalation_groups": ["API Tokens Write", "Account API Tokens Write", "Memberships Write"],
	"sensitive_write_groups": [
		"Account Settings Write", "Billing Write", "DNS Write", "Zone Write", "Zone Settings Write",
		"Workers Scripts Write", "Cloudflare Tunnel Write", "SSL and Certificates Write",
		"Firewall Services Write", "Access: Apps and Policies Write",
	],
}

# A well-behaved account token: one zone, read-only, IP-restricted, 90-day lifetime.
base_token := {
	"id": "ed17574386854bf78a67040be0a770b0",
	"name": "ci-deploy",
	"status": "active",
	"issued_on": "2026-09-23T10:00:00Z",
	"modified_on": "2026-09-23T10:00:00Z",
	"expires_on": "2026-12-22T10:00:00Z",
	"last_used_on": "2026-11-20T22:00:00Z",
	"policies": [{
		"id": "f267e341f3dd4697bd3b9f71dd96247f",
		"effect": "allow",
		"resources": {"com.cloudflare.api.account.zone.eb78d65290b24279ba6f44721b3ea3c4": "*"},
		"permission_groups": [{"id": "c8fed203ed3043cba015a93ad1616f1f", "name": "Zone Read"}],
	}],
	"condition": {"request_ip": {"in": ["203.0.113.0/24"], "not_in": []}},
}

base_facts := {
	"active": true,
	"status": "active",
	"expired": false,
	"not_yet_valid": false,
	"age_days": 60,
	"secret_age_days": 60,
	"lifetime_days": 90,
	"days_until_expiry": 30,
	"days_since_last_use": 1.5,
	"never_used": false,
	"inactive_days": null,
	"is_scanner": false,
	"ip": {
		"condition_key": "request_ip",
		"has_allowlist": true,
		"allows_any": false,
		"allow": [{"cidr": "203.0.113.0/24", "valid": true, "version": 4, "prefix": 24, "any": false}],
		"deny": [],
		"invalid": [],
	},
	"resources": [{
		"policy_index": 0, "effect": "allow",
		"key": "com.cloudflare.api.account.zone.eb78d65290b24279ba6f44721b3ea3c4", "value": "*", "parent": null,
		"kind": "zone", "all_zones": false, "all_accounts": false,
		"account_id": null, "zone_id": "eb78d65290b24279ba6f44721b3ea3c4",
	}],
	"permission_groups": [{
		"policy_index": 0, "effect": "allow",
		"id": "c8fed203ed3043cba015a93ad1616f1f", "name": "Zone Read", "catalogue_name": "Zone Read",
		"match_names": ["zone read"], "scopes": ["com.cloudflare.api.account.zone"],
		"access": "read", "known": true,
	}],
}

# A token disabled 5 days ago: patch the token with disabled_token and the facts with disabled_facts.
disabled_token := {"status": "disabled", "modified_on": "2026-11-17T10:00:00Z"}

disabled_facts := {"active": false, "status": "disabled", "secret_age_days": 5, "inactive_days": 5}

doc(token_patch, facts_patch) := {
	"now": "2026-11-22T10:00:00Z",
	"owner": {"kind": "account", "id": "023e105f4ecef8ad9ca31a8372d0c353", "name": "Example Inc."},
	"token": object.union(base_token, token_patch),
	"facts": object.union(base_facts, facts_patch),
}

findings_cfg(token_patch, facts_patch, cfg) := fs if {
	d := doc(token_patch, facts_patch)
	fs := token_can_manage_tokens.deny with input as d with data.tokenwarden.config as cfg
}

findings(token_patch, facts_patch) := findings_cfg(token_patch, facts_patch, config)

test_base_token_is_clean if {
	count(findings({}, {})) == 0
}

# A permission-group row; match_names as enrich computes them (trimmed, lower-cased,
# trailing " edit" -> " write", sorted).
grp(idx, effect, name, match_names) := {
	"policy_index": idx, "effect": effect,
	"id": lower(replace(name, " ", "")), "name": name, "catalogue_name": name,
	"match_names": match_names, "scopes": ["com.cloudflare.api.user"],
	"access": "write", "known": true,
}

with_groups(groups) := {"permission_groups": groups}

test_api_tokens_write_fires if {
	fs := findings({}, with_groups([grp(0, "allow", "API Tokens Write", ["api tokens write"])]))
	count(fs) == 1
	some f in fs
	f.msg == "an allow policy grants privilege-escalation permissions (API Tokens Write) in policies[0]"
	f.evidence == {"groups": ["API Tokens Write"], "policy_indexes": [0]}
	not "severity" in object.keys(f)
}

test_legacy_edit_name_in_token_fires if {
	fs := findings({}, with_groups([grp(0, "allow", "API Tokens Edit", ["api tokens write"])]))
	count(fs) == 1
	some f in fs
	f.evidence.groups == ["API Tokens Edit"]
}

test_config_entry_spelled_edit_any_case if {
	cfg := object.union(config, {"privilege_escalation_groups": ["  account API tokens EDIT "]})
	fs := findings_cfg({}, with_groups([grp(1, "allow", "Account API Tokens Write", ["account api tokens write"])]), cfg)
	count(fs) == 1
	some f in fs
	f.evidence.policy_indexes == [1]
}

test_catalogue_name_matches if {
	# The token carries an old name; the catalogue's current name is in the list.
	g := object.union(grp(0, "allow", "Token Admin", ["api tokens write", "token admin"]), {"catalogue_name": "API Tokens Write"})
	fs := findings({}, with_groups([g]))
	count(fs) == 1
	some f in fs
	f.evidence.groups == ["Token Admin"]
}

test_read_group_no_finding if {
	g := object.union(grp(0, "allow", "API Tokens Read", ["api tokens read"]), {"access": "read"})
	count(findings({}, with_groups([g]))) == 0
}

test_no_substring_matching if {
	cfg := object.union(config, {"privilege_escalation_groups": ["Account API Tokens Write"]})
	count(findings_cfg({}, with_groups([grp(0, "allow", "API Tokens Write", ["api tokens write"])]), cfg)) == 0
}

test_deny_policy_not_counted if {
	count(findings({}, with_groups([grp(0, "deny", "API Tokens Write", ["api tokens write"])]))) == 0
}

test_several_groups_one_sorted_finding if {
	groups := [
		grp(2, "allow", "Memberships Write", ["memberships write"]),
		grp(0, "allow", "Zone Read", ["zone read"]),
		grp(0, "allow", "API Tokens Write", ["api tokens write"]),
		grp(1, "deny", "Account API Tokens Write", ["account api tokens write"]),
	]
	fs := findings({}, with_groups(groups))
	count(fs) == 1
	some f in fs
	f.evidence == {"groups": ["API Tokens Write", "Memberships Write"], "policy_indexes": [0, 2]}
	f.msg == "an allow policy grants privilege-escalation permissions (API Tokens Write, Memberships Write) in policies[0], policies[2]"
}

test_group_without_name_shown_by_id if {
	g := {
		"policy_index": 0, "effect": "allow", "id": "82e64a83756745bbbb1c9c2701bf816b",
		"name": null, "catalogue_name": "Memberships Write", "match_names": ["memberships write"],
		"scopes": [], "access": "write", "known": true,
	}
	fs := findings({}, with_groups([g]))
	some f in fs
	f.evidence.groups == ["82e64a83756745bbbb1c9c2701bf816b"]
}

test_list_from_config if {
	count(findings_cfg({}, with_groups([grp(0, "allow", "API Tokens Write", ["api tokens write"])]), object.union(config, {"privilege_escalation_groups": []}))) == 0
	# The base token's "Zone Read" fires once the list names it.
	count(findings_cfg({}, {}, object.union(config, {"privilege_escalation_groups": ["Zone Read"]}))) == 1
}

test_inactive_token_not_flagged if {
	count(findings(disabled_token, object.union(disabled_facts, with_groups([grp(0, "allow", "API Tokens Write", ["api tokens write"])])))) == 0
}
