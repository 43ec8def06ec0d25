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

deny contains finding if {
	input.facts.active == true
	lifetime := input.facts.lifetime_days
	is_number(lifetime)
	limit := data.tokenwarden.config.max_lifetime_days
	lifetime > limit
	finding := {
		"msg": sprintf("token lifetime is %s days, more than the maximum of %s days", [fmt_days(lifetime), fmt_days(limit)]),
		"evidence": {
			"lifetime_days": lifetime,
			"max_lifetime_days": limit,
			"expires_on": object.get(input.token, "expires_on", null),
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
