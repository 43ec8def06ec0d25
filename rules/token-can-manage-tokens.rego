# METADATA
# title: API token can manage API tokens or memberships
# description: An allow policy grants a permission group that can create or edit API tokens or account memberships, so anyone holding the secret can mint themselves broader access. Disable the token unless it exists to manage tokens, and then keep it short-lived and IP-restricted.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/reference/permissions/
#   - https://developers.cloudflare.com/fundamentals/api/how-to/restrict-tokens/
# custom:
#   id: token-can-manage-tokens
#   severity: critical
#   remediation: disable
#   tags: [permissions, privilege-escalation]
package tokenwarden.rules.token_can_manage_tokens

import data.tokenwarden.lib

deny contains finding if {
	input.facts.active == true
	count(matches) > 0
	names := sort({lib.group_name(g) | some g in matches})
	indexes := sort({g.policy_index | some g in matches})
	finding := {
		"msg": sprintf("an allow policy grants privilege-escalation permissions (%s) in %s", [
			concat(", ", names),
			concat(", ", [sprintf("policies[%d]", [i]) | some i in indexes]),
		]),
		"evidence": {
			"groups": names,
			"policy_indexes": indexes,
		},
	}
}

# Allow-effect permission groups named in config.privilege_escalation_groups (by the
# token's or the catalogue's name; case-insensitive; "Edit" and "Write" are synonyms).
matches contains g if {
	some g in input.facts.permission_groups
	g.effect == "allow"
	some name in object.get(g, "match_names", [])
	name in wanted
}

# The configured names, normalised once per evaluation rather than once per group.
wanted := {lib.normalize_group_name(entry) | some entry in data.tokenwarden.config.privilege_escalation_groups}
