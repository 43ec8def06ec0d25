//! `scan`, `snapshot`, `explain` and `permission-groups` against the stateful Cloudflare
//! emulator, through the real binary: every page of every owner, the same findings live and
//! from a snapshot, forbidden scopes reported as not evaluated, credentials, and secrets
//! that never reach any output.

use std::collections::BTreeSet;

use chrono::Duration;
use serde_json::Value;

use crate::support::*;
use tokenwarden_emulator::{
    token_json, Emulator, Fault, FaultKind, TokenPolicy, World, USER_API_KEY, USER_EMAIL,
};

const ACC_A: &str = "023e105f4ecef8ad9ca31a8372d0c353";
const ACC_B: &str = "5a6e1d2c3b4f40718293a4b5c6d7e8f9";
const ACC_LOCKED: &str = "9f8e7d6c5b4a49382716f5e4d3c2b1a0";
const SCANNER: &str = "ed17574386854bf78a67040be0a770b0";
const SCANNER_SECRET: &str = "cfut_scanner0secret0value0do0not0print0";

fn id(prefix: &str, n: usize) -> String {
    format!("{prefix}{n:0>width$}", width = 32 - prefix.len())
}

fn secret(token_id: &str) -> String {
    format!("cfut_secret_{token_id}")
}

/// A user with `user_tokens` tokens, account A with `a_tokens`, account B with 3 and a
/// locked account the scanner may list but not read. Token k is a mix of good and bad.
fn world(user_tokens: usize, a_tokens: usize) -> World {
    let mut w = World::new(now());
    w.add_account(ACC_A, "Example Inc.")
        .add_account(ACC_B, "Other Corp")
        .add_account(ACC_LOCKED, "Locked Ltd")
        .forbid_account(ACC_LOCKED)
        .add_scanner_user_token(SCANNER, SCANNER_SECRET, &[ACC_A, ACC_B]);
    let token = |tid: &str, k: usize, account: Option<&str>| {
        let mut b =
            token_json(tid, &format!("token-{k}")).issued(now() - Duration::days(10 + k as i64));
        if !k.is_multiple_of(3) {
            b = b
                .expires_on(now() + Duration::days(30))
                .ip_in(&["203.0.113.0/24"]);
        }
        if k.is_multiple_of(7) {
            // Expired: only listed with include_expired=true.
            b = b.expires_on(now() - Duration::days(40)).status("expired");
        }
        let policy = match account {
            Some(a) => TokenPolicy::allow(&["Zone Read"]).on_account_zones(a),
            None => TokenPolicy::allow(&["Zone Read"]).on_all_zones(),
        };
        b.last_used_on(now() - Duration::days(1))
            .policy(policy)
            .build()
    };
    for k in 0..user_tokens {
        let tid = id("1", k);
        w.add_user_token(token(&tid, k, None), &secret(&tid));
    }
    for k in 0..a_tokens {
        let tid = id("a", k);
        w.add_account_token(ACC_A, token(&tid, k, Some(ACC_A)), &secret(&tid));
    }
    for k in 0..3 {
        let tid = id("b", k);
        w.add_account_token(ACC_B, token(&tid, k, Some(ACC_B)), &secret(&tid));
    }
    w
}

/// The binary against `emu`, as the scanner.
fn live(emu: &Emulator) -> Tw {
    tw().emulator(emu, SCANNER_SECRET)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_live_scan_reads_every_page_of_every_readable_owner() {
    let emu = Emulator::start(world(49, 120));
    let Output {
        code,
        stdout,
        stderr,
    } = live(&emu).args(["scan", "--format", "json"]).run();
    assert_eq!(code, 3, "the locked account is not evaluated: {stderr}");
    let v = json(&stdout);
    // 49 user tokens + the scanner, 120 in A, 3 in B: expired ones included.
    assert_eq!(v["summary"]["tokens_scanned"], 49 + 1 + 120 + 3);
    assert_eq!(v["summary"]["owners_scanned"], 3);
    let token_pages: Vec<_> = emu
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/tokens"))
        .collect();
    for r in &token_pages {
        let q = r.query.clone().unwrap_or_default();
        assert!(
            q.contains("per_page=50") && q.contains("include_expired=true"),
            "{q}"
        );
    }
    let a_pages = token_pages
        .iter()
        .filter(|r| r.path == format!("/accounts/{ACC_A}/tokens"))
        .count();
    assert_eq!(a_pages, 3, "120 tokens at 50 a page");
    let user_pages = token_pages
        .iter()
        .filter(|r| r.path == "/user/tokens")
        .count();
    assert_eq!(
        user_pages, 1,
        "50 tokens: one full page and total_count says it is the last"
    );
    assert!(
        emu.requests().iter().all(|r| !r.path.contains("/tokens/")
            || r.path.ends_with("permission_groups")
            || r.path.ends_with("verify")),
        "no per-token GETs during a scan"
    );
    assert_eq!(emu.write_requests(), 0);
}

#[test]
fn a_forbidden_account_is_not_evaluated_in_every_format_and_the_rest_completes() {
    let emu = Emulator::start(world(3, 3));
    for format in ["table", "json", "sarif", "markdown"] {
        let Output {
            code,
            stdout,
            stderr,
        } = live(&emu)
            .args(["scan", "--format", format, "--fail-on", "never"])
            .run();
        assert_eq!(code, 3, "{format}: {stderr}");
        let scope = format!("accounts/{ACC_LOCKED}/tokens");
        assert!(
            stdout.contains(&scope),
            "{format} does not name {scope}:\n{stdout}"
        );
        assert!(stdout.contains("403"), "{format} does not say why");
        assert!(stderr.contains(&scope), "stderr warns too");
    }
    let out = live(&emu).args(["scan", "--format", "json"]).run().stdout;
    let v = json(&out);
    let owners: BTreeSet<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["owner"]["id"].as_str())
        .collect();
    assert!(
        owners.contains(ACC_A) && owners.contains(ACC_B),
        "{owners:?}"
    );
}

#[test]
fn a_snapshot_scan_gives_exactly_the_live_findings() {
    let emu = Emulator::start(world(12, 60));
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("inventory.json");
    let Output { code, stderr, .. } = live(&emu)
        .args(["snapshot", "--output", snap.to_str().unwrap()])
        .run();
    assert_eq!(
        code, 3,
        "the locked account is recorded as not collected: {stderr}"
    );
    for format in ["json", "sarif", "table", "markdown"] {
        let Output {
            code: lc,
            stdout: live_out,
            ..
        } = live(&emu).args(["scan", "--format", format]).run();
        let Output { code, stdout, .. } = live(&emu)
            .args([
                "scan",
                "--format",
                format,
                "--snapshot",
                snap.to_str().unwrap(),
            ])
            .run();
        assert_eq!(lc, code);
        assert_eq!(
            live_out, stdout,
            "{format} differs between live and snapshot"
        );
    }
    let text = std::fs::read_to_string(&snap).unwrap();
    let v = json(&text);
    assert_eq!(v["format"], "tokenwarden-snapshot/v1");
    // The collection time is the run's --now, not the machine's clock (issue 10).
    assert_eq!(v["collected_at"], NOW);
    assert_eq!(v["scanner_token_id"], SCANNER);
    assert!(v["user"]["permission_groups"].as_array().unwrap().len() > 10);
}

#[test]
fn no_secret_reaches_any_output_or_the_snapshot() {
    let emu = Emulator::start(world(5, 5));
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.json");
    let sarif = dir.path().join("s.sarif");
    let mut outputs = Vec::new();
    for format in ["table", "json", "sarif", "markdown"] {
        let Output { stdout, stderr, .. } = live(&emu)
            .args([
                "-vv",
                "scan",
                "--format",
                format,
                "--sarif",
                sarif.to_str().unwrap(),
            ])
            .run();
        outputs.push(stdout);
        outputs.push(stderr);
        outputs.push(std::fs::read_to_string(&sarif).unwrap());
    }
    let Output { stdout, stderr, .. } = live(&emu)
        .args(["-v", "snapshot", "--output", snap.to_str().unwrap()])
        .run();
    outputs.extend([stdout, stderr, std::fs::read_to_string(&snap).unwrap()]);
    let Output { stdout, stderr, .. } = live(&emu)
        .args(["explain", SCANNER, "--format", "json"])
        .run();
    outputs.extend([stdout, stderr]);
    let secrets: Vec<String> = emu.with_world(|w| {
        let mut s: Vec<String> = w.user_tokens.values().map(|t| t.secret.clone()).collect();
        for a in w.accounts.values() {
            s.extend(a.tokens.values().map(|t| t.secret.clone()));
        }
        s
    });
    assert!(secrets.contains(&SCANNER_SECRET.to_string()));
    for o in &outputs {
        for s in &secrets {
            assert!(!o.contains(s.as_str()), "a secret leaked into output:\n{o}");
        }
    }
}

#[test]
fn an_invalid_credential_is_exit_3_with_every_scope_not_evaluated() {
    let emu = Emulator::start(world(2, 2));
    let out = tw()
        .emulator(&emu, "cfut_not_a_real_token_at_all_00000000000")
        .args(["scan", "--format", "json"])
        .code(3)
        .run();
    let v = out.json();
    let scopes: Vec<&str> = v["not_evaluated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, vec!["accounts", "user/tokens"]);
    assert!(!out.stdout.contains("cfut_not_a_real_token"));
    assert_eq!(v["summary"]["tokens_scanned"], 0);
}

#[test]
fn the_legacy_global_key_and_a_token_file_work() {
    let emu = Emulator::start(world(2, 2));
    let out = tw()
        .api_base(&emu)
        .env("CLOUDFLARE_EMAIL", USER_EMAIL)
        .env("CLOUDFLARE_API_KEY", USER_API_KEY)
        .args(["scan", "--format", "json", "--scope", "user"])
        .code(1)
        .run();
    let v = out.json();
    assert_eq!(v["summary"]["tokens_scanned"], 3);
    assert!(!out.stdout.contains(USER_API_KEY) && !out.stderr.contains(USER_API_KEY));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{SCANNER_SECRET}\n")).unwrap();
    tw().api_base(&emu)
        .args(["scan", "--scope", "user", "--api-token-file"])
        .arg(&file)
        .args(["--format", "json"])
        .code(1)
        .run();
}

#[test]
fn scope_and_account_narrow_what_is_requested() {
    let emu = Emulator::start(world(2, 2));
    let Output { code, stdout, .. } = live(&emu)
        .args([
            "scan",
            "--format",
            "json",
            "--scope",
            "user",
            "--fail-on",
            "never",
        ])
        .run();
    assert_eq!(code, 0);
    assert!(json(&stdout)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["owner"]["kind"] == "user"));
    assert!(
        emu.requests()
            .iter()
            .all(|r| !r.path.starts_with("/accounts")),
        "user scope reads no account"
    );
    emu.clear_requests();
    let Output { code, stdout, .. } = live(&emu)
        .args([
            "scan",
            "--format",
            "json",
            "--scope",
            "accounts",
            "--account",
            ACC_B,
            "--fail-on",
            "never",
        ])
        .run();
    assert_eq!(code, 0);
    let v = json(&stdout);
    assert_eq!(v["summary"]["tokens_scanned"], 3);
    assert!(emu
        .requests()
        .iter()
        .all(|r| !r.path.starts_with("/user/tokens") || r.path.ends_with("verify")));
    assert!(emu
        .requests()
        .iter()
        .all(|r| !r.path.starts_with(&format!("/accounts/{ACC_A}"))));
}

#[test]
fn the_scanner_token_is_identified_and_live_catalogues_are_used() {
    let mut w = world(1, 1);
    w.add_user_token(
        token_json(&id("c", 0), "mystery-group")
            .issued(now() - Duration::days(5))
            .expires_on(now() + Duration::days(20))
            .ip_in(&["203.0.113.9"])
            .policy(
                TokenPolicy::allow(&[])
                    .group("ffffffffffffffffffffffffffffffff", "Retired Thing Read")
                    .on_all_zones(),
            )
            .build(),
        "cfut_mystery",
    );
    w.validate_ip_conditions = true;
    let emu = Emulator::start(w);
    let Output {
        code,
        stdout,
        stderr,
    } = live(&emu)
        .args(["explain", SCANNER, "--format", "json"])
        .run();
    assert_eq!(code, 0, "{stderr}");
    let v = json(&stdout);
    assert_eq!(v["input"]["facts"]["is_scanner"], true);
    let out = live(&emu)
        .args(["scan", "--format", "json", "--scope", "user"])
        .run()
        .stdout;
    let v = json(&out);
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule_id"] == "token-unknown-permission-group"
            && f["token_name"] == "mystery-group"));
    let Output { code, stdout, .. } = live(&emu)
        .args(["permission-groups", "--account", ACC_A])
        .run();
    assert_eq!(code, 0);
    assert!(stdout.contains("Account API Tokens Read"));
}

#[test]
fn a_broken_page_fails_only_its_scope_naming_endpoint_and_page() {
    let emu = Emulator::start(world(2, 120));
    emu.inject(
        Fault::on(
            "GET",
            &format!("/accounts/{ACC_A}/tokens"),
            FaultKind::NonJson,
        )
        .exact()
        .nth(2),
    );
    let Output { code, stdout, .. } = live(&emu).args(["scan", "--format", "json"]).run();
    assert_eq!(code, 3);
    let v = json(&stdout);
    let ne = v["not_evaluated"].as_array().unwrap();
    let a = ne
        .iter()
        .find(|n| n["scope"] == format!("accounts/{ACC_A}/tokens"))
        .unwrap();
    let reason = a["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("/accounts/{ACC_A}/tokens"))
            // Pages after the first are fetched concurrently: the second request the
            // server sees may be page 2 or page 3.
            && (reason.contains("(page 2)") || reason.contains("(page 3)"))
            && reason.contains("not JSON"),
        "{reason}"
    );
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["owner"]["id"] == ACC_B),
        "other scopes complete"
    );

    let emu = Emulator::start(world(2, 2));
    emu.inject(
        Fault::on(
            "GET",
            &format!("/accounts/{ACC_B}/tokens"),
            FaultKind::RepeatPage,
        )
        .exact(),
    );
    emu.inject(Fault::on("GET", "/user/tokens", FaultKind::EndlessPages).exact());
    emu.with_world(|w| {
        for k in 0..60 {
            let tid = id("d", k);
            w.add_account_token(
                ACC_B,
                token_json(&tid, "x")
                    .issued(now())
                    .policy(TokenPolicy::allow(&["Zone Read"]).on_account_zones(ACC_B))
                    .build(),
                &secret(&tid),
            );
        }
    });
    let Output { code, stdout, .. } = live(&emu).args(["scan", "--format", "json"]).run();
    assert_eq!(code, 3);
    let v = json(&stdout);
    let reasons: Vec<String> = v["not_evaluated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| format!("{}: {}", n["scope"], n["reason"]))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains(&format!("accounts/{ACC_B}/tokens")) && r.contains("pagination")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("user/tokens") && r.contains("pagination")),
        "{reasons:?}"
    );
}
