package tokenwarden.rules.token_unknown_permission_group_test

import data.tokenwarden.rules.token_unknown_permission_group

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
	fs := token_unknown_permission_group.deny with input as d with data.tokenwarden.config as cfg
}

findings(token_patch, facts_patch) := findings_cfg(token_patch, facts_patch, config)

test_base_token_is_clean if {
	count(findings({}, {})) == 0
}

grp(idx, effect, id, name, known) := {
	"policy_index": idx, "effect": effect, "id": id, "name": name, "catalogue_name": null,
	"match_names": [], "scopes": [], "access": "other", "known": known,
}

test_unknown_group_fires if {
	fs := findings({}, {"permission_groups": [grp(0, "allow", "0123456789abcdef0123456789abcdef", "Legacy Permission", false)]})
	count(fs) == 1
	some f in fs
	f.msg == "permission groups not in the owner's catalogue: 0123456789abcdef0123456789abcdef (Legacy Permission)"
	f.evidence == {"unknown_group_ids": ["0123456789abcdef0123456789abcdef"], "policy_indexes": [0]}
	not "severity" in object.keys(f)
}

test_catalogue_not_read_no_finding if {
	count(findings({}, {"permission_groups": [grp(0, "allow", "0123456789abcdef0123456789abcdef", "Legacy Permission", null)]})) == 0
}

test_known_group_no_finding if {
	count(findings({}, {"permission_groups": [grp(0, "allow", "0123456789abcdef0123456789abcdef", "DNS Read", true)]})) == 0
}

test_allow_and_deny_policies_one_sorted_finding if {
	rows := [
		grp(1, "deny", "bbbb", null, false),
		grp(0, "allow", "aaaa", "Old Thing", false),
		grp(0, "allow", "cccc", "Zone Read", true),
		grp(2, "allow", "bbbb", null, false),
	]
	fs := findings({}, {"permission_groups": rows})
	count(fs) == 1
	some f in fs
	f.evidence == {"unknown_group_ids": ["aaaa", "bbbb"], "policy_indexes": [0, 1, 2]}
	f.msg == "permission groups not in the owner's catalogue: aaaa (Old Thing), bbbb"
}

test_inactive_token_not_flagged if {
	facts := object.union(disabled_facts, {"permission_groups": [grp(0, "allow", "aaaa", "Old Thing", false)]})
	count(findings(disabled_token, facts)) == 0
}
