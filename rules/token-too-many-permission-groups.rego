# METADATA
# title: API token has too many permission groups
# description: A token that carries many distinct permission groups is usually shared by several jobs, so one leak exposes all of them. Split it into narrower tokens, one per consumer.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/reference/permissions/
#   - https://developers.cloudflare.com/fundamentals/api/get-started/create-token/
# custom:
#   id: token-too-many-permission-groups
#   severity: low
#   remediation: none
#   tags: [permissions, least-privilege]
package tokenwarden.rules.token_too_many_permission_groups

# Distinct permission-group ids across all of the token's policies, allow and deny alike.
deny contains finding if {
	input.facts.active == true
	n := count(group_ids)
	limit := data.tokenwarden.config.max_permission_groups
	n > limit
	finding := {
		"msg": sprintf("token has %d distinct permission groups, more than the maximum of %d", [n, limit]),
		"evidence": {
			"permission_group_count": n,
			"max_permission_groups": limit,
		},
	}
}

group_ids contains g.id if {
	some g in input.facts.permission_groups
	is_string(g.id)
}
