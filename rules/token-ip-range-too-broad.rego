# METADATA
# title: API token allows too broad a client IP range
# description: The token's client IP allowlist includes any-address (0.0.0.0/0 or ::/0) or a network larger than policy allows, so the restriction does little to stop a leaked secret being used elsewhere. Narrow the allowlist to the addresses that actually use the token.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/how-to/restrict-tokens/
# custom:
#   id: token-ip-range-too-broad
#   severity: high
#   remediation: none
#   tags: [network, ip-restriction]
package tokenwarden.rules.token_ip_range_too_broad

deny contains finding if {
	input.facts.active == true
	count(broad) > 0
	min4 := data.tokenwarden.config.min_ipv4_prefix
	min6 := data.tokenwarden.config.min_ipv6_prefix
	cidrs := sort(broad)
	finding := {
		"msg": sprintf(
			"client IP allowlist includes ranges broader than /%d (IPv4) or /%d (IPv6): %s",
			[min4, min6, concat(", ", cidrs)],
		),
		"evidence": {
			"broad_cidrs": cidrs,
			"allows_any": allows_any,
			"min_ipv4_prefix": min4,
			"min_ipv6_prefix": min6,
		},
	}
}

# Valid entries of the allow ("in") list only: deny ("not_in") entries never widen access.
valid_allow contains e if {
	some e in input.facts.ip.allow
	e.valid == true
}

broad contains e.cidr if {
	some e in valid_allow
	e.any == true
}

broad contains e.cidr if {
	some e in valid_allow
	e.version == 4
	e.prefix < data.tokenwarden.config.min_ipv4_prefix
}

broad contains e.cidr if {
	some e in valid_allow
	e.version == 6
	e.prefix < data.tokenwarden.config.min_ipv6_prefix
}

default allows_any := false

allows_any if {
	some e in valid_allow
	e.any == true
}
