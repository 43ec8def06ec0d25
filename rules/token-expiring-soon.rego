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

deny contains finding if {
	input.facts.active == true
	days := input.facts.days_until_expiry
	is_number(days)
	window := data.tokenwarden.config.expiry_warning_days
	days >= 0
	days <= window
	finding := {
		"msg": sprintf("token expires in %s days%s, within the %s-day warning window", [fmt_days(days), on_date, fmt_days(window)]),
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
