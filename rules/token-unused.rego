# METADATA
# title: API token unused
# description: The token has not been used for longer than the allowed idle period (or was never used since it was issued), so it is likely forgotten while its secret still grants access. Disable it, and delete it once nothing breaks.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/get-started/create-token/
#   - https://developers.cloudflare.com/fundamentals/api/reference/permissions/
# custom:
#   id: token-unused
#   severity: medium
#   remediation: disable
#   tags: [usage, lifecycle]
package tokenwarden.rules.token_unused

import data.tokenwarden.lib

# Used at some point, but not recently.
deny contains finding if {
	input.facts.active == true
	idle := input.facts.days_since_last_use
	is_number(idle)
	limit := data.tokenwarden.config.max_unused_days
	idle > limit
	finding := {
		"msg": sprintf("token was last used %s days ago, more than the maximum of %s days without use", [lib.fmt_days(idle), lib.fmt_days(limit)]),
		"evidence": {
			"never_used": false,
			"days_since_last_use": idle,
			"last_used_on": object.get(input.token, "last_used_on", null),
			"max_unused_days": limit,
		},
	}
}

# Never used, and issued longer ago than the idle limit.
deny contains finding if {
	input.facts.active == true
	input.facts.never_used == true
	not is_number(input.facts.days_since_last_use)
	age := input.facts.age_days
	is_number(age)
	limit := data.tokenwarden.config.max_unused_days
	age > limit
	finding := {
		"msg": sprintf("token has never been used and was issued %s days ago, more than the maximum of %s days without use", [lib.fmt_days(age), lib.fmt_days(limit)]),
		"evidence": {
			"never_used": true,
			"age_days": age,
			"issued_on": object.get(input.token, "issued_on", null),
			"max_unused_days": limit,
		},
	}
}
