# METADATA
# title: API token uses an unknown permission group
# description: The token references a permission group id that is not in its owner's permission-group catalogue, usually a retired or renamed permission, so what the token can really do is unclear. Review the token and recreate it with current permission groups.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/reference/permissions/
# custom:
#   id: token-unknown-permission-group
#   severity: low
#   remediation: none
#   tags: [permissions, hygiene]
package tokenwarden.rules.token_unknown_permission_group

# known is false only when the owner's catalogue was read and lacks the id;
# null (catalogue not read) never produces a finding.
deny contains finding if {
	input.facts.active == true
	count(unknown) > 0
	ids := sort({g.id | some g in unknown})
	indexes := sort({g.policy_index | some g in unknown})
	finding := {
		"msg": sprintf("permission groups not in the owner's catalogue: %s", [concat(", ", [describe(id) | some id in ids])]),
		"evidence": {
			"unknown_group_ids": ids,
			"policy_indexes": indexes,
		},
	}
}

unknown contains g if {
	some g in input.facts.permission_groups
	g.known == false
	is_string(g.id)
}

# "<id> (<name in the token>)" when the token names the group, else just the id.
describe(id) := sprintf("%s (%s)", [id, name]) if {
	names := sort({g.name | some g in unknown; g.id == id; is_string(g.name); g.name != ""})
	count(names) > 0
	name := concat(" / ", names)
} else := id
