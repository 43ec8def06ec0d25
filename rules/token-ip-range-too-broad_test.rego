package tokenwarden.rules.token_ip_range_too_broad_test

import data.tokenwarden.rules.token_ip_range_too_broad

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
	fs := token_ip_range_too_broad.deny with input as d with data.tokenwarden.config as cfg
}

findings(token_patch, facts_patch) := findings_cfg(token_patch, facts_patch, config)

test_base_token_is_clean if {
	count(findings({}, {})) == 0
}

v4(cidr, prefix) := {"cidr": cidr, "valid": true, "version": 4, "prefix": prefix, "any": prefix == 0}

v6(cidr, prefix) := {"cidr": cidr, "valid": true, "version": 6, "prefix": prefix, "any": prefix == 0}

allow(entries) := {"ip": {"has_allowlist": true, "allows_any": false, "allow": entries}}

test_ipv4_at_min_prefix_no_finding if {
	count(findings({}, allow([v4("10.1.0.0/16", 16)]))) == 0
}

test_ipv4_shorter_than_min_prefix_fires if {
	fs := findings({}, allow([v4("10.0.0.0/15", 15)]))
	count(fs) == 1
	some f in fs
	f.msg == "client IP allowlist includes ranges broader than /16 (IPv4) or /48 (IPv6): 10.0.0.0/15"
	f.evidence == {"broad_cidrs": ["10.0.0.0/15"], "allows_any": false, "min_ipv4_prefix": 16, "min_ipv6_prefix": 48}
	not "severity" in object.keys(f)
}

test_ipv6_at_min_prefix_no_finding if {
	count(findings({}, allow([v6("2001:db8:1::/48", 48)]))) == 0
}

test_ipv6_shorter_than_min_prefix_fires if {
	fs := findings({}, allow([v6("2001:db8::/47", 47)]))
	count(fs) == 1
	some f in fs
	f.evidence.broad_cidrs == ["2001:db8::/47"]
}

test_prefix_minimum_depends_on_version if {
	# /20 is narrow enough for IPv4 (at least /16) but too broad for IPv6 (shorter than /48).
	count(findings({}, allow([v4("10.0.0.0/20", 20)]))) == 0
	fs := findings({}, allow([v4("10.0.0.0/20", 20), v6("2001:db8::/20", 20)]))
	count(fs) == 1
	some f in fs
	f.evidence.broad_cidrs == ["2001:db8::/20"]
}

test_ipv4_any_address_fires if {
	fs := findings({}, object.union(allow([v4("0.0.0.0/0", 0)]), {"ip": {"allows_any": true}}))
	count(fs) == 1
	some f in fs
	f.evidence.allows_any == true
	f.evidence.broad_cidrs == ["0.0.0.0/0"]
}

test_ipv6_any_address_fires if {
	fs := findings({}, allow([v6("::/0", 0)]))
	count(fs) == 1
	some f in fs
	f.evidence.allows_any == true
	f.evidence.broad_cidrs == ["::/0"]
}

test_any_flag_alone_is_enough if {
	# Even with the minimums lowered to 0, an any-address entry is reported.
	cfg := object.union(config, {"min_ipv4_prefix": 0, "min_ipv6_prefix": 0})
	count(findings_cfg({}, allow([v4("0.0.0.0/0", 0)]), cfg)) == 1
	count(findings_cfg({}, allow([v4("10.0.0.0/8", 8)]), cfg)) == 0
}

test_several_broad_ranges_one_sorted_finding if {
	entries := [v4("203.0.113.0/24", 24), v6("::/0", 0), v4("10.0.0.0/8", 8), v4("0.0.0.0/0", 0), v4("10.0.0.0/8", 8)]
	fs := findings({}, allow(entries))
	count(fs) == 1
	some f in fs
	f.evidence.broad_cidrs == ["0.0.0.0/0", "10.0.0.0/8", "::/0"]
	f.msg == "client IP allowlist includes ranges broader than /16 (IPv4) or /48 (IPv6): 0.0.0.0/0, 10.0.0.0/8, ::/0"
}

test_invalid_entries_ignored if {
	entry := {"cidr": "10.0.0.0/255.0.0.0", "valid": false, "version": 4, "prefix": 8, "any": false}
	count(findings({}, {"ip": {"allow": [entry], "invalid": ["10.0.0.0/255.0.0.0"]}})) == 0
}

test_deny_list_entries_ignored if {
	facts := {"ip": {"deny": [v4("0.0.0.0/0", 0), v4("10.0.0.0/8", 8)]}}
	count(findings({}, facts)) == 0
}

test_custom_prefix_from_config if {
	cfg := object.union(config, {"min_ipv4_prefix": 24, "min_ipv6_prefix": 64})
	fs := findings_cfg({}, allow([v4("192.0.2.0/23", 23), v4("198.51.100.0/24", 24), v6("2001:db8::/56", 56)]), cfg)
	count(fs) == 1
	some f in fs
	f.evidence.broad_cidrs == ["192.0.2.0/23", "2001:db8::/56"]
	f.evidence.min_ipv4_prefix == 24
	f.msg == "client IP allowlist includes ranges broader than /24 (IPv4) or /64 (IPv6): 192.0.2.0/23, 2001:db8::/56"
}

test_inactive_token_not_flagged if {
	count(findings(disabled_token, object.union(disabled_facts, allow([v4("0.0.0.0/0", 0)])))) == 0
}
