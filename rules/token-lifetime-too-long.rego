# METADATA
# title: API token lifetime too long
# description: The time between the token's start (not_before, else issued_on) and its expiry exceeds the allowed maximum, which widens the window in which a leaked secret is usable. Recreate the token with a shorter expiry.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/get-started/create-token/
#   - https://developers.cloudflare.com/fundamentals/api/how-to/restrict-tokens/
# custom:
#   id: token-lifetime-too-long
#   severity: medium
#   remediation: none
#   tags: [expiry, lifecycle]
package tokenwarden.rules.token_lifetime_too_long

import data.tokenwarden.lib

deny contains finding if {
	input.facts.active == true
	lifetime := input.facts.lifetime_days
	is_number(lifetime)
	limit := data.tokenwarden.config.max_lifetime_days
	lifetime > limit
	finding := {
		"msg": sprintf("token lifetime is %s days, more than the maximum of %s days", [lib.fmt_days(lifetime), lib.fmt_days(limit)]),
		"evidence": {
			"lifetime_days": lifetime,
			"max_lifetime_days": limit,
			"expires_on": object.get(input.token, "expires_on", null),
		},
	}
}
