package tokenwarden.rules.ci_token_short_expiry_test

import data.tokenwarden.rules.ci_token_short_expiry

# Only the parts of the input document this rule reads; `tokenwarden explain TOKEN_ID
# --format json` prints a complete one to copy from.
doc(name, lifetime) := {
	"token": {"name": name, "expires_on": "2026-12-22T10:00:00Z"},
	"facts": {"active": true, "lifetime_days": lifetime},
}

findings(d) := fs if {
	fs := ci_token_short_expiry.deny with input as d
}

test_thirty_days_is_allowed if {
	count(findings(doc("ci-deploy", 30))) == 0
}

test_longer_than_thirty_days_fires if {
	fs := findings(doc("ci-deploy", 30.5))
	count(fs) == 1
	some f in fs
	f.msg == "CI token lives 31 days, more than the 30 days allowed for ci-* tokens"
	f.evidence == {"lifetime_days": 30.5, "max_days": 30, "expires_on": "2026-12-22T10:00:00Z"}
	not "severity" in object.keys(f)
}

test_no_expiry_is_high if {
	d := {"token": {"name": "ci-nightly"}, "facts": {"active": true, "lifetime_days": null}}
	fs := findings(d)
	count(fs) == 1
	some f in fs
	f.severity == "high"
	f.msg == "CI token never expires; ci-* tokens must expire within 30 days"
}

test_other_names_are_not_checked if {
	count(findings(doc("deploy-ci", 365))) == 0
	count(findings(doc("CI-deploy", 365))) == 0
	# No name at all (null): under OPA, startswith(null, …) would stop with a type error.
	count(findings(doc(null, 365))) == 0
}

test_inactive_tokens_are_not_checked if {
	d := {"token": {"name": "ci-old"}, "facts": {"active": false, "lifetime_days": 365}}
	count(findings(d)) == 0
}
