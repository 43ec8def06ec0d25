package tokenwarden.rules.token_invalid_ip_condition_test

import data.tokenwarden.rules.token_invalid_ip_condition

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
	fs := token_invalid_ip_condition.deny with input as d with data.tokenwarden.config as cfg
}

findings(token_patch, facts_patch) := findings_cfg(token_patch, facts_patch, config)

test_base_token_is_clean if {
	count(findings({}, {})) == 0
}

invalid_ip(entries) := {"ip": {
	"has_allowlist": false,
	"allow": [{"cidr": c, "valid": false, "version": null, "prefix": null, "any": false} | some c in entries],
	"invalid": entries,
}}

test_one_invalid_entry_fires if {
	fs := findings({"condition": {"request_ip": {"in": ["300.1.1.1/8"]}}}, invalid_ip(["300.1.1.1/8"]))
	count(fs) == 1
	some f in fs
	f.msg == "client IP condition has 1 entry that is not a valid IP address or CIDR: 300.1.1.1/8"
	f.evidence == {"invalid": ["300.1.1.1/8"], "condition_key": "request_ip"}
	not "severity" in object.keys(f)
}

test_several_invalid_entries_one_sorted_finding if {
	fs := findings({}, invalid_ip(["300.1.1.1/8", "10.0.0.0/255.0.0.0", "not-an-ip"]))
	count(fs) == 1
	some f in fs
	f.evidence.invalid == ["10.0.0.0/255.0.0.0", "300.1.1.1/8", "not-an-ip"]
	f.msg == "client IP condition has 3 entries that are not valid IP addresses or CIDRs: 10.0.0.0/255.0.0.0, 300.1.1.1/8, not-an-ip"
}

test_invalid_deny_entry_fires if {
	facts := {"ip": {
		"deny": [{"cidr": "198.51.100.0/33", "valid": false, "version": null, "prefix": null, "any": false}],
		"invalid": ["198.51.100.0/33"],
	}}
	count(findings({}, facts)) == 1
}

test_no_invalid_entries_no_finding if {
	count(findings({}, {"ip": {"invalid": []}})) == 0
}

test_any_status_disabled_token_fires if {
	fs := findings(disabled_token, object.union(disabled_facts, invalid_ip(["300.1.1.1/8"])))
	count(fs) == 1
}

test_any_status_expired_token_fires if {
	facts := object.union(
		{"active": false, "status": "expired", "expired": true, "days_until_expiry": -3, "inactive_days": 3},
		invalid_ip(["1.2.3.4/40"]),
	)
	count(findings({"status": "expired"}, facts)) == 1
}
