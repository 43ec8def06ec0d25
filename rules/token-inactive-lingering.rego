# METADATA
# title: Inactive API token left lingering
# description: The token has been disabled or expired for longer than the grace period; keeping it around clutters audits and lets someone re-enable it by mistake. Delete it once you are sure nothing needs it.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/get-started/create-token/
#   - https://developers.cloudflare.com/fundamentals/api/how-to/roll-token/
# custom:
#   id: token-inactive-lingering
#   severity: low
#   remediation: none
#   tags: [lifecycle, hygiene]
package tokenwarden.rules.token_inactive_lingering

import data.tokenwarden.lib

# inactive_days is computed by tokenwarden: disabled -> since modified_on, expired -> since
# expires_on (or modified_on for status "expired" without expires_on), both -> the earlier.
deny contains finding if {
	not input.facts.active == true
	days := input.facts.inactive_days
	is_number(days)
	limit := data.tokenwarden.config.lingering_days
	days > limit
	finding := {
		"msg": sprintf("token has been %s for %s days, more than the %s-day grace period for inactive tokens", [state, lib.fmt_days(days), lib.fmt_days(limit)]),
		"evidence": {
			"status": object.get(input.facts, "status", null),
			"expired": object.get(input.facts, "expired", null),
			"inactive_days": days,
			"lingering_days": limit,
			"modified_on": object.get(input.token, "modified_on", null),
			"expires_on": object.get(input.token, "expires_on", null),
		},
	}
}

disabled if input.facts.status == "disabled"

expired if input.facts.status == "expired"

expired if input.facts.expired == true

state := "disabled and expired" if {
	disabled
	expired
} else := "disabled" if {
	disabled
} else := "expired" if {
	expired
} else := "inactive"
