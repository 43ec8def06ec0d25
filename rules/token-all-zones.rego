# METADATA
# title: API token covers all zones
# description: An allow policy uses com.cloudflare.api.account.zone.* (at the top level or nested under an account) and so applies to every zone, including zones added later. Scope the policy to the specific zones the token needs, above all when it grants write access.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/reference/permissions/
#   - https://developers.cloudflare.com/fundamentals/api/get-started/create-token/
# custom:
#   id: token-all-zones
#   severity: medium
#   remediation: none
#   tags: [resources, least-privilege]
package tokenwarden.rules.token_all_zones

import data.tokenwarden.lib

# One finding per token. It is high (instead of the medium default) when one of the
# all-zones allow policies also grants a write permission group.
deny contains finding if {
	input.facts.active == true
	count(policies) > 0
	indexes := sort(policies)
	res := sort(resources)
	groups := sort(write_groups)
	base := {
		"msg": sprintf("an allow policy covers all zones (%s) in %s%s", [
			concat(", ", res),
			concat(", ", [sprintf("policies[%d]", [i]) | some i in indexes]),
			write_note(groups),
		]),
		"evidence": {
			"policy_indexes": indexes,
			"resources": res,
			"write_groups": groups,
		},
	}
	finding := with_severity(base, groups)
}

all_zone_rows contains r if {
	some r in input.facts.resources
	r.effect == "allow"
	r.all_zones == true
}

policies contains r.policy_index if some r in all_zone_rows

# Resource keys as written in the token; a nested key is shown under its account key.
resources contains r.key if {
	some r in all_zone_rows
	not is_string(r.parent)
}

resources contains sprintf("%s > %s", [r.parent, r.key]) if {
	some r in all_zone_rows
	is_string(r.parent)
}

# Write groups granted by the same (allow) policies.
write_groups contains lib.group_name(g) if {
	some g in input.facts.permission_groups
	g.effect == "allow"
	g.access == "write"
	g.policy_index in policies
}

write_note(groups) := sprintf(" with write access (%s)", [concat(", ", groups)]) if {
	count(groups) > 0
} else := ""

with_severity(f, groups) := object.union(f, {"severity": "high"}) if count(groups) > 0

with_severity(f, groups) := f if count(groups) == 0
