//! `tokenwarden doctor` against the emulator (issue 4): a fully scoped credential is ready
//! (exit 0); one lacking account access is not (exit 3, naming the permission and the
//! account, with a link); invalid credentials, account-owned tokens, the legacy key, the
//! write permissions remediation needs — and never the secret in any output.

use chrono::Duration;
use serde_json::Value;

use crate::support::*;
use tokenwarden_emulator::{
    token_json, Emulator, TokenPolicy, World, USER_API_KEY, USER_EMAIL, USER_ID,
};

const ACC_A: &str = "023e105f4ecef8ad9ca31a8372d0c353";
const ACC_B: &str = "5a6e1d2c3b4f40718293a4b5c6d7e8f9";
const SCANNER: &str = "ed17574386854bf78a67040be0a770b0";
const SECRET: &str = "cfut_doctor0scanner0secret0do0not0print";

fn base_world() -> World {
    let mut w = World::new(now());
    w.add_account(ACC_A, "Example Inc.")
        .add_account(ACC_B, "Other Corp");
    w
}

/// A well-made scanner token: expiring in 60 days, IP-restricted, read on the user and
/// on every account.
fn full_scanner() -> Value {
    token_json(SCANNER, "tokenwarden-scanner")
        .issued(now() - Duration::days(30))
        .expires_on(now() + Duration::days(60))
        .ip_in(&["198.51.100.0/24"])
        .policy(TokenPolicy::allow(&["API Tokens Read"]).on_user(USER_ID))
        .policy(TokenPolicy::allow(&["Account API Tokens Read"]).on_all_accounts())
        .build()
}

/// `doctor` against `emu` with the API token `secret` (or none), checking that no secret
/// is printed.
fn doctor(emu: &Emulator, secret: Option<&str>, args: &[&str]) -> Output {
    let cmd = match secret {
        Some(s) => tw().emulator(emu, s),
        None => tw().api_base(emu),
    };
    let out = cmd.arg("doctor").args(args).run();
    let (o, e) = (&out.stdout, &out.stderr);
    for s in [SECRET, "cfat_account0scanner0secret", USER_API_KEY] {
        assert!(
            !o.contains(s) && !e.contains(s),
            "a secret was printed:\n{o}\n{e}"
        );
    }
    out
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn check<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}: {v}"))
}

#[test]
fn a_fully_scoped_read_only_token_is_ready() {
    let mut w = base_world();
    w.add_user_token(full_scanner(), SECRET);
    let emu = Emulator::start(w);
    let Output {
        code,
        stdout: out,
        stderr: err,
    } = doctor(&emu, Some(SECRET), &["--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let v = json(&out);
    assert_eq!(v["scan_ready"], true);
    assert_eq!(v["token_id"], SCANNER);
    assert_eq!(v["token_owner"], "user");
    assert_eq!(check(&v, "verify")["status"], "ok");
    assert_eq!(check(&v, "expiry")["status"], "ok");
    assert!(check(&v, "expiry")["detail"]
        .as_str()
        .unwrap()
        .contains("in 60.0 days"));
    assert_eq!(
        check(&v, "ip-condition")["detail"],
        "restricted to 198.51.100.0/24"
    );
    for scope in [
        "scope user/tokens",
        &format!("scope accounts/{ACC_A}/tokens"),
        &format!("scope accounts/{ACC_B}/tokens"),
    ] {
        assert_eq!(check(&v, scope)["status"], "ok", "{scope}");
    }
    for catalogue in ["catalogue user", &format!("catalogue accounts/{ACC_A}")] {
        assert_eq!(check(&v, catalogue)["status"], "ok", "{catalogue}");
    }
    // Read-only is right for a scanner: remediation is reported, not required.
    assert_eq!(v["remediation_ready"], false);
    assert_eq!(check(&v, "write user/tokens")["status"], "missing");
    assert!(check(&v, "write user/tokens")["hint"]
        .as_str()
        .unwrap()
        .contains("should stay read-only"));
    assert_eq!(emu.write_requests(), 0, "doctor only reads");

    let Output {
        code,
        stdout: table,
        ..
    } = doctor(&emu, Some(SECRET), &[]);
    assert_eq!(code, 0);
    assert!(table.contains("Scan: ready"), "{table}");
    assert!(
        table.contains("Remediation: missing write permissions (only needed to remediate)"),
        "{table}"
    );
    assert!(table.contains("  note     write user/tokens"), "{table}");

    // Requiring remediation makes the missing write permissions fail the check.
    let Output {
        code,
        stdout: table,
        ..
    } = doctor(&emu, Some(SECRET), &["--remediation"]);
    assert_eq!(code, 3, "{table}");
    assert!(table.contains("MISSING  write user/tokens"), "{table}");
    assert!(
        table.contains("\"API Tokens Write\" is not granted on the user"),
        "{table}"
    );
}

#[test]
fn a_credential_lacking_account_access_is_exit_3_with_a_fix() {
    let mut w = base_world();
    // Reads user tokens and account A's; sees account B (Zone Read there) but cannot
    // read its tokens. No expiry, no IP restriction.
    let token = token_json(SCANNER, "half-scanner")
        .issued(now() - Duration::days(3))
        .policy(TokenPolicy::allow(&["API Tokens Read"]).on_user(USER_ID))
        .policy(TokenPolicy::allow(&["Account API Tokens Read"]).on_account(ACC_A))
        .policy(TokenPolicy::allow(&["Zone Read"]).on_account(ACC_B))
        .build();
    w.add_user_token(token, SECRET);
    let emu = Emulator::start(w);
    let Output {
        code, stdout: out, ..
    } = doctor(&emu, Some(SECRET), &["--format", "json"]);
    assert_eq!(code, 3, "{out}");
    let v = json(&out);
    assert_eq!(v["scan_ready"], false);
    assert_eq!(
        check(&v, &format!("scope accounts/{ACC_A}/tokens"))["status"],
        "ok"
    );
    let b = check(&v, &format!("scope accounts/{ACC_B}/tokens"));
    assert_eq!(b["status"], "missing");
    assert_eq!(b["needed_for"], "scan");
    let hint = b["hint"].as_str().unwrap();
    assert!(
        hint.contains(
            "\"Account API Tokens Read\" on account Other Corp (5a6e1d2c3b4f40718293a4b5c6d7e8f9)"
        ) && hint.contains("https://dash.cloudflare.com/profile/api-tokens"),
        "{hint}"
    );
    assert_eq!(check(&v, "expiry")["status"], "warn");
    assert_eq!(
        check(&v, "expiry")["detail"],
        "the scanner token never expires"
    );
    assert_eq!(check(&v, "ip-condition")["status"], "warn");

    let Output {
        code,
        stdout: table,
        ..
    } = doctor(&emu, Some(SECRET), &[]);
    assert_eq!(code, 3);
    assert!(
        table.contains(&format!("MISSING  scope accounts/{ACC_B}/tokens")),
        "{table}"
    );
    assert!(table.contains("Scan: NOT READY"), "{table}");
    assert!(table.contains("Create or edit a correctly scoped token at https://dash.cloudflare.com/profile/api-tokens"), "{table}");

    // Scanning only what the token can read is ready.
    let Output { code, stdout, .. } = doctor(&emu, Some(SECRET), &["--account", ACC_A]);
    assert_eq!(code, 0, "{stdout}");
    // And a scan of everything indeed cannot complete, as doctor said.
    tw().emulator(&emu, SECRET)
        .args(["scan", "--fail-on", "never"])
        .code(3)
        .run();
}

#[test]
fn a_token_without_user_token_access_is_missing_api_tokens_read() {
    let mut w = base_world();
    let token = token_json(SCANNER, "accounts-only")
        .issued(now())
        .expires_on(now() + Duration::days(5))
        .policy(TokenPolicy::allow(&["Account API Tokens Read"]).on_all_accounts())
        .build();
    w.add_user_token(token, SECRET);
    let emu = Emulator::start(w);
    let Output { code, stdout, .. } = doctor(&emu, Some(SECRET), &["--format", "json"]);
    assert_eq!(code, 3);
    let v = json(&stdout);
    let user = check(&v, "scope user/tokens");
    assert_eq!(user["status"], "missing");
    assert!(
        user["hint"]
            .as_str()
            .unwrap()
            .contains("\"API Tokens Read\" on the user"),
        "{user}"
    );
    assert_eq!(
        check(&v, "own-token")["status"],
        "warn",
        "its own object is a user token"
    );
    assert_eq!(check(&v, "expiry")["status"], "warn", "5 days left");
    assert_eq!(
        v["remediation_ready"],
        Value::Null,
        "unknown without its own policies"
    );
    let code = doctor(&emu, Some(SECRET), &["--scope", "accounts"]).code;
    assert_eq!(code, 0);
}

#[test]
fn an_invalid_token_is_exit_3_and_no_credential_is_exit_2() {
    let mut w = base_world();
    w.add_user_token(full_scanner(), SECRET);
    let emu = Emulator::start(w);
    let Output { code, stdout, .. } = doctor(
        &emu,
        Some("cfut_not_a_valid_token_000000000000000000"),
        &["--format", "json"],
    );
    assert_eq!(code, 3);
    let v = json(&stdout);
    assert_eq!(check(&v, "verify")["status"], "error");
    assert!(!stdout.contains("cfut_not_a_valid_token"));
    let Output { code, stderr, .. } = doctor(&emu, None, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("CLOUDFLARE_API_TOKEN"), "{stderr}");
}

#[test]
fn an_account_owned_token_is_verified_at_its_account() {
    let mut w = base_world();
    w.add_scanner_account_token(ACC_A, SCANNER, "cfat_account0scanner0secret");
    let emu = Emulator::start(w);
    let Output { code, stdout, .. } = doctor(
        &emu,
        Some("cfat_account0scanner0secret"),
        &["--format", "json"],
    );
    assert_eq!(
        code, 3,
        "an account token cannot read user tokens: {stdout}"
    );
    let v = json(&stdout);
    assert_eq!(v["token_owner"], format!("accounts/{ACC_A}"));
    assert!(check(&v, "scope user/tokens")["hint"]
        .as_str()
        .unwrap()
        .contains("--scope accounts"));
    let Output { code, stdout, .. } = doctor(
        &emu,
        Some("cfat_account0scanner0secret"),
        &["--scope", "accounts", "--format", "json"],
    );
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        check(&json(&stdout), &format!("scope accounts/{ACC_A}/tokens"))["status"],
        "ok"
    );
}

#[test]
fn the_legacy_key_is_ready_with_advice() {
    let emu = Emulator::start(base_world());
    let out = tw()
        .api_base(&emu)
        .env("CLOUDFLARE_EMAIL", USER_EMAIL)
        .env("CLOUDFLARE_API_KEY", USER_API_KEY)
        .args(["doctor", "--format", "json", "--remediation"])
        .run();
    let s = out.stdout;
    assert_eq!(out.code, 0, "{s}");
    assert!(!s.contains(USER_API_KEY));
    let v = json(&s);
    assert_eq!(check(&v, "credential-kind")["status"], "warn");
    assert_eq!(v["remediation_ready"], true);
}
