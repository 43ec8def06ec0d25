package tokenwarden.rules.token_inactive_lingering_test

import data.tokenwarden.rules.token_inactive_lingering

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
	fs := token_inactive_lingering.deny with input as d with data.tokenwarden.config as cfg
}

findings(token_patch, facts_patch) := findings_cfg(token_patch, facts_patch, config)

test_base_token_is_clean if {
	count(findings({}, {})) == 0
}

test_active_token_no_finding if {
	count(findings({}, {})) == 0
}

test_disabled_exactly_grace_period_no_finding if {
	count(findings(disabled_token, object.union(disabled_facts, {"inactive_days": 30}))) == 0
}

test_disabled_just_over_grace_period_fires if {
	fs := findings({"status": "disabled", "modified_on": "2026-10-23T09:45:36Z"}, object.union(disabled_facts, {"inactive_days": 30.01}))
	count(fs) == 1
	some f in fs
	f.msg == "token has been disabled for 30.01 days, more than the 30-day grace period for inactive tokens"
	f.evidence == {
		"status": "disabled",
		"expired": false,
		"inactive_days": 30.01,
		"lingering_days": 30,
		"modified_on": "2026-10-23T09:45:36Z",
		"expires_on": "2026-12-22T10:00:00Z",
	}
	not "severity" in object.keys(f)
}

test_expired_by_date_fires if {
	# Status still "active", but expires_on has passed: the facts say expired.
	token := {"expires_on": "2026-10-01T10:00:00Z"}
	facts := {"active": false, "expired": true, "days_until_expiry": -52, "inactive_days": 52}
	fs := findings(token, facts)
	count(fs) == 1
	some f in fs
	f.msg == "token has been expired for 52 days, more than the 30-day grace period for inactive tokens"
	f.evidence.expires_on == "2026-10-01T10:00:00Z"
}

test_expired_status_fires if {
	facts := {"active": false, "status": "expired", "expired": true, "inactive_days": 45}
	fs := findings({"status": "expired"}, facts)
	some f in fs
	startswith(f.msg, "token has been expired for 45 days")
}

test_disabled_and_expired if {
	token := {"status": "disabled", "modified_on": "2026-10-01T10:00:00Z", "expires_on": "2026-10-10T10:00:00Z"}
	facts := {"active": false, "status": "disabled", "expired": true, "days_until_expiry": -43, "inactive_days": 52}
	fs := findings(token, facts)
	count(fs) == 1
	some f in fs
	startswith(f.msg, "token has been disabled and expired for 52 days")
}

test_recently_expired_no_finding if {
	facts := {"active": false, "expired": true, "days_until_expiry": -3, "inactive_days": 3}
	count(findings({"expires_on": "2026-11-19T10:00:00Z"}, facts)) == 0
}

test_not_yet_valid_no_finding if {
	# Not usable yet, but not inactive either: inactive_days stays null.
	facts := {"active": false, "not_yet_valid": true, "inactive_days": null}
	count(findings({"not_before": "2026-12-01T00:00:00Z"}, facts)) == 0
}

test_active_token_ignored_even_with_inactive_days if {
	count(findings({}, {"inactive_days": 100})) == 0
}

test_custom_grace_period_from_config if {
	cfg := object.union(config, {"lingering_days": 60})
	count(findings_cfg(disabled_token, object.union(disabled_facts, {"inactive_days": 45}), cfg)) == 0
	fs := findings_cfg(disabled_token, object.union(disabled_facts, {"inactive_days": 61}), cfg)
	count(fs) == 1
	some f in fs
	f.evidence.lingering_days == 60
	f.msg == "token has been disabled for 61 days, more than the 60-day grace period for inactive tokens"
}
