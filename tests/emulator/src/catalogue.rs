//! A realistic permission-group catalogue: real Cloudflare group names with their scopes
//! (user-, account- or zone-scoped, as in the dashboard) and real-looking 32-hex ids, in the
//! item shape of `GET .../tokens/permission_groups` (`{id, name, scopes, category}`).

use serde_json::{json, Value};

const USER: &str = "com.cloudflare.api.user";
const ACCOUNT: &str = "com.cloudflare.api.account";
const ZONE: &str = "com.cloudflare.api.account.zone";

/// (id, name, scope, category).
// One group per line reads as a table.
#[rustfmt::skip]
const GROUPS: &[(&str, &str, &str, &str)] = &[
    ("0cc3a61731504c89b99ec1be78b77aa0", "API Tokens Read", USER, "account_and_billing"),
    ("686d18d5ac6c441c867cbf6771e58a0a", "API Tokens Write", USER, "account_and_billing"),
    ("8acbe5bb0d54464ab867149d7f7cf8ac", "User Details Read", USER, "account_and_billing"),
    ("55a5e17cc99e4a3fa1f3432d262f2e55", "User Details Write", USER, "account_and_billing"),
    ("3518d0f75557482e952c6762d3e64903", "Memberships Read", USER, "account_and_billing"),
    ("9201bc6f42d440968aaab0c6f17ebb1d", "Memberships Write", USER, "account_and_billing"),
    ("7b2ad9e8c30b4d1b8f5e2a6c1d9f0e34", "Account API Tokens Read", ACCOUNT, "account_and_billing"),
    ("5f48a472240a4b489a21d43bd19a06e1", "Account API Tokens Write", ACCOUNT, "account_and_billing"),
    ("c1fde68c7bcc44588cbb6ddbc16d6480", "Account Settings Read", ACCOUNT, "account_and_billing"),
    ("1af1fa2adc104452b74a9a3364202f20", "Account Settings Write", ACCOUNT, "account_and_billing"),
    ("7cf72faf220841aabcfdfab81c43c4f6", "Billing Read", ACCOUNT, "account_and_billing"),
    ("6c80e02421494afc9ae14414ed442632", "Billing Write", ACCOUNT, "account_and_billing"),
    ("1a71c399035b4950a1bd1466bbe4f420", "Workers Scripts Read", ACCOUNT, "developer_platform"),
    ("e086da7e2179491d91ee5f35b3ca210a", "Workers Scripts Write", ACCOUNT, "developer_platform"),
    ("8b47d2786a534c08a1f94ee8f9f599ef", "Workers KV Storage Read", ACCOUNT, "developer_platform"),
    ("f7f0eda5697f475c90846e879bab8666", "Workers KV Storage Write", ACCOUNT, "developer_platform"),
    ("b4992e1108244f5d8bfbd5744320c2e1", "Workers R2 Storage Read", ACCOUNT, "developer_platform"),
    ("bf7481a1826f439697cb59a20b22293e", "Workers R2 Storage Write", ACCOUNT, "developer_platform"),
    ("efea2ab8357b47888938f101ae5e053f", "Cloudflare Tunnel Read", ACCOUNT, "cloudflare_one_and_zero_trust"),
    ("c07321b023e944ff818fec44d8203567", "Cloudflare Tunnel Write", ACCOUNT, "cloudflare_one_and_zero_trust"),
    ("7ea222f6d5064cfa89ea366d7c1fee89", "Access: Apps and Policies Read", ACCOUNT, "cloudflare_one_and_zero_trust"),
    ("959972745952452f8be2452be8cbb9f2", "Access: Apps and Policies Write", ACCOUNT, "cloudflare_one_and_zero_trust"),
    ("b89a480218d04ceb98b4fe57ca29dc1f", "Account Analytics Read", ACCOUNT, "analytics_and_logs"),
    ("c8fed203ed3043cba015a93ad1616f1f", "Zone Read", ZONE, "dns_and_zones"),
    ("e6d2666161e84845a636613608cee8d5", "Zone Write", ZONE, "dns_and_zones"),
    ("517b21aee92c4d89936c976ba6e4be55", "Zone Settings Read", ZONE, "dns_and_zones"),
    ("3030687196b94b638145a3953da2b699", "Zone Settings Write", ZONE, "dns_and_zones"),
    ("82e64a83756745bbbb1c9c2701bf816b", "DNS Read", ZONE, "dns_and_zones"),
    ("4755a26eedb94da69e1066d98aa820be", "DNS Write", ZONE, "dns_and_zones"),
    ("7b7216b327b04b8fbc8f524e1f9b7531", "SSL and Certificates Read", ZONE, "app_security"),
    ("c03055bc037c4ea9afb9a9f104b7b721", "SSL and Certificates Write", ZONE, "app_security"),
    ("4ec32dfcb35641c5bb32d5ef1ab963b4", "Firewall Services Read", ZONE, "app_security"),
    ("43137f8d07884d3198dc0ee77ca6e79b", "Firewall Services Write", ZONE, "app_security"),
    ("e17beae8b8cb423a99b1730f21238bed", "Cache Purge", ZONE, "cache_and_performance"),
    ("ed07f6c337da4195b4e72a1fb2c6bcae", "Page Rules Write", ZONE, "rules_and_configuration"),
    ("9c88f9c5bce24ce7af9a958ba9c504db", "Analytics Read", ZONE, "analytics_and_logs"),
];

fn item(&(id, name, scope, category): &(&str, &str, &str, &str)) -> Value {
    json!({ "id": id, "name": name, "scopes": [scope], "category": category })
}

/// Every group: what `GET /user/tokens/permission_groups` lists.
pub fn default_catalogue() -> Vec<Value> {
    GROUPS.iter().map(item).collect()
}

/// The groups an account-owned token may hold (account- and zone-scoped ones): what
/// `GET /accounts/{id}/tokens/permission_groups` lists by default.
pub fn account_catalogue() -> Vec<Value> {
    GROUPS
        .iter()
        .filter(|(_, _, scope, _)| *scope != USER)
        .map(item)
        .collect()
}

/// The id of a group of the default catalogue, by exact name.
pub fn group_id(name: &str) -> Option<&'static str> {
    GROUPS
        .iter()
        .find(|(_, n, _, _)| *n == name)
        .map(|(id, _, _, _)| *id)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::{json, Value};

    use crate::default_catalogue;
    use crate::testkit::*;

    #[test]
    fn default_catalogue_is_realistic() {
        let doc = spec_document();
        let item = &doc["components"]["schemas"]["iam_permissions_group_response_collection"]
            ["properties"]["result"]["items"]["properties"];
        let scopes: Vec<Value> = item["scopes"]["items"]["enum"]
            .as_array()
            .expect("enum")
            .clone();
        let categories: Vec<Value> = item["category"]["enum"].as_array().expect("enum").clone();
        let catalogue = default_catalogue();
        assert!(catalogue.len() >= 30);
        let mut ids = BTreeSet::new();
        let mut names = BTreeSet::new();
        for group in &catalogue {
            let id = group["id"].as_str().expect("id");
            assert!(
                id.len() == 32
                    && id
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
                "{id}"
            );
            assert!(ids.insert(id.to_string()), "duplicate id {id}");
            assert!(names.insert(group["name"].as_str().expect("name").to_string()));
            for scope in group["scopes"].as_array().expect("scopes") {
                assert!(scopes.contains(scope), "{scope}");
            }
            assert!(categories.contains(&group["category"]));
        }
        for name in [
            "API Tokens Read",
            "API Tokens Write",
            "Account API Tokens Read",
            "Account API Tokens Write",
            "Memberships Read",
            "Memberships Write",
            "DNS Read",
            "DNS Write",
            "Zone Read",
            "Zone Write",
            "Zone Settings Write",
            "Account Settings Read",
            "Account Settings Write",
            "Billing Read",
            "Billing Write",
            "Workers Scripts Read",
            "Workers Scripts Write",
            "Cloudflare Tunnel Write",
            "SSL and Certificates Write",
            "Firewall Services Write",
            "Access: Apps and Policies Write",
            "Workers KV Storage Read",
            "Workers KV Storage Write",
            "User Details Read",
        ] {
            assert!(names.contains(name), "{name}");
        }
        let scope_of = |name: &str| {
            catalogue
                .iter()
                .find(|g| g["name"] == name)
                .map(|g| g["scopes"][0].clone())
        };
        assert_eq!(
            scope_of("API Tokens Write"),
            Some(json!("com.cloudflare.api.user"))
        );
        assert_eq!(
            scope_of("Account API Tokens Read"),
            Some(json!("com.cloudflare.api.account"))
        );
        assert_eq!(
            scope_of("DNS Write"),
            Some(json!("com.cloudflare.api.account.zone"))
        );
    }
}
