# METADATA
# title: API token has no client IP restriction
# description: Without a valid client IP allowlist (a request_ip "in" condition) the token's secret works from any address on the internet. Add an IP address filter listing the networks that legitimately use the token.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/how-to/restrict-tokens/
#   - https://developers.cloudflare.com/fundamentals/api/get-started/create-token/
# custom:
#   id: token-no-ip-restriction
#   severity: high
#   remediation: none
#   tags: [network, ip-restriction]
package tokenwarden.rules.token_no_ip_restriction

# has_allowlist is true only when the allow ("in") list holds at least one VALID entry;
# a deny-only ("not_in") condition, or an allowlist of unparsable entries, restricts nothing.
deny contains finding if {
	input.facts.active == true
	not has_allowlist
	finding := {
		"msg": concat("", [
			"token has no client IP allowlist (no valid request_ip \"in\" entry), so its secret works from any address",
			invalid_note,
		]),
		"evidence": {
			"has_allowlist": false,
			"condition_key": object.get(input.facts, ["ip", "condition_key"], null),
			"allow": sort([e.cidr | some e in allow_entries]),
			"deny": sort([e.cidr | some e in deny_entries]),
		},
	}
}

has_allowlist if input.facts.ip.has_allowlist == true

allow_entries := object.get(input.facts, ["ip", "allow"], [])

deny_entries := object.get(input.facts, ["ip", "deny"], [])

invalid_allow := [e.cidr | some e in allow_entries; e.valid != true]

invalid_note := sprintf("; %d allowlist entries could not be parsed and were ignored", [count(invalid_allow)]) if {
	count(invalid_allow) > 1
} else := "; 1 allowlist entry could not be parsed and was ignored" if {
	count(invalid_allow) == 1
} else := ""
