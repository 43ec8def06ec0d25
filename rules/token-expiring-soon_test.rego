package tokenwarden.rules.token_expiring_soon_test

import data.tokenwarden.rules.token_expiring_soon

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
	fs := token_expiring_soon.deny with input as d with data.tokenwarden.config as cfg
}

findings(token_patch, facts_patch) := findings_cfg(token_patch, facts_patch, config)

test_base_token_is_clean if {
	count(findings({}, {})) == 0
}

test_zero_days_left_fires if {
	fs := findings({}, {"days_until_expiry": 0})
	count(fs) == 1
	some f in fs
	f.msg == "token expires in 0 days (on 2026-12-22T10:00:00Z), within the 14-day warning window"
	f.evidence == {"days_until_expiry": 0, "expiry_warning_days": 14, "expires_on": "2026-12-22T10:00:00Z"}
	not "severity" in object.keys(f)
}

test_exactly_window_fires if {
	fs := findings({"expires_on": "2026-12-06T10:00:00Z"}, {"days_until_expiry": 14, "lifetime_days": 74})
	count(fs) == 1
	some f in fs
	f.msg == "token expires in 14 days (on 2026-12-06T10:00:00Z), within the 14-day warning window"
	f.evidence.days_until_expiry == 14
}

test_fractional_days_in_message if {
	fs := findings({}, {"days_until_expiry": 2.25})
	some f in fs
	f.msg == "token expires in 2.25 days (on 2026-12-22T10:00:00Z), within the 14-day warning window"
}

test_just_outside_window_no_finding if {
	count(findings({}, {"days_until_expiry": 14.01})) == 0
}

test_already_expired_no_finding if {
	# Negative: expired tokens are not "expiring soon" (and are no longer active).
	count(findings({}, {"days_until_expiry": -0.01})) == 0
	count(findings({}, {"days_until_expiry": -1, "active": false, "expired": true, "inactive_days": 1})) == 0
}

test_no_expiry_no_finding if {
	count(findings({"expires_on": null}, {"days_until_expiry": null, "lifetime_days": null})) == 0
}

test_inactive_token_not_flagged if {
	count(findings(disabled_token, object.union(disabled_facts, {"days_until_expiry": 5}))) == 0
}

test_custom_window_from_config if {
	fs := findings_cfg({}, {"days_until_expiry": 20}, object.union(config, {"expiry_warning_days": 30}))
	count(fs) == 1
	some f in fs
	f.evidence.expiry_warning_days == 30
	f.msg == "token expires in 20 days (on 2026-12-22T10:00:00Z), within the 30-day warning window"
	count(findings({}, {"days_until_expiry": 20})) == 0
}
