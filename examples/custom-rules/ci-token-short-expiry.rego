# METADATA
# title: CI tokens must expire within 30 days
# description: Tokens named ci-* are minted for pipelines, which can fetch a fresh one whenever they run. Such a token should live at most 30 days from issue (or not_before), so a secret leaked from a build log stops working soon. A ci-* token without any expiry is reported as high.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/get-started/create-token/
# custom:
#   id: ci-token-short-expiry
#   severity: medium
#   remediation: replace
#   tags: [expiry, ci, custom]
package tokenwarden.rules.ci_token_short_expiry

# The longest lifetime a ci-* token may have, in days. A custom rule keeps its own
# thresholds: data.tokenwarden.config holds only the policy's built-in keys.
max_days := 30

# A token may have no name (null): OPA stops with a type error when startswith gets one,
# where tokenwarden's engine would just find the expression undefined, so check first.
is_ci if {
	is_string(input.token.name)
	startswith(input.token.name, "ci-")
}

deny contains finding if {
	input.facts.active == true
	is_ci
	lifetime := input.facts.lifetime_days
	is_number(lifetime)
	lifetime > max_days
	finding := {
		"msg": sprintf("CI token lives %v days, more than the %v days allowed for ci-* tokens", [round(lifetime), max_days]),
		"evidence": {
			"lifetime_days": lifetime,
			"max_days": max_days,
			"expires_on": object.get(input.token, "expires_on", null),
		},
	}
}

deny contains finding if {
	input.facts.active == true
	is_ci
	input.facts.lifetime_days == null
	finding := {
		"msg": sprintf("CI token never expires; ci-* tokens must expire within %v days", [max_days]),
		"evidence": {"lifetime_days": null, "max_days": max_days},
		# A per-finding severity overrides the metadata's (medium) for this case.
		"severity": "high",
	}
}
