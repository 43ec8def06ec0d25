package tokenwarden.rules.token_no_expiry_test

import data.tokenwarden.rules.token_no_expiry

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

# A token without expires_on (the key is absent from the verbatim API object).
base_token := {
	"id": "ed17574386854bf78a67040be0a770b0",
	"name": "ci-deploy",
	"status": "active",
	"issued_on": "2026-01-01T10:00:00Z",
	"modified_on": "2026-01-01T10:00:00Z",
	"policies": [],
}

base_facts := {
	"active": true,
	"status": "active",
	"expired": false,
	"not_yet_valid": false,
	"age_days": 325,
	"secret_age_days": 325,
	"lifetime_days": null,
	"days_until_expiry": null,
	"days_since_last_use": 1.5,
	"never_used": false,
	"inactive_days": null,
	"is_scanner": false,
	"ip": {"condition_key": null, "has_allowlist": false, "allows_any": false, "allow": [], "deny": [], "invalid": []},
	"resources": [],
	"permission_groups": [],
}

doc(token, facts) := {
	"now": "2026-11-22T10:00:00Z",
	"owner": {"kind": "user", "id": "6d7f2f5f5b1d4a0e9081fdc98d432fd1"},
	"token": token,
	"facts": facts,
}

findings(token, facts) := fs if {
	d := doc(token, facts)
	fs := token_no_expiry.deny with input as d with data.tokenwarden.config as config
}

test_no_expires_on_fires if {
	fs := findings(base_token, base_facts)
	count(fs) == 1
	some f in fs
	f.msg == "token has no expiry date (expires_on is not set), so it stays valid until it is revoked"
	f.evidence == {"expires_on": null, "age_days": 325}
	not "severity" in object.keys(f)
}

test_null_expires_on_fires if {
	fs := findings(object.union(base_token, {"expires_on": null}), base_facts)
	count(fs) == 1
}

test_empty_expires_on_fires if {
	fs := findings(object.union(base_token, {"expires_on": ""}), base_facts)
	count(fs) == 1
}

test_with_expiry_no_finding if {
	token := object.union(base_token, {"expires_on": "2027-01-01T10:00:00Z"})
	facts := object.union(base_facts, {"lifetime_days": 365, "days_until_expiry": 40})
	count(findings(token, facts)) == 0
}

test_inactive_token_not_flagged if {
	token := object.union(base_token, {"status": "disabled"})
	facts := object.union(base_facts, {"active": false, "status": "disabled", "inactive_days": 3})
	count(findings(token, facts)) == 0
}

test_not_yet_valid_token_not_flagged if {
	token := object.union(base_token, {"not_before": "2026-12-01T00:00:00Z"})
	facts := object.union(base_facts, {"active": false, "not_yet_valid": true})
	count(findings(token, facts)) == 0
}
