package tokenwarden.rules.token_lifetime_too_long_test

import data.tokenwarden.rules.token_lifetime_too_long

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
	"sensitive_write_groups": ["DNS Write", "Zone Write"],
}

base_token := {
	"id": "ed17574386854bf78a67040be0a770b0",
	"name": "ci-deploy",
	"status": "active",
	"issued_on": "2026-08-24T10:00:00Z",
	"modified_on": "2026-08-24T10:00:00Z",
	"expires_on": "2026-11-22T10:00:00Z",
	"policies": [],
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
	"ip": {"condition_key": null, "has_allowlist": false, "allows_any": false, "allow": [], "deny": [], "invalid": []},
	"resources": [],
	"permission_groups": [],
}

doc(facts) := {
	"now": "2026-11-22T10:00:00Z",
	"owner": {"kind": "user", "id": "6d7f2f5f5b1d4a0e9081fdc98d432fd1"},
	"token": base_token,
	"facts": object.union(base_facts, facts),
}

findings_cfg(facts, cfg) := fs if {
	d := doc(facts)
	fs := token_lifetime_too_long.deny with input as d with data.tokenwarden.config as cfg
}

findings(facts) := findings_cfg(facts, config)

test_exactly_max_no_finding if {
	count(findings({"lifetime_days": 90})) == 0
	count(findings({"lifetime_days": 90.0})) == 0
}

test_just_over_max_fires if {
	fs := findings({"lifetime_days": 90.01})
	count(fs) == 1
	some f in fs
	f.msg == "token lifetime is 90.01 days, more than the maximum of 90 days"
	f.evidence == {"lifetime_days": 90.01, "max_lifetime_days": 90, "expires_on": "2026-11-22T10:00:00Z"}
	not "severity" in object.keys(f)
}

test_one_year_message if {
	fs := findings({"lifetime_days": 365.0})
	count(fs) == 1
	some f in fs
	f.msg == "token lifetime is 365 days, more than the maximum of 90 days"
}

test_fractional_lifetime_rounded_in_message if {
	fs := findings({"lifetime_days": 120.456})
	some f in fs
	f.msg == "token lifetime is 120.46 days, more than the maximum of 90 days"
	f.evidence.lifetime_days == 120.456
	fs2 := findings({"lifetime_days": 100.5})
	some f2 in fs2
	f2.msg == "token lifetime is 100.5 days, more than the maximum of 90 days"
}

test_no_expiry_is_not_this_rule if {
	count(findings({"lifetime_days": null, "days_until_expiry": null})) == 0
}

test_inactive_token_not_flagged if {
	count(findings({"lifetime_days": 365, "active": false, "status": "disabled", "inactive_days": 5})) == 0
}

test_custom_threshold_from_config if {
	# 365 days is fine under a 400-day policy ...
	count(findings_cfg({"lifetime_days": 365}, object.union(config, {"max_lifetime_days": 400}))) == 0

	# ... and 31 days is too long under a 30-day one.
	fs := findings_cfg({"lifetime_days": 31}, object.union(config, {"max_lifetime_days": 30}))
	count(fs) == 1
	some f in fs
	f.evidence.max_lifetime_days == 30
	f.msg == "token lifetime is 31 days, more than the maximum of 30 days"
}
