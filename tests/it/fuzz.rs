//! Issue 12's fuzz-style test: a seeded mutation corpus over the snapshot reader (and the
//! whole scan behind it) and the governance-policy parser. Thousands of mutated inputs,
//! each run in-process through the library: nothing panics, and no token is silently
//! dropped — every token of an accepted snapshot is evaluated (it is in the inventory the
//! scan evaluates) or listed as not evaluated with its JSON path. The seed is fixed, so a
//! failure names the case and reproduces.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use serde_json::{json, Map, Value};
use tokenwarden::engine::{Backend, Evaluator, RuleSet};
use tokenwarden::finding::FailOn;
use tokenwarden::inventory::Inventory;
use tokenwarden::policy::GovernancePolicy;
use tokenwarden::scan::{self, ScanRequest};
use tokenwarden::scope::Scope;

use crate::support::*;

const SEED: u64 = 0x7012_2026_0012;

/// Strings that have broken parsers before: hostile ids, odd statuses, effects, dates,
/// CIDRs, control characters.
const STRINGS: &[&str] = &[
    "",
    " ",
    "t1",
    "/../../../../tmp/pwned",
    "a/b",
    "a%2Fb",
    "a\nb",
    "a\0b",
    "ed17574386854bf78a67040be0a770b0",
    "ED17574386854BF78A67040BE0A770B0",
    "023e105f4ecef8ad9ca31a8372d0c353",
    "active",
    "disabled",
    "expired",
    "revoked",
    "allow",
    "deny",
    "permit",
    "*",
    "com.cloudflare.api.account.*",
    "com.cloudflare.api.account.zone.*",
    "2026-11-22T10:00:00Z",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "next tuesday",
    "0.0.0.0/0",
    "::/0",
    "10.0.0.0/255.0.0.0",
    "300.1.1.1/8",
    "\u{1b}[2J",
    "\u{202e}txt",
    "API Tokens Write",
    "DNS Edit",
];

fn random_value(rng: &mut fastrand::Rng, depth: u32) -> Value {
    let kinds = if depth >= 2 { 8 } else { 10 };
    match rng.u8(0..kinds) {
        0 => Value::Null,
        1 => json!(rng.bool()),
        2 => json!([0i64, -1, 1, i64::MAX, i64::MIN, 32, 129][rng.usize(0..7)]),
        3 => json!([0.5f64, -0.0, 1e308, -1e308, 36500.5][rng.usize(0..5)]),
        4..=6 => json!(STRINGS[rng.usize(0..STRINGS.len())]),
        7 => json!(format!("{:032x}", rng.u128(..))),
        8 => Value::Array(
            (0..rng.usize(0..4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.usize(0..4) {
                let k = STRINGS[rng.usize(0..STRINGS.len())].to_string();
                m.insert(k, random_value(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every path in `v`, the root included.
fn paths(v: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                here.push(Step::Key(k.clone()));
                paths(child, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                here.push(Step::Index(i));
                paths(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn at<'v>(v: &'v mut Value, path: &[Step]) -> &'v mut Value {
    path.iter().fold(v, |v, step| match step {
        Step::Key(k) => &mut v[k.as_str()],
        Step::Index(i) => &mut v[*i],
    })
}

/// One structural mutation at a random node: replace it, delete it, duplicate it in its
/// list, or put a random member into it.
fn mutate(doc: &mut Value, rng: &mut fastrand::Rng) {
    let mut all = Vec::new();
    paths(doc, &mut Vec::new(), &mut all);
    // Never the root itself: a snapshot that is not an object is a trivial refusal.
    let path = all[rng.usize(1..all.len().max(2)).min(all.len() - 1)].clone();
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let op = rng.u8(0..5);
    let parent = at(doc, parent_path);
    match (op, last, parent) {
        (0, Step::Key(k), Value::Object(m)) => {
            m.remove(k);
        }
        (0, Step::Index(i), Value::Array(a)) => {
            a.remove(*i);
        }
        (1, Step::Index(i), Value::Array(a)) => {
            let copy = a[*i].clone();
            a.insert(*i, copy);
        }
        (2, step, parent) => {
            let node = match step {
                Step::Key(k) => &mut parent[k.as_str()],
                Step::Index(i) => &mut parent[*i],
            };
            match node {
                Value::Object(m) => {
                    let k = STRINGS[rng.usize(0..STRINGS.len())].to_string();
                    m.insert(k, random_value(rng, 1));
                }
                Value::Array(a) => a.push(random_value(rng, 1)),
                other => *other = random_value(rng, 1),
            }
        }
        (_, step, parent) => {
            let node = match step {
                Step::Key(k) => &mut parent[k.as_str()],
                Step::Index(i) => &mut parent[*i],
            };
            *node = random_value(rng, 0);
        }
    }
}

/// The JSON path of every token in a snapshot document, as the reader names them, with
/// the owner's id (`None` for the user).
fn token_paths(doc: &Value) -> Vec<(String, Option<Value>, Value)> {
    let mut out = Vec::new();
    if let Some(tokens) = doc["user"]["tokens"].as_array() {
        for (i, t) in tokens.iter().enumerate() {
            out.push((format!("user.tokens[{i}]"), None, t["id"].clone()));
        }
    }
    if let Some(accounts) = doc["accounts"].as_array() {
        for (k, a) in accounts.iter().enumerate() {
            if let Some(tokens) = a["tokens"].as_array() {
                for (j, t) in tokens.iter().enumerate() {
                    out.push((
                        format!("accounts[{k}].tokens[{j}]"),
                        Some(a["id"].clone()),
                        t["id"].clone(),
                    ));
                }
            }
        }
    }
    out
}

/// A small snapshot with one of everything: both owners, catalogues, nested resources,
/// conditions, deny policies.
fn small_seed() -> Value {
    json!({
        "format": "tokenwarden-snapshot/v1",
        "scanner_token_id": "ed17574386854bf78a67040be0a770b0",
        "user": {"tokens": [
            {"id": "ed17574386854bf78a67040be0a770b0", "name": "scanner", "status": "active",
             "issued_on": "2026-01-01T00:00:00Z", "modified_on": "2026-01-01T00:00:00Z",
             "expires_on": "2027-01-01T00:00:00Z",
             "condition": {"request_ip": {"in": ["203.0.113.0/24"], "not_in": ["203.0.113.7"]}},
             "policies": [{"id": "p", "effect": "allow",
                           "permission_groups": [{"id": "82e64a83756745bbbb1c9c2701bf816b", "name": "API Tokens Read"}],
                           "resources": {"com.cloudflare.api.user.6d7f2f5f5b1d4a0e9081fdc98d432fd1": "*"}}]},
            {"id": "a1b2c3d4e5f60718293a4b5c6d7e8f90", "name": "minter", "status": "disabled",
             "issued_on": "2025-01-01T00:00:00Z", "last_used_on": "2025-06-01T00:00:00Z",
             "policies": [{"id": "p", "effect": "allow",
                           "permission_groups": [{"id": "4755a26eedb94da69e1066d98aa820be"}],
                           "resources": {"com.cloudflare.api.account.023e105f4ecef8ad9ca31a8372d0c353":
                                         {"com.cloudflare.api.account.zone.*": "*"}}},
                          {"id": "q", "effect": "deny", "permission_groups": [], "resources": {}}]}
        ],
        "permission_groups": [{"id": "82e64a83756745bbbb1c9c2701bf816b", "name": "API Tokens Read", "scopes": ["com.cloudflare.api.user"]}]},
        "accounts": [{"id": "023e105f4ecef8ad9ca31a8372d0c353", "name": "A", "tokens": [
            {"id": "aaaa0000000000000000000000000001", "name": "a", "status": "expired",
             "issued_on": "2026-01-01T00:00:00Z", "expires_on": "2026-02-01T00:00:00Z",
             "policies": [{"id": "p", "effect": "allow",
                           "permission_groups": [{"id": "c8fed203ed3043cba015a93ad1616f1f", "name": "Zone Read"}],
                           "resources": {"com.cloudflare.api.account.*": "*"}}]}
        ]}],
        "not_evaluated": [{"scope": "accounts/5a6e1d2c3b4f40718293a4b5c6d7e8f9/tokens", "reason": "403"}]
    })
}

#[test]
fn mutated_snapshots_never_panic_and_never_drop_a_token() {
    let policy = GovernancePolicy::builtin().unwrap();
    let rules = RuleSet::builtin().unwrap();
    let evaluator =
        Evaluator::with_backend(&rules, &policy.config_data(), &[], Backend::Vm).unwrap();
    let req = ScanRequest {
        evaluator: &evaluator,
        policy: &policy,
        fail_on: FailOn::High,
        now: now(),
        scope: Scope::All,
        accounts: &[],
        baseline: None,
        terraform: None,
    };
    let example: Value =
        serde_json::from_str(&std::fs::read_to_string(example_snapshot()).unwrap()).unwrap();
    let seeds = [small_seed(), example];
    let mut rng = fastrand::Rng::with_seed(SEED);
    let (mut accepted, mut refused, mut set_aside) = (0, 0, 0);
    for case in 0..3000 {
        // Mostly the small seed: it keeps each case fast and every mutation near a token.
        let mut doc = seeds[usize::from(case % 50 == 0)].clone();
        for _ in 0..rng.usize(1..4) {
            mutate(&mut doc, &mut rng);
        }
        let text = if rng.u8(0..20) == 0 {
            // Now and then a cut or a byte flipped in the text itself.
            let mut t = doc.to_string().into_bytes();
            let i = rng.usize(0..t.len());
            if rng.bool() {
                t.truncate(i);
            } else {
                t[i] = rng.u8(..);
            }
            String::from_utf8_lossy(&t).into_owned()
        } else {
            doc.to_string()
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let Ok(inventory) = Inventory::from_json(&text, Path::new("fuzz.json")) else {
                return None;
            };
            let report = scan::scan(&inventory, &req);
            Some((inventory, report))
        }));
        let Ok(outcome) = outcome else {
            panic!("case {case} panicked on:\n{text}");
        };
        let Some((inventory, report)) = outcome else {
            refused += 1;
            continue;
        };
        accepted += 1;
        assert_eq!(
            report.tokens_scanned,
            inventory.token_count(),
            "case {case}"
        );
        // What the reader was given (a flipped byte may have renamed a key).
        let doc: Value = serde_json::from_str(&text).unwrap();
        // Every token of the input is in the inventory (so evaluated, or listed by the
        // scan as not evaluated) or named by a not-evaluated entry of its own.
        let owners = inventory.owners();
        for (path, owner, id) in token_paths(&doc) {
            let id = id.as_str().unwrap_or_default();
            let kept = owners.iter().any(|o| {
                let same_owner = match &owner {
                    None => o.owner.account_id().is_none(),
                    Some(a) => a.as_str() == o.owner.account_id(),
                };
                same_owner && o.tokens.iter().any(|t| t.id() == id)
            });
            let account = path.split(".tokens").next().unwrap_or_default();
            let named = report.not_evaluated.iter().any(|n| {
                n.reason.contains(&format!("{path}.id"))
                    || n.reason.contains(&format!("{account}.id"))
            });
            if !kept {
                set_aside += 1;
            }
            assert!(
                kept || named,
                "case {case}: {path} ({id:?}) was dropped silently:\n{text}\n{:?}",
                report.not_evaluated
            );
        }
    }
    // The corpus exercises both sides.
    assert!(
        accepted > 1000 && refused > 100 && set_aside > 20,
        "{accepted} {refused} {set_aside}"
    );
}

#[test]
fn mutated_policies_never_panic_and_accepted_values_are_in_range() {
    let texts: Vec<String> = ["default", "strict", "example"]
        .iter()
        .map(|n| std::fs::read_to_string(root().join(format!("policies/{n}.toml"))).unwrap())
        .collect();
    let values = [
        "-1",
        "0",
        "33",
        "129",
        "10001",
        "36501",
        "1e308",
        "nan",
        "inf",
        "-inf",
        "9223372036854775808",
        "0x7fffffffffffffff",
        "1.5",
        "\"x\"",
        "[]",
        "{}",
        "2027-01-31",
        "true",
        "\"\"",
        "[\"a\", 1]",
    ];
    let mut rng = fastrand::Rng::with_seed(SEED);
    let builtin = GovernancePolicy::builtin().unwrap();
    let (mut accepted, mut refused) = (0, 0);
    for case in 0..3000 {
        let mut lines: Vec<String> = texts[case % texts.len()]
            .lines()
            .map(str::to_string)
            .collect();
        for _ in 0..rng.usize(1..4) {
            let i = rng.usize(0..lines.len());
            match rng.u8(0..4) {
                0 => {
                    lines.remove(i);
                }
                1 => {
                    let copy = lines[i].clone();
                    lines.insert(i, copy);
                }
                2 => {
                    let l = lines[i].clone();
                    let j = rng.usize(0..=l.len());
                    let cut: String = l.chars().take(j).collect();
                    lines[i] = cut;
                }
                _ => {
                    if let Some((key, _)) = lines[i].clone().split_once('=') {
                        lines[i] = format!("{key}= {}", values[rng.usize(0..values.len())]);
                    }
                }
            }
            if lines.is_empty() {
                lines.push(String::new());
            }
        }
        let text = lines.join("\n");
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let p = GovernancePolicy::parse(&text, "fuzz.toml", Some(builtin.clone()))?;
            p.check_exemption_horizon(now())?;
            let _ = p.config_data();
            Ok::<_, tokenwarden::policy::PolicyError>(p)
        }));
        let Ok(outcome) = outcome else {
            panic!("case {case} panicked on:\n{text}");
        };
        match outcome {
            Err(_) => refused += 1,
            Ok(p) => {
                accepted += 1;
                let t = &p.thresholds;
                for d in [
                    t.max_lifetime_days,
                    t.expiry_warning_days,
                    t.max_secret_age_days,
                    t.max_unused_days,
                    t.lingering_days,
                ] {
                    assert!((0.0..=36500.0).contains(&d), "case {case}: {d}\n{text}");
                }
                assert!(
                    t.min_ipv4_prefix <= 32 && t.min_ipv6_prefix <= 128,
                    "case {case}"
                );
                assert!(t.max_permission_groups <= 10_000, "case {case}");
                assert!(p.remediation.max_actions <= 10_000, "case {case}");
                assert!(
                    (1..=3650).contains(&p.limits.max_exemption_days),
                    "case {case}"
                );
            }
        }
    }
    assert!(accepted > 300 && refused > 300, "{accepted} {refused}");
}
