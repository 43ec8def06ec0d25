//! Issue 5 behaviour against the emulator's rate limit and faults: pacing under the
//! limit (no 429), waiting out a 429, GET retries with backoff, timeouts, and quiet
//! stderr off a terminal. Assertions are on counts, exit codes and not-evaluated scopes —
//! never on timings.

use std::time::Duration;

use serde_json::Value;

use crate::support::*;
use tokenwarden_emulator::{token_json, Emulator, Fault, FaultKind, RateLimit, TokenPolicy, World};

const ACC: &str = "023e105f4ecef8ad9ca31a8372d0c353";
const SCANNER: &str = "ed17574386854bf78a67040be0a770b0";
const SECRET: &str = "cfut_resilience_scanner_secret_value_000";

/// The user (`user_tokens` + the scanner) and one account with `account_tokens`.
fn world(user_tokens: usize, account_tokens: usize) -> World {
    let mut w = World::new(now());
    w.add_account(ACC, "Example Inc.")
        .add_scanner_user_token(SCANNER, SECRET, &[ACC]);
    for k in 0..user_tokens {
        let id = format!("{k:0>32}");
        let t = token_json(&id, &format!("u{k}"))
            .issued(now() - chrono::Duration::days(3))
            .policy(TokenPolicy::allow(&["Zone Read"]).on_all_zones())
            .build();
        w.add_user_token(t, &format!("cfut_u{k}"));
    }
    for k in 0..account_tokens {
        let id = format!("a{k:0>31}");
        let t = token_json(&id, &format!("a{k}"))
            .issued(now() - chrono::Duration::days(3))
            .policy(TokenPolicy::allow(&["Zone Read"]).on_account_zones(ACC))
            .build();
        w.add_account_token(ACC, t, &format!("cfat_a{k}"));
    }
    w.hang_limit = Duration::from_secs(5);
    w
}

/// `scan` as JSON against `emu` with `extra` flags: the exit code, the report (null when
/// stdout is not JSON) and stderr.
fn scan(emu: &Emulator, extra: &[&str]) -> (i32, Value, String) {
    let out = tw()
        .emulator(emu, SECRET)
        .args(extra)
        .args(["scan", "--format", "json", "--fail-on", "never"])
        .run();
    let v = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    (out.code, v, out.stderr)
}

fn requests_to(emu: &Emulator, path: &str) -> usize {
    emu.requests().iter().filter(|r| r.path == path).count()
}

#[test]
fn a_scan_paced_under_the_limit_never_gets_a_429() {
    // 49 + 1 user tokens (1 page) and 180 account tokens (4 pages): with verify, the
    // account list and two catalogues, 9 requests; the server allows 6 per 2 s and
    // blocks for 30 s after that, so only pacing can finish this scan quickly and cleanly.
    let mut w = world(49, 180);
    w.rate_limit =
        Some(RateLimit::new(6, Duration::from_secs(2)).block_for(Duration::from_secs(30)));
    let emu = Emulator::start(w);
    let (code, v, err) = scan(&emu, &["--rate-limit", "5/2", "--concurrency", "4"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        emu.too_many_requests(),
        0,
        "no 429 at a budget under the limit"
    );
    assert_eq!(v["summary"]["tokens_scanned"], 50 + 180);
    assert_eq!(emu.requests().len(), 9, "the minimum for this estate");
}

#[test]
fn a_429_is_waited_out_and_the_scan_completes() {
    let emu = Emulator::start(world(3, 3));
    emu.inject(
        Fault::on("GET", "/user/tokens", FaultKind::Status(429))
            .exact()
            .nth(1),
    );
    let (code, v, err) = scan(&emu, &[]);
    assert_eq!(code, 0, "{err}");
    let answered: Vec<Option<u16>> = emu
        .requests()
        .iter()
        .filter(|r| r.path == "/user/tokens")
        .map(|r| r.status)
        .collect();
    assert_eq!(answered, vec![Some(429), Some(200)]);
    assert_eq!(
        requests_to(&emu, "/user/tokens"),
        2,
        "asked again after Retry-After"
    );
    assert_eq!(v["summary"]["tokens_scanned"], 4 + 3);
    assert!(v["not_evaluated"].as_array().unwrap().is_empty());
}

#[test]
fn transient_errors_on_reads_are_retried_with_backoff() {
    let emu = Emulator::start(world(3, 3));
    emu.inject(
        Fault::on("GET", "/user/tokens", FaultKind::Status(503))
            .exact()
            .first(2),
    );
    emu.inject(
        Fault::on(
            "GET",
            &format!("/accounts/{ACC}/tokens"),
            FaultKind::Status(502),
        )
        .exact()
        .first(1),
    );
    let (code, v, err) = scan(&emu, &["--retries", "3"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(requests_to(&emu, "/user/tokens"), 3);
    assert_eq!(requests_to(&emu, &format!("/accounts/{ACC}/tokens")), 2);
    assert_eq!(v["summary"]["tokens_scanned"], 4 + 3);
}

#[test]
fn retries_are_bounded_and_a_failing_scope_is_not_evaluated() {
    let emu = Emulator::start(world(3, 3));
    emu.inject(
        Fault::on(
            "GET",
            &format!("/accounts/{ACC}/tokens"),
            FaultKind::Status(500),
        )
        .exact(),
    );
    let (code, v, _) = scan(&emu, &["--retries", "2"]);
    assert_eq!(code, 3);
    assert_eq!(
        requests_to(&emu, &format!("/accounts/{ACC}/tokens")),
        3,
        "1 + 2 retries"
    );
    let ne = v["not_evaluated"].as_array().unwrap();
    assert_eq!(ne.len(), 1);
    assert_eq!(ne[0]["scope"], format!("accounts/{ACC}/tokens"));
    assert!(ne[0]["reason"].as_str().unwrap().contains("HTTP 500"));
    assert_eq!(
        v["summary"]["tokens_scanned"], 4,
        "the user's scope still completed"
    );
}

#[test]
fn a_hanging_request_times_out_and_is_retried() {
    let emu = Emulator::start(world(3, 3));
    emu.inject(
        Fault::on("GET", "/user/tokens", FaultKind::Hang)
            .exact()
            .first(1),
    );
    let (code, v, err) = scan(&emu, &["--timeout", "1", "--retries", "1"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(requests_to(&emu, "/user/tokens"), 2);
    assert_eq!(v["summary"]["tokens_scanned"], 4 + 3);
    emu.clear_faults();
    emu.inject(Fault::on("GET", "/user/tokens", FaultKind::Hang).exact());
    let (code, v, _) = scan(&emu, &["--timeout", "1", "--retries", "0"]);
    assert_eq!(code, 3);
    let reason = v["not_evaluated"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("/user/tokens") && reason.contains("timed out"),
        "{reason}"
    );
}

#[test]
fn stderr_is_quiet_off_a_terminal_unless_verbose() {
    let emu = Emulator::start(world(3, 3));
    let (code, _, err) = scan(&emu, &[]);
    assert_eq!(code, 0);
    assert!(err.is_empty(), "no progress off a terminal: {err:?}");
    let (_, _, err) = scan(&emu, &["-v"]);
    assert!(
        err.contains("collected with") && err.contains("requests"),
        "{err}"
    );
    assert!(err.contains("user/tokens: 4 tokens"), "{err}");
}

#[test]
fn bad_connection_flags_are_usage_errors() {
    let emu = Emulator::start(world(0, 0));
    for flags in [
        ["--rate-limit", "fast"],
        ["--concurrency", "0"],
        ["--timeout", "0"],
    ] {
        let (code, _, err) = scan(&emu, &flags);
        assert_eq!(code, 2, "{flags:?}: {err}");
    }
}
