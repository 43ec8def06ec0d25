# METADATA
# title: API token never expires
# description: A token without expires_on stays valid forever, so a leaked secret keeps working until someone notices and revokes it. Replace it with a token whose expiry falls within the allowed lifetime.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/get-started/create-token/
#   - https://developers.cloudflare.com/fundamentals/api/how-to/restrict-tokens/
# custom:
#   id: token-no-expiry
#   severity: high
#   remediation: none
#   tags: [expiry, lifecycle]
package tokenwarden.rules.token_no_expiry

# Active tokens whose API object has no (or an empty / null) expires_on.
deny contains finding if {
	input.facts.active == true
	not has_expiry
	finding := {
		"msg": "token has no expiry date (expires_on is not set), so it stays valid until it is revoked",
		"evidence": {
			"expires_on": null,
			"age_days": object.get(input.facts, "age_days", null),
		},
	}
}

has_expiry if {
	exp := input.token.expires_on
	is_string(exp)
	exp != ""
}
