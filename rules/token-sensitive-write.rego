# METADATA
# title: API token grants sensitive write permissions
# description: An allow policy grants write access to a sensitive area (DNS, zone settings, certificates, firewall, Workers, tunnels, Access, billing or account settings), where a leaked secret can redirect traffic or weaken security. Confirm the token needs it, and narrow it to read access or to specific zones where possible.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/reference/permissions/
#   - https://developers.cloudflare.com/fundamentals/api/how-to/restrict-tokens/
# custom:
#   id: token-sensitive-write
#   severity: high
#   remediation: none
#   tags: [permissions, least-privilege]
package tokenwarden.rules.token_sensitive_write

import data.tokenwarden.lib

deny contains finding if {
	input.facts.active == true
	count(matches) > 0
	names := sort({lib.group_name(g) | some g in matches})
	indexes := sort({g.policy_index | some g in matches})
	finding := {
		"msg": sprintf("an allow policy grants sensitive write permissions (%s) in %s", [
			concat(", ", names),
			concat(", ", [sprintf("policies[%d]", [i]) | some i in indexes]),
		]),
		"evidence": {
			"groups": names,
			"policy_indexes": indexes,
		},
	}
}

# Allow-effect permission groups named in config.sensitive_write_groups (by the
# token's or the catalogue's name; case-insensitive; "Edit" and "Write" are synonyms).
matches contains g if {
	some g in input.facts.permission_groups
	g.effect == "allow"
	some name in object.get(g, "match_names", [])
	name in wanted
}

# The configured names, normalised once per evaluation rather than once per group.
wanted := {lib.normalize_group_name(entry) | some entry in data.tokenwarden.config.sensitive_write_groups}
