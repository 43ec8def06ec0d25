package tokenwarden.rules.token_no_ip_restriction_test

import data.tokenwarden.rules.token_no_ip_restriction

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
	fs := token_no_ip_restriction.deny with input as d with data.tokenwarden.config as cfg
}

findings(token_patch, facts_patch) := findings_cfg(token_patch, facts_patch, config)

test_base_token_is_clean if {
	count(findings({}, {})) == 0
}

no_ip := {"ip": {"condition_key": null, "has_allowlist": false, "allows_any": false, "allow": [], "deny": [], "invalid": []}}

test_no_condition_fires if {
	fs := findings({"condition": {}}, no_ip)
	count(fs) == 1
	some f in fs
	f.msg == "token has no client IP allowlist (no valid request_ip \"in\" entry), so its secret works from any address"
	f.evidence == {"has_allowlist": false, "condition_key": null, "allow": [], "deny": []}
	not "severity" in object.keys(f)
}

test_valid_allowlist_no_finding if {
	count(findings({}, {})) == 0
	facts := {"ip": {"has_allowlist": true, "allow": [
		{"cidr": "2001:db8::/48", "valid": true, "version": 6, "prefix": 48, "any": false},
	]}}
	count(findings({}, facts)) == 0
}

test_deny_list_only_fires if {
	facts := {"ip": {
		"condition_key": "request.ip", "has_allowlist": false, "allows_any": false, "allow": [],
		"deny": [{"cidr": "198.51.100.0/24", "valid": true, "version": 4, "prefix": 24, "any": false}],
		"invalid": [],
	}}
	fs := findings({"condition": {"request.ip": {"not_in": ["198.51.100.0/24"]}}}, facts)
	count(fs) == 1
	some f in fs
	f.evidence == {"has_allowlist": false, "condition_key": "request.ip", "allow": [], "deny": ["198.51.100.0/24"]}
}

test_only_invalid_allow_entries_fires if {
	facts := {"ip": {
		"condition_key": "request_ip", "has_allowlist": false, "allows_any": false,
		"allow": [
			{"cidr": "300.1.1.1/8", "valid": false, "version": null, "prefix": null, "any": false},
			{"cidr": "10.0.0.0/255.0.0.0", "valid": false, "version": null, "prefix": null, "any": false},
		],
		"deny": [],
		"invalid": ["300.1.1.1/8", "10.0.0.0/255.0.0.0"],
	}}
	fs := findings({"condition": {"request_ip": {"in": ["300.1.1.1/8", "10.0.0.0/255.0.0.0"]}}}, facts)
	count(fs) == 1
	some f in fs
	f.msg == "token has no client IP allowlist (no valid request_ip \"in\" entry), so its secret works from any address; 2 allowlist entries could not be parsed and were ignored"
	f.evidence.allow == ["10.0.0.0/255.0.0.0", "300.1.1.1/8"]
}

test_single_invalid_allow_entry_message if {
	facts := {"ip": {
		"has_allowlist": false,
		"allow": [{"cidr": "300.1.1.1/8", "valid": false, "version": null, "prefix": null, "any": false}],
		"invalid": ["300.1.1.1/8"],
	}}
	fs := findings({}, facts)
	some f in fs
	endswith(f.msg, "; 1 allowlist entry could not be parsed and was ignored")
}

test_any_address_is_not_this_rule if {
	# 0.0.0.0/0 is a valid allowlist entry: token-ip-range-too-broad reports it, not this rule.
	facts := {"ip": {"has_allowlist": true, "allows_any": true, "allow": [
		{"cidr": "0.0.0.0/0", "valid": true, "version": 4, "prefix": 0, "any": true},
	]}}
	count(findings({}, facts)) == 0
}

test_inactive_token_not_flagged if {
	count(findings(disabled_token, object.union(disabled_facts, no_ip))) == 0
}
