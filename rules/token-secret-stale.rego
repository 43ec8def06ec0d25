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

import data.tokenwarden.lib

deny contains finding if {
	input.facts.active == true
	age := input.facts.secret_age_days
	is_number(age)
	limit := data.tokenwarden.config.max_secret_age_days
	age > limit
	finding := {
		"msg": sprintf("token secret is %s days old, more than the maximum of %s days without rotation", [lib.fmt_days(age), lib.fmt_days(limit)]),
		"evidence": {
			"secret_age_days": age,
			"max_secret_age_days": limit,
			"modified_on": object.get(input.token, "modified_on", null),
			"issued_on": object.get(input.token, "issued_on", null),
		},
	}
}
