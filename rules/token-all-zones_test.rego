package tokenwarden.rules.token_all_zones_test

import data.tokenwarden.rules.token_all_zones

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
	fs := token_all_zones.deny with input as d with data.tokenwarden.config as cfg
}

findings(token_patch, facts_patch) := findings_cfg(token_patch, facts_patch, config)

test_base_token_is_clean if {
	count(findings({}, {})) == 0
}

account_key := "com.cloudflare.api.account.023e105f4ecef8ad9ca31a8372d0c353"

top_level_all_zones(idx, effect) := {
	"policy_index": idx, "effect": effect,
	"key": "com.cloudflare.api.account.zone.*", "value": "*", "parent": null,
	"kind": "zone", "all_zones": true, "all_accounts": false,
	"account_id": null, "zone_id": null,
}

nested_all_zones(idx) := {
	"policy_index": idx, "effect": "allow",
	"key": "com.cloudflare.api.account.zone.*", "value": "*", "parent": account_key,
	"kind": "zone", "all_zones": true, "all_accounts": false,
	"account_id": "023e105f4ecef8ad9ca31a8372d0c353", "zone_id": null,
}

one_zone(idx) := {
	"policy_index": idx, "effect": "allow",
	"key": "com.cloudflare.api.account.zone.eb78d65290b24279ba6f44721b3ea3c4", "value": "*", "parent": null,
	"kind": "zone", "all_zones": false, "all_accounts": false,
	"account_id": null, "zone_id": "eb78d65290b24279ba6f44721b3ea3c4",
}

grp(idx, effect, name, access) := {
	"policy_index": idx, "effect": effect,
	"id": lower(replace(name, " ", "")), "name": name, "catalogue_name": name,
	"match_names": [lower(name)], "scopes": ["com.cloudflare.api.account.zone"],
	"access": access, "known": true,
}

test_top_level_all_zones_read_only_is_medium if {
	fs := findings({}, {
		"resources": [top_level_all_zones(0, "allow")],
		"permission_groups": [grp(0, "allow", "Zone Read", "read"), grp(0, "allow", "DNS Read", "read")],
	})
	count(fs) == 1
	some f in fs
	f.msg == "an allow policy covers all zones (com.cloudflare.api.account.zone.*) in policies[0]"
	f.evidence == {"policy_indexes": [0], "resources": ["com.cloudflare.api.account.zone.*"], "write_groups": []}
	not "severity" in object.keys(f)
}

test_nested_all_zones_with_write_group_is_high if {
	fs := findings({}, {
		"resources": [nested_all_zones(0)],
		"permission_groups": [grp(0, "allow", "Zone Read", "read"), grp(0, "allow", "DNS Write", "write")],
	})
	count(fs) == 1
	some f in fs
	f.severity == "high"
	f.evidence.write_groups == ["DNS Write"]
	f.evidence.resources == ["com.cloudflare.api.account.023e105f4ecef8ad9ca31a8372d0c353 > com.cloudflare.api.account.zone.*"]
	f.msg == "an allow policy covers all zones (com.cloudflare.api.account.023e105f4ecef8ad9ca31a8372d0c353 > com.cloudflare.api.account.zone.*) in policies[0] with write access (DNS Write)"
}

test_nested_all_zones_read_only_is_medium if {
	fs := findings({}, {"resources": [nested_all_zones(0)], "permission_groups": [grp(0, "allow", "Zone Read", "read")]})
	count(fs) == 1
	some f in fs
	not "severity" in object.keys(f)
}

test_legacy_edit_group_is_write if {
	# enrich maps a trailing "Edit" to access "write".
	fs := findings({}, {"resources": [top_level_all_zones(0, "allow")], "permission_groups": [grp(0, "allow", "DNS Edit", "write")]})
	some f in fs
	f.severity == "high"
	f.evidence.write_groups == ["DNS Edit"]
}

test_write_group_in_another_policy_stays_medium if {
	fs := findings({}, {
		"resources": [top_level_all_zones(0, "allow"), one_zone(1)],
		"permission_groups": [grp(0, "allow", "Zone Read", "read"), grp(1, "allow", "DNS Write", "write")],
	})
	count(fs) == 1
	some f in fs
	not "severity" in object.keys(f)
	f.evidence.write_groups == []
}

test_write_group_in_deny_policy_not_counted if {
	fs := findings({}, {
		"resources": [top_level_all_zones(0, "allow"), top_level_all_zones(1, "deny")],
		"permission_groups": [grp(0, "allow", "Zone Read", "read"), grp(1, "deny", "DNS Write", "write")],
	})
	count(fs) == 1
	some f in fs
	not "severity" in object.keys(f)
	f.evidence.policy_indexes == [0]
}

test_two_all_zones_policies_one_finding if {
	fs := findings({}, {
		"resources": [nested_all_zones(1), top_level_all_zones(0, "allow")],
		"permission_groups": [
			grp(0, "allow", "Zone Read", "read"),
			grp(1, "allow", "Zone Write", "write"),
			grp(1, "allow", "DNS Write", "write"),
		],
	})
	count(fs) == 1
	some f in fs
	f.severity == "high"
	f.evidence.policy_indexes == [0, 1]
	f.evidence.write_groups == ["DNS Write", "Zone Write"]
	f.evidence.resources == [
		"com.cloudflare.api.account.023e105f4ecef8ad9ca31a8372d0c353 > com.cloudflare.api.account.zone.*",
		"com.cloudflare.api.account.zone.*",
	]
}

test_deny_all_zones_no_finding if {
	fs := findings({}, {
		"resources": [top_level_all_zones(0, "deny"), one_zone(1)],
		"permission_groups": [grp(0, "deny", "DNS Write", "write"), grp(1, "allow", "DNS Write", "write")],
	})
	count(fs) == 0
}

test_all_accounts_is_not_all_zones if {
	row := {
		"policy_index": 0, "effect": "allow",
		"key": "com.cloudflare.api.account.*", "value": "*", "parent": null,
		"kind": "account", "all_zones": false, "all_accounts": true,
		"account_id": null, "zone_id": null,
	}
	count(findings({}, {"resources": [row], "permission_groups": [grp(0, "allow", "DNS Write", "write")]})) == 0
}

test_inactive_token_not_flagged if {
	facts := object.union(disabled_facts, {
		"resources": [top_level_all_zones(0, "allow")],
		"permission_groups": [grp(0, "allow", "DNS Write", "write")],
	})
	count(findings(disabled_token, facts)) == 0
}

test_other_access_group_is_not_write if {
	# Groups whose last word is neither read nor write/edit (access "other") do not escalate.
	fs := findings({}, {
		"resources": [top_level_all_zones(0, "allow")],
		"permission_groups": [grp(0, "allow", "Cache Purge", "other")],
	})
	count(fs) == 1
	some f in fs
	not "severity" in object.keys(f)
	f.evidence.write_groups == []
}
