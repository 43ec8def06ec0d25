# METADATA
# title: API token covers all accounts
# description: An allow policy uses the resource com.cloudflare.api.account.* and so applies to every account the token's owner can reach, including accounts joined later. Scope the policy to the specific account IDs the token needs.
# related_resources:
#   - https://developers.cloudflare.com/fundamentals/api/reference/permissions/
#   - https://developers.cloudflare.com/fundamentals/api/get-started/create-token/
# custom:
#   id: token-all-accounts
#   severity: high
#   remediation: none
#   tags: [resources, least-privilege]
package tokenwarden.rules.token_all_accounts

deny contains finding if {
	input.facts.active == true
	count(policies) > 0
	indexes := sort(policies)
	finding := {
		"msg": sprintf(
			"an allow policy covers all accounts (com.cloudflare.api.account.*) in %s",
			[concat(", ", [sprintf("policies[%d]", [i]) | some i in indexes])],
		),
		"evidence": {
			"policy_indexes": indexes,
			"resource": "com.cloudflare.api.account.*",
		},
	}
}

# Indexes of allow policies with an all-accounts resource.
policies contains r.policy_index if {
	some r in input.facts.resources
	r.effect == "allow"
	r.all_accounts == true
}
