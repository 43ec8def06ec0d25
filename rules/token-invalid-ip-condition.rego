# METADATA
# title: API token IP condition has invalid entries
# description: Some entries of the token's client IP condition are not valid IP addresses or CIDRs (for example netmask notation or out-of-range octets), so the filter does not do what its author intended. Fix or remove the entries and check that the remaining allowlist is what you expect.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/how-to/restrict-tokens/
# custom:
#   id: token-invalid-ip-condition
#   severity: medium
#   remediation: none
#   tags: [network, ip-restriction]
package tokenwarden.rules.token_invalid_ip_condition

# Applies to tokens of any status: a disabled token may be re-enabled as it is.
deny contains finding if {
	invalid := input.facts.ip.invalid
	count(invalid) > 0
	entries := sort(invalid)
	finding := {
		"msg": sprintf("client IP condition has %s: %s", [entry_count(count(entries)), concat(", ", entries)]),
		"evidence": {
			"invalid": entries,
			"condition_key": object.get(input.facts.ip, "condition_key", null),
		},
	}
}

entry_count(1) := "1 entry that is not a valid IP address or CIDR"

entry_count(n) := sprintf("%d entries that are not valid IP addresses or CIDRs", [n]) if n > 1
