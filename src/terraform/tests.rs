use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::{json, Value as Json};

use super::config::SourceFile;
use super::value::{url_decode, Value};
use super::*;
use crate::policy::TokenMatch;

fn now() -> DateTime<Utc> {
    "2026-11-22T10:00:00Z".parse().unwrap()
}

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/terraform")
        .join(p)
}

/// Write `files` into a fresh directory and load it.
fn load_text(files: &[(&str, &str)]) -> Result<Loaded, TerraformError> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    load(
        &[dir.path().to_path_buf()],
        &Options {
            now: now(),
            catalogue: None,
            base: dir.path(),
        },
    )
}

fn token(l: &Loaded, address: &str) -> Json {
    let id = l.sources.find_address(address).unwrap_or_else(|| {
        panic!(
            "{address} not in {:?}",
            l.sources
                .resources
                .values()
                .map(|r| &r.address)
                .collect::<Vec<_>>()
        )
    });
    let owners = l.inventory.owners();
    owners
        .iter()
        .flat_map(|o| o.tokens.iter())
        .find(|t| t.id() == id)
        .map(|t| t.value())
        .unwrap()
}

fn resource<'a>(l: &'a Loaded, address: &str) -> &'a Resource {
    l.sources
        .get(l.sources.find_address(address).unwrap())
        .unwrap()
}

#[test]
fn url_decoding_of_v5_name_filters() {
    assert_eq!(url_decode("Zone%20Write"), "Zone Write");
    assert_eq!(url_decode("Access%3A%20Apps"), "Access: Apps");
    assert_eq!(url_decode("100%"), "100%");
    assert_eq!(url_decode("a%zzb"), "a%zzb");
}

#[test]
fn lines_are_one_based_from_byte_offsets() {
    let f = SourceFile::new("x".into(), "x".into(), "a\nbc\n\nd".into());
    assert_eq!(f.line_of(0), 1);
    assert_eq!(f.line_of(2), 2);
    assert_eq!(f.line_of(3), 2);
    assert_eq!(f.line_of(5), 3);
    assert_eq!(f.line_of(6), 4);
}

#[test]
fn token_ids_are_stable_per_address_and_look_like_cloudflare_ids() {
    let a = derived_id("resource", "cloudflare_api_token.x");
    assert_eq!(a, derived_id("resource", "cloudflare_api_token.x"));
    assert_ne!(a, derived_id("resource", "cloudflare_api_token.y"));
    assert!(crate::id::is_id(&a));
}

#[test]
fn v4_blocks_map_to_the_api_token_shape_with_values_and_group_names() {
    let l = load_text(&[(
        "main.tf",
        r#"
data "cloudflare_api_token_permission_groups" "all" {}
variable "zone" {}
variable "acct" { default = "023e105f4ecef8ad9ca31a8372d0c353" }
resource "cloudflare_api_token" "t" {
  name = "t-${var.acct}"
  policy {
    permission_groups = [data.cloudflare_api_token_permission_groups.all.zone["DNS Write"]]
    resources = {
      "com.cloudflare.api.account.zone.${var.zone}" = "*"
      "com.cloudflare.api.account.${var.acct}" = jsonencode({ "com.cloudflare.api.account.zone.*" = "*" })
    }
  }
  policy {
    effect = "deny"
    permission_groups = ["4755a26eedb94da69e1066d98aa820be"]
    resources = { "com.cloudflare.api.account.zone.abc" = "*" }
  }
  expires_on = "2027-01-01T00:00:00Z"
  condition {
    request_ip {
      in     = ["192.0.2.0/24"]
      not_in = ["192.0.2.1/32"]
    }
  }
}
"#,
    )])
    .unwrap();
    let t = token(&l, "cloudflare_api_token.t");
    assert_eq!(t["name"], "t-023e105f4ecef8ad9ca31a8372d0c353");
    assert_eq!(t["status"], "active");
    assert_eq!(t["issued_on"], "2026-11-22T10:00:00Z");
    assert_eq!(t["modified_on"], "2026-11-22T10:00:00Z");
    assert!(t.get("last_used_on").is_none());
    assert_eq!(t["expires_on"], "2027-01-01T00:00:00Z");
    assert_eq!(t["policies"][0]["effect"], "allow");
    assert_eq!(
        t["policies"][0]["permission_groups"][0]["name"],
        "DNS Write"
    );
    assert_eq!(
        t["policies"][0]["resources"],
        json!({
            "com.cloudflare.api.account.zone.${var.zone}": "*",
            "com.cloudflare.api.account.023e105f4ecef8ad9ca31a8372d0c353": {"com.cloudflare.api.account.zone.*": "*"}
        })
    );
    assert_eq!(t["policies"][1]["effect"], "deny");
    assert_eq!(
        t["policies"][1]["permission_groups"],
        json!([{"id": "4755a26eedb94da69e1066d98aa820be"}])
    );
    assert_eq!(
        t["condition"],
        json!({"request_ip": {"in": ["192.0.2.0/24"], "not_in": ["192.0.2.1/32"]}})
    );
    let r = resource(&l, "cloudflare_api_token.t");
    assert_eq!(r.line, 5);
    assert_eq!(r.lines["policies[0].resources"], 9);
    assert_eq!(r.lines["expires_on"], 19);
    assert_eq!(r.lines["condition"], 20);
    assert_eq!(
        r.unknowns,
        ["policies[0].resources: com.cloudflare.api.account.zone.${var.zone}"]
    );
    // The literal id has no name and no catalogue was read: shown, not dropped.
    assert_eq!(r.unresolved_groups.len(), 1);
    assert!(r.unresolved_groups[0].contains("4755a26eedb94da69e1066d98aa820be"));
}

#[test]
fn v5_list_data_sources_locals_tfvars_and_auto_tfvars_resolve() {
    let l = load_text(&[
        (
            "main.tf",
            r#"
data "cloudflare_api_token_permission_groups_list" "zw" { name = "Zone%20Write" }
variable "a" { default = "from-default" }
variable "b" {}
variable "c" { default = "from-default" }
locals {
  g = { zone = data.cloudflare_api_token_permission_groups_list.zw.result[0].id }
}
resource "cloudflare_api_token" "t" {
  name = "${var.a}/${var.b}/${var.c}"
  policies = [{
    effect            = "allow"
    permission_groups = [{ id = local.g.zone }]
    resources         = jsonencode({ "com.cloudflare.api.account.*" = "*" })
  }]
  condition = { request_ip = { in = ["203.0.113.0/24"] } }
}
"#,
        ),
        ("terraform.tfvars", "a = \"tfvars\"\nb = \"tfvars\"\n"),
        ("x.auto.tfvars", "b = \"auto\"\n"),
    ])
    .unwrap();
    let t = token(&l, "cloudflare_api_token.t");
    assert_eq!(t["name"], "tfvars/auto/from-default");
    assert_eq!(
        t["policies"][0]["permission_groups"][0]["name"],
        "Zone Write"
    );
    assert_eq!(
        t["policies"][0]["resources"],
        json!({"com.cloudflare.api.account.*": "*"})
    );
    assert!(resource(&l, "cloudflare_api_token.t").unknowns.is_empty());
}

#[test]
fn for_each_over_a_literal_expands_and_over_an_unknown_is_evaluated_once() {
    let l = load_text(&[(
        "main.tf",
        r#"
variable "zones" {}
resource "cloudflare_api_token" "known" {
  for_each = { a = "192.0.2.0/24", b = "198.51.100.0/24" }
  name     = "k-${each.key}"
  policies = []
  condition = { request_ip = { in = [each.value] } }
}
resource "cloudflare_api_token" "unknown" {
  for_each = var.zones
  name     = "u-${each.key}"
  policies = []
  condition = { request_ip = { in = [each.value] } }
  expires_on = each.value
}
resource "cloudflare_api_token" "counted" {
  count    = 2
  name     = "c-${count.index}"
  policies = []
}
"#,
    )])
    .unwrap();
    let a = token(&l, "cloudflare_api_token.known[\"a\"]");
    assert_eq!(a["name"], "k-a");
    assert_eq!(a["condition"]["request_ip"]["in"], json!(["192.0.2.0/24"]));
    token(&l, "cloudflare_api_token.known[\"b\"]");
    token(&l, "cloudflare_api_token.counted[1]");
    let u = token(&l, "cloudflare_api_token.unknown");
    // The unknown entry is left out, never read as invalid or absent.
    assert_eq!(u["condition"]["request_ip"]["in"], json!([]));
    assert!(u.get("expires_on").is_none());
    let r = resource(&l, "cloudflare_api_token.unknown");
    assert!(r.hides("token-no-expiry"));
    assert!(r.hides("token-no-ip-restriction"));
    assert!(!r.hides("token-all-accounts"));
    assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
    assert_eq!(l.inventory.token_count(), 5);
}

#[test]
fn modules_in_subdirectories_are_evaluated_with_their_inputs() {
    let l = load(
        &[fixture("v5")],
        &Options {
            now: now(),
            catalogue: None,
            base: Path::new(env!("CARGO_MANIFEST_DIR")),
        },
    )
    .unwrap();
    let t = token(&l, "module.ci.cloudflare_api_token.deploy");
    assert_eq!(t["condition"]["request_ip"]["in"], json!(["192.0.2.10/32"]));
    assert_eq!(t["expires_on"], "2027-06-01T00:00:00Z");
    let r = resource(&l, "module.ci.cloudflare_api_token.deploy");
    assert_eq!(
        r.file,
        "tests/fixtures/terraform/v5/modules/ci_token/main.tf"
    );
    // The module directory is not also read as a root of its own.
    assert_eq!(
        l.sources
            .resources
            .values()
            .filter(|r| r.address.ends_with("cloudflare_api_token.deploy"))
            .count(),
        1
    );
    // The account token belongs to its account.
    let acct = l
        .inventory
        .accounts
        .iter()
        .find(|a| a.id == "023e105f4ecef8ad9ca31a8372d0c353")
        .unwrap();
    assert_eq!(acct.tokens.len(), 1);
}

#[test]
fn a_catalogue_names_literal_ids_and_gives_looked_up_names_their_ids() {
    let catalogue = vec![
        json!({"id": "4755a26eedb94da69e1066d98aa820be", "name": "DNS Write"}),
        json!({"id": "e6d2666161e84845a636613608cee8d5", "name": "Zone Edit"}),
    ];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("main.tf"),
        r#"
data "cloudflare_api_token_permission_groups_list" "zw" { name = "Zone%20Write" }
resource "cloudflare_api_token" "t" {
  name = "t"
  policies = [{
    effect            = "allow"
    permission_groups = [{ id = "4755a26eedb94da69e1066d98aa820be" }, { id = data.cloudflare_api_token_permission_groups_list.zw.result[0].id }]
    resources         = jsonencode({ "com.cloudflare.api.account.*" = "*" })
  }]
}
"#,
    )
    .unwrap();
    let l = load(
        &[dir.path().to_path_buf()],
        &Options {
            now: now(),
            catalogue: Some(&catalogue),
            base: dir.path(),
        },
    )
    .unwrap();
    let t = token(&l, "cloudflare_api_token.t");
    assert_eq!(
        t["policies"][0]["permission_groups"],
        json!([
            {"id": "4755a26eedb94da69e1066d98aa820be"},
            // "Write" and the older "Edit" are the same group.
            {"id": "e6d2666161e84845a636613608cee8d5", "name": "Zone Write"}
        ])
    );
    assert!(resource(&l, "cloudflare_api_token.t")
        .unresolved_groups
        .is_empty());
    assert!(l
        .inventory
        .user
        .as_ref()
        .unwrap()
        .permission_groups
        .is_some());
}

#[test]
fn an_unknown_permission_group_makes_the_token_not_evaluated() {
    let l = load_text(&[(
        "main.tf",
        r#"
variable "group" {}
resource "cloudflare_api_token" "t" {
  name = "t"
  policies = [{
    effect            = "allow"
    permission_groups = [{ id = var.group }]
    resources         = jsonencode({ "com.cloudflare.api.account.*" = "*" })
  }]
}
"#,
    )])
    .unwrap();
    assert_eq!(l.inventory.not_evaluated.len(), 1);
    assert!(l.inventory.not_evaluated[0]
        .reason
        .contains("cloudflare_api_token.t"));
    let r = resource(&l, "cloudflare_api_token.t");
    assert_eq!(r.unresolved_groups.len(), 1);
}

#[test]
fn a_file_that_does_not_parse_is_an_error_naming_file_and_line() {
    let e = load(
        &[fixture("broken")],
        &Options {
            now: now(),
            catalogue: None,
            base: Path::new(env!("CARGO_MANIFEST_DIR")),
        },
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("tests/fixtures/terraform/broken/unparsable.tf:6:"),
        "{text}"
    );
}

#[test]
fn inline_suppressions_on_or_above_a_resource_or_attribute() {
    let l = load_text(&[(
        "main.tf",
        r#"
# tokenwarden:ignore[token-no-expiry, token-all-accounts] reason one until 2027-01-01
# an ordinary comment in between
resource "cloudflare_api_token" "t" {
  name       = "t" # tokenwarden:ignore[token-no-ip-restriction] reason two until 2026-12-01
  policies   = []
  # tokenwarden:ignore[token-lifetime-too-long] reason three until 2026-12-02
  expires_on = "2027-12-01T00:00:00Z"
}
resource "cloudflare_api_token" "u" {
  name     = "u"
  policies = []
}
"#,
    )])
    .unwrap();
    let id = l
        .sources
        .find_address("cloudflare_api_token.t")
        .unwrap()
        .to_string();
    let got: Vec<(String, usize, String)> = l
        .exemptions
        .iter()
        .map(|e| (e.rule.value.clone(), e.line, e.reason.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("token-no-expiry".into(), 2, "reason one".into()),
            ("token-all-accounts".into(), 2, "reason one".into()),
            ("token-no-ip-restriction".into(), 5, "reason two".into()),
            ("token-lifetime-too-long".into(), 7, "reason three".into()),
        ]
    );
    assert!(l
        .exemptions
        .iter()
        .all(|e| e.token == TokenMatch::Id(id.clone())));
}

#[test]
fn malformed_or_misplaced_suppressions_are_errors_with_their_line() {
    for (text, line, want) in [
        ("# tokenwarden:ignore token-no-expiry\n", 1, "malformed"),
        (
            "\n# tokenwarden:ignore[] x until 2027-01-01\n",
            2,
            "no rule id",
        ),
        ("# tokenwarden:ignore[r] until 2027-01-01\n", 1, "reason"),
        (
            "# tokenwarden:ignore[r] why until 2027-13-01\n",
            1,
            "not a date",
        ),
        (
            "# tokenwarden:ignore[r] why until 2027-01-01\ndata \"x\" \"y\" {}\n",
            1,
            "not on or above",
        ),
    ] {
        let body = format!("{text}resource \"cloudflare_api_token\" \"t\" {{\n  name = \"t\"\n  policies = []\n}}\n");
        let e = load_text(&[("main.tf", &body)]).unwrap_err();
        match &e {
            TerraformError::Config {
                line: l, message, ..
            } => {
                assert_eq!(*l, line, "{text}: {e}");
                assert!(message.contains(want), "{text}: {message}");
            }
            other => panic!("{text}: {other}"),
        }
    }
    // A marker inside a string is not a comment.
    let ok = load_text(&[(
        "main.tf",
        "resource \"cloudflare_api_token\" \"t\" {\n  name = \"# tokenwarden:ignore\"\n  policies = []\n}\n",
    )]);
    assert!(ok.is_ok());
}

#[test]
fn plans_evaluate_creates_and_updates_on_after_with_after_unknown() {
    let l = load(
        &[fixture("plan/v5.json")],
        &Options {
            now: now(),
            catalogue: None,
            base: Path::new(env!("CARGO_MANIFEST_DIR")),
        },
    )
    .unwrap();
    let mut addresses: Vec<&str> = l
        .sources
        .resources
        .values()
        .map(|r| r.address.as_str())
        .collect();
    addresses.sort_unstable();
    // delete, no-op and data-source reads are not evaluated.
    assert_eq!(
        addresses,
        [
            "cloudflare_api_token.bucket[\"logs\"]",
            "cloudflare_api_token.per_zone[\"a\"]",
            "cloudflare_api_token.rw",
            "module.ci.cloudflare_account_token.admin",
        ]
    );
    let rw = token(&l, "cloudflare_api_token.rw");
    // Named from prior_state's data source; `value`, `id` … from after_unknown are ignored.
    assert_eq!(
        rw["policies"][0]["permission_groups"][0]["name"],
        "Workers R2 Storage Write"
    );
    assert_eq!(rw["issued_on"], "2026-11-22T10:00:00Z");
    let admin = token(&l, "module.ci.cloudflare_account_token.admin");
    assert_eq!(
        admin["policies"][0]["permission_groups"][0]["name"],
        "Account API Tokens Write"
    );
    let z = resource(&l, "cloudflare_api_token.per_zone[\"a\"]");
    assert!(z.hides("token-no-expiry") && z.hides("token-no-ip-restriction"));
    assert_eq!(z.source, "plan:create");
    assert_eq!(
        resource(&l, "module.ci.cloudflare_account_token.admin").source,
        "plan:replace"
    );
}

#[test]
fn plans_must_be_format_1() {
    let e = plan::parse(r#"{"format_version": "2.0"}"#, "p.json").unwrap_err();
    assert!(e.to_string().contains("format_version"), "{e}");
    let e = plan::parse(r#"{"planned_values": {}}"#, "p.json").unwrap_err();
    assert!(e.to_string().contains("format_version"), "{e}");
    let e = plan::parse("{", "p.json").unwrap_err();
    assert!(matches!(e, TerraformError::Parse { .. }), "{e}");
}

#[test]
fn values_evaluate_functions_conditionals_and_indexing() {
    let l = load_text(&[(
        "main.tf",
        r#"
variable "on" { default = true }
locals {
  m = merge({ a = "1" }, { b = "2" })
  l = concat(["x"], ["y"])
}
resource "cloudflare_api_token" "t" {
  name = "${local.m["b"]}${local.l[1]}${var.on ? "yes" : "no"}${lookup(local.m, "z", "d")}"
  policies = []
}
"#,
    )])
    .unwrap();
    assert_eq!(token(&l, "cloudflare_api_token.t")["name"], "2yyesd");
    assert!(Value::Unknown("x".into()).is_unknown());
}

#[test]
fn dynamic_policy_blocks_expand_or_make_the_token_not_evaluated() {
    let l = load_text(&[(
        "main.tf",
        r#"
data "cloudflare_api_token_permission_groups" "all" {}
variable "more" {}
resource "cloudflare_api_token" "known" {
  name = "known"
  dynamic "policy" {
    for_each = { "DNS Write" = "com.cloudflare.api.account.zone.*", "Zone Read" = "com.cloudflare.api.account.zone.abc" }
    iterator = p
    content {
      permission_groups = [data.cloudflare_api_token_permission_groups.all.zone[p.key]]
      resources         = { (p.value) = "*" }
    }
  }
}
resource "cloudflare_api_token" "unknown" {
  name = "unknown"
  dynamic "policy" {
    for_each = var.more
    content {
      permission_groups = [policy.value]
      resources         = { "com.cloudflare.api.account.*" = "*" }
    }
  }
}
resource "cloudflare_api_token" "for_expr" {
  name     = "for_expr"
  policies = [for g in var.more : { effect = "allow", permission_groups = [{ id = g }], resources = "{}" }]
}
"#,
    )])
    .unwrap();
    let t = token(&l, "cloudflare_api_token.known");
    assert_eq!(
        t["policies"][0]["permission_groups"][0]["name"],
        "DNS Write"
    );
    assert_eq!(
        t["policies"][0]["resources"],
        json!({"com.cloudflare.api.account.zone.*": "*"})
    );
    assert_eq!(
        t["policies"][1]["permission_groups"][0]["name"],
        "Zone Read"
    );
    // What an unknown dynamic block or `for` expression grants is unknown: never clean.
    let reasons: Vec<&str> = l
        .inventory
        .not_evaluated
        .iter()
        .map(|n| n.reason.as_str())
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].starts_with("cloudflare_api_token.unknown ")
            || reasons[1].starts_with("cloudflare_api_token.unknown ")
    );
    assert!(reasons
        .iter()
        .all(|r| r.contains("policies are not known until apply")));
}
