package tokenwarden.rules.token_unused_test

import data.tokenwarden.rules.token_unused

config := {
	"max_lifetime_days": 90,
	"expiry_warning_days": 14,
	"max_secret_age_days": 90,
	"max_unused_days": 90,
	"min_ipv4_prefix": 16,
	"min_ipv6_prefix": 48,
	"max_permission_groups": 10,
	"lingering_days": 30,
	"privilege_escalation_groups": ["API Tokens Write", "Account API Tokens Write", "Memberships Write"],
	"sensitive_write_groups": [
		"Account Settings Write", "Billing Write", "DNS Write", "Zone Write", "Zone Settings Write",
		"Workers Scripts Write", "Cloudflare Tunnel Write", "SSL and Certificates Write",
		"Firewall Services Write", "Access: Apps and Policies Write",
	],
}

# A well-behaved account token: one zone, read-only, IP-restricted, 90-day lifetime.
base_token := {
	"id": "ed17574386854bf78a67040be0a770b0",
	"name": "ci-deploy",
	"status": "active",
	"issued_on": "2026-09-23T10:00:00Z",
	"modified_on": "2026-09-23T10:00:00Z",
	"expires_on": "2026-12-22T10:00:00Z",
	"last_used_on": "2026-11-20T22:00:00Z",
	"policies": [{
		"id": "f267e341f3dd4697bd3b9f71dd96247f",
		"effect": "allow",
		"resources": {"com.cloudflare.api.account.zone.eb78d65290b24279ba6f44721b3ea3c4": "*"},
		"permission_groups": [{"id": "c8fed203ed3043cba015a93ad1616f1f", "name": "Zone Read"}],
	}],
	"condition": {"request_ip": {"in": ["203.0.113.0/24"], "not_in": []}},
}

base_facts := {
	"active": true,
	"status": "active",
	"expired": false,
	"not_yet_valid": false,
	"age_days": 60,
	"secret_age_days": 60,
	"lifetime_days": 90,
	"days_until_expiry": 30,
	"days_since_last_use": 1.5,
	"never_used": false,
	"inactive_days": null,
	"is_scanner": false,
	"ip": {
		"condition_key": "request_ip",
		"has_allowlist": true,
		"allows_any": false,
		"allow": [{"cidr": "203.0.113.0/24", "valid": true, "version": 4, "prefix": 24, "any": false}],
		"deny": [],
		"invalid": [],
	},
	"resources": [{
		"policy_index": 0, "effect": "allow",
		"key": "com.cloudflare.api.account.zone.eb78d65290b24279ba6f44721b3ea3c4", "value": "*", "parent": null,
		"kind": "zone", "all_zones": false, "all_accounts": false,
		"account_id": null, "zone_id": "eb78d65290b24279ba6f44721b3ea3c4",
	}],
	"permission_groups": [{
		"policy_index": 0, "effect": "allow",
		"id": "c8fed203ed3043cba015a93ad1616f1f", "name": "Zone Read", "catalogue_name": "Zone Read",
		"match_names": ["zone read"], "scopes": ["com.cloudflare.api.account.zone"],
		"access": "read", "known": true,
	}],
}

# A token disabled 5 days ago: patch the token with disabled_token and the facts with disabled_facts.
disabled_token := {"status": "disabled", "modified_on": "2026-11-17T10:00:00Z"}

disabled_facts := {"active": false, "status": "disabled", "secret_age_days": 5, "inactive_days": 5}

doc(token_patch, facts_patch) := {
	"now": "2026-11-22T10:00:00Z",
	"owner": {"kind": "account", "id": "023e105f4ecef8ad9ca31a8372d0c353", "name": "Example Inc."},
	"token": object.union(base_token, token_patch),
	"facts": object.union(base_facts, facts_patch),
}

findings_cfg(token_patch, facts_patch, cfg) := fs if {
	d := doc(token_patch, facts_patch)
	fs := token_unused.deny with input as d with data.tokenwarden.config as cfg
}

findings(token_patch, facts_patch) := findings_cfg(token_patch, facts_patch, config)

test_base_token_is_clean if {
	count(findings({}, {})) == 0
}

test_last_used_exactly_max_no_finding if {
	count(findings({}, {"days_since_last_use": 90})) == 0
}

test_last_used_just_over_max_fires if {
	fs := findings({"last_used_on": "2026-08-24T09:45:36Z"}, {"days_since_last_use": 90.01})
	count(fs) == 1
	some f in fs
	f.msg == "token was last used 90.01 days ago, more than the maximum of 90 days without use"
	f.evidence == {
		"never_used": false,
		"days_since_last_use": 90.01,
		"last_used_on": "2026-08-24T09:45:36Z",
		"max_unused_days": 90,
	}
	not "severity" in object.keys(f)
}

test_never_used_age_exactly_max_no_finding if {
	count(findings({"last_used_on": null}, {"never_used": true, "days_since_last_use": null, "age_days": 90})) == 0
}

test_never_used_age_over_max_fires if {
	fs := findings({"last_used_on": null, "issued_on": "2026-08-23T10:00:00Z"}, {"never_used": true, "days_since_last_use": null, "age_days": 91})
	count(fs) == 1
	some f in fs
	f.msg == "token has never been used and was issued 91 days ago, more than the maximum of 90 days without use"
	f.evidence == {"never_used": true, "age_days": 91, "issued_on": "2026-08-23T10:00:00Z", "max_unused_days": 90}
}

test_never_used_without_last_used_key_fires if {
	token := object.remove(base_token, ["last_used_on"])
	fs := unused_findings(token, object.union(base_facts, {"never_used": true, "days_since_last_use": null, "age_days": 200}))
	count(fs) == 1
}

unused_findings(token, facts) := fs if {
	d := {"now": "2026-11-22T10:00:00Z", "token": token, "facts": facts}
	fs := token_unused.deny with input as d with data.tokenwarden.config as config
}

test_old_token_used_recently_no_finding if {
	# Age alone does not matter once the token has been used.
	count(findings({}, {"age_days": 400, "days_since_last_use": 2})) == 0
}

test_never_used_young_token_no_finding if {
	count(findings({"last_used_on": null}, {"never_used": true, "days_since_last_use": null, "age_days": 3})) == 0
}

test_inactive_token_not_flagged if {
	count(findings(disabled_token, object.union(disabled_facts, {"days_since_last_use": 200}))) == 0
	count(findings(disabled_token, object.union(disabled_facts, {"never_used": true, "days_since_last_use": null, "age_days": 200}))) == 0
}

test_custom_threshold_from_config if {
	cfg := object.union(config, {"max_unused_days": 30})
	fs := findings_cfg({}, {"days_since_last_use": 45}, cfg)
	count(fs) == 1
	some f in fs
	f.evidence.max_unused_days == 30
	count(findings({}, {"days_since_last_use": 45})) == 0
	count(findings_cfg({"last_used_on": null}, {"never_used": true, "days_since_last_use": null, "age_days": 31}, cfg)) == 1
}

test_unparsable_last_use_is_not_never_used if {
	# last_used_on present but unusable: days_since_last_use is null, yet the token was used,
	# so the never-used branch must not claim otherwise.
	count(findings({"last_used_on": "yesterday"}, {"never_used": false, "days_since_last_use": null, "age_days": 200})) == 0
}

test_at_most_one_finding_per_token if {
	# Even with contradictory facts (never_used but a last-use age), only one finding.
	fs := findings({}, {"never_used": true, "days_since_last_use": 200, "age_days": 300})
	count(fs) == 1
	some f in fs
	f.evidence.days_since_last_use == 200
}
