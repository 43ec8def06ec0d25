# METADATA
# title: API token expires soon
# description: The token expires within the warning window, and whatever depends on it will start failing when it does. Replace it with a fresh token and hand the new secret to its consumers before the old one expires.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/get-started/create-token/
#   - https://developers.cloudflare.com/fundamentals/api/how-to/roll-token/
# custom:
#   id: token-expiring-soon
#   severity: low
#   remediation: replace
#   tags: [expiry, lifecycle]
package tokenwarden.rules.token_expiring_soon

import data.tokenwarden.lib

deny contains finding if {
	input.facts.active == true
	days := input.facts.days_until_expiry
	is_number(days)
	window := data.tokenwarden.config.expiry_warning_days
	days >= 0
	days <= window
	finding := {
		"msg": sprintf("token expires in %s days%s, within the %s-day warning window", [lib.fmt_days(days), on_date, lib.fmt_days(window)]),
		"evidence": {
			"days_until_expiry": days,
			"expiry_warning_days": window,
			"expires_on": object.get(input.token, "expires_on", null),
		},
	}
}

on_date := sprintf(" (on %s)", [input.token.expires_on]) if {
	is_string(input.token.expires_on)
} else := ""
