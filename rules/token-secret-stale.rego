# METADATA
# title: API token secret not rotated
# description: The token's secret has not changed for longer than the rotation period, so any copy leaked along the way still works. Roll the secret and deliver the new value to the token's consumers.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/how-to/roll-token/
# custom:
#   id: token-secret-stale
#   severity: medium
#   remediation: roll
#   tags: [rotation, lifecycle]
package tokenwarden.rules.token_secret_stale

deny contains finding if {
	input.facts.active == true
	age := input.facts.secret_age_days
	is_number(age)
	limit := data.tokenwarden.config.max_secret_age_days
	age > limit
	finding := {
		"msg": sprintf("token secret is %s days old, more than the maximum of %s days without rotation", [fmt_days(age), fmt_days(limit)]),
		"evidence": {
			"secret_age_days": age,
			"max_secret_age_days": limit,
			"modified_on": object.get(input.token, "modified_on", null),
			"issued_on": object.get(input.token, "issued_on", null),
		},
	}
}

# Days for messages: at most two decimals, trailing zeros dropped (365, 90.5, 90.01).
# One sprintf and a trim rather than a choice of formats: each function call and branch
# costs more than the arithmetic in regorus's VM, and this runs for every finding.
fmt_days(x) := concat("", [minus(x, n), trim_right(trim_right(hundredths, "0"), ".")]) if {
	n := round(abs(x) * 100)
	hundredths := sprintf("%d.%02d", [(n - (n % 100)) / 100, n % 100])
}

minus(x, n) := "-" if {
	x < 0
	n > 0
} else := ""
