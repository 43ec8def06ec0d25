//! Issue 12, "Fail closed and keep every secret", against the emulator and snapshots:
//! a catalogue that cannot be read is not evaluated (item 1); a token the scanner does not
//! understand is not evaluated, never clean (item 2); ids are data, never paths (item 4);
//! no redirect is followed and no credential leaves for another origin (item 5); every
//! number has a range checked before anything is done (item 8).

use serde_json::{json, Value};

use crate::support::*;
use tokenwarden_emulator::{
    group_id, token_json, Emulator, Fault, FaultKind, TokenPolicy, Trap, World, USER_API_KEY,
    USER_EMAIL,
};

const ACC: &str = "023e105f4ecef8ad9ca31a8372d0c353";
const SCANNER: &str = "ed17574386854bf78a67040be0a770b0";
const SECRET: &str = "cfut_fail_closed_scanner_secret_value_00";
/// A token that can mint tokens, and names its group only by id.
const MINTER: &str = "3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a3a";
/// A token with a status Cloudflare does not have.
const ODD: &str = "0dd00dd00dd00dd00dd00dd00dd00dd0";

/// The user (the scanner, [`MINTER`]) and account [`ACC`] with one token.
fn world() -> World {
    let mut w = World::new(now());
    w.add_account(ACC, "Example Inc.")
        .add_scanner_user_token(SCANNER, SECRET, &[ACC]);
    let mut minter = token_json(MINTER, "minter")
        .issued(now() - chrono::Duration::days(3))
        .expires_on(now() + chrono::Duration::days(30))
        .ip_in(&["203.0.113.0/24"])
        .policy(TokenPolicy::allow(&["API Tokens Write"]).on_user(tokenwarden_emulator::USER_ID))
        .build();
    minter["policies"][0]["permission_groups"][0]
        .as_object_mut()
        .unwrap()
        .remove("name");
    w.add_user_token(minter, "cfut_minter");
    let a = token_json("a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0", "a-token")
        .issued(now() - chrono::Duration::days(3))
        .policy(TokenPolicy::allow(&["Zone Read"]).on_account_zones(ACC))
        .build();
    w.add_account_token(ACC, a, "cfat_a");
    w
}

fn scan_json(emu: &Emulator, extra: &[&str]) -> (i32, Value, String) {
    let out = tw()
        .emulator(emu, SECRET)
        .args(["scan", "--format", "json", "--fail-on", "never"])
        .args(extra)
        .run();
    let v = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    (out.code, v, out.stderr)
}

/// Collect a snapshot of `emu` (expecting exit `collected`), then scan it as
/// [`scan_json`] scans live: the report (exit 3 expected) and the snapshot's text.
fn snapshot_then_scan(emu: &Emulator, collected: i32, extra: &[&str]) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.json");
    tw().emulator(emu, SECRET)
        .args(extra)
        .args(["snapshot", "--output"])
        .arg(&snap)
        .code(collected)
        .run();
    (
        scan_snapshot(&snap),
        std::fs::read_to_string(&snap).unwrap(),
    )
}

/// `scan --snapshot PATH` as JSON, with the flags [`scan_json`] uses; exit 3 expected.
fn scan_snapshot(path: &std::path::Path) -> Value {
    tw().args([
        "scan",
        "--format",
        "json",
        "--fail-on",
        "never",
        "--snapshot",
    ])
    .arg(path)
    .code(3)
    .run()
    .json()
}

fn not_evaluated(v: &Value) -> Vec<(String, String)> {
    v["not_evaluated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["scope"].as_str().unwrap().to_string(),
                n["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn rule_ids(v: &Value, token: &str) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["token_id"] == token)
        .map(|f| f["rule_id"].as_str().unwrap().to_string())
        .collect()
}

/// Item 1: a catalogue that fails (500 after retries, 403, a body that is not JSON) is a
/// scope not evaluated in every format with exit 3, and the token whose group has no name
/// says that name-matching rules could not see it; a snapshot keeps both.
#[test]
fn a_catalogue_that_cannot_be_read_is_not_evaluated_and_the_token_it_hides_says_so() {
    let emu = Emulator::start(world());
    // With the catalogue, the minter is found by its group's catalogue name.
    let (code, v, err) = scan_json(&emu, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(rule_ids(&v, MINTER).contains(&"token-can-manage-tokens".to_string()));
    let user_catalogue = "/user/tokens/permission_groups";
    let account_catalogue = format!("/accounts/{ACC}/tokens/permission_groups");
    for (user_fault, account_fault) in [
        (FaultKind::Status(500), FaultKind::Status(403)),
        (FaultKind::NonJson, FaultKind::Status(500)),
    ] {
        emu.clear_faults();
        emu.inject(Fault::on("GET", user_catalogue, user_fault).exact());
        emu.inject(Fault::on("GET", &account_catalogue, account_fault).exact());
        let (code, v, err) = scan_json(&emu, &["--retries", "1"]);
        assert_eq!(code, 3, "{err}");
        let ne = not_evaluated(&v);
        let scopes: Vec<&str> = ne.iter().map(|(s, _)| s.as_str()).collect();
        let minter_scope = format!("user/tokens/{MINTER}");
        assert_eq!(
            scopes,
            [
                &account_catalogue[1..],
                minter_scope.as_str(),
                &user_catalogue[1..],
            ],
            "{ne:?}"
        );
        assert!(ne[2].1.contains(user_catalogue), "{}", ne[2].1);
        assert!(
            ne[1].1.contains("policies[0].permission_groups[0]")
                && ne[1].1.contains(group_id("API Tokens Write").unwrap()),
            "{}",
            ne[1].1
        );
        assert_eq!(v["summary"]["not_evaluated"], 3);
        assert_eq!(v["summary"]["complete"], false);
    }
    for format in ["table", "sarif", "markdown"] {
        let out = tw()
            .emulator(&emu, SECRET)
            .args([
                "scan",
                "--retries",
                "0",
                "--fail-on",
                "never",
                "--format",
                format,
            ])
            .code(3)
            .run();
        assert!(
            out.stdout.contains("user/tokens/permission_groups"),
            "{format}:\n{}",
            out.stdout
        );
    }
    // A snapshot records the catalogue as not read, and a scan of it says so too.
    let (offline, _) = snapshot_then_scan(&emu, 3, &["--retries", "0"]);
    let (_, live, _) = scan_json(&emu, &["--retries", "0"]);
    assert_eq!(live, offline);
}

/// Item 1, the snapshot side: a snapshot without a catalogue for an owner cannot call any
/// group unknown, and a token naming a group only by id is reported, not silently clean.
#[test]
fn without_a_catalogue_a_group_named_only_by_id_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let token = |id: &str, group: Value| {
        json!({"id": id, "name": id, "status": "active", "issued_on": "2026-11-01T00:00:00Z",
               "expires_on": "2026-12-01T00:00:00Z",
               "condition": {"request_ip": {"in": ["203.0.113.0/24"]}},
               "policies": [{"id": "p", "effect": "allow", "permission_groups": [group],
                             "resources": {"com.cloudflare.api.account.zone.*": "*"}}]})
    };
    let named = "4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e";
    let snap = json!({"format": "tokenwarden-snapshot/v1", "user": {"tokens": [
        token(MINTER, json!({"id": group_id("API Tokens Write").unwrap()})),
        token(named, json!({"id": "ffffffffffffffffffffffffffffffff", "name": "Retired Thing Read"})),
    ]}});
    let path = dir.path().join("s.json");
    std::fs::write(&path, snap.to_string()).unwrap();
    let v = scan_snapshot(&path);
    let ne = not_evaluated(&v);
    assert_eq!(ne.len(), 1, "{ne:?}");
    assert_eq!(ne[0].0, format!("user/tokens/{MINTER}"));
    // The other rules still ran on both tokens; unknown is not said without a catalogue.
    assert!(rule_ids(&v, MINTER).contains(&"token-all-zones".to_string()));
    assert!(!rule_ids(&v, named).contains(&"token-unknown-permission-group".to_string()));
}

/// Item 2: a token the scanner does not understand is not evaluated, with the reason and
/// the JSON path, live and from a snapshot; the others are evaluated.
#[test]
fn a_token_the_scanner_does_not_understand_is_not_evaluated() {
    let mut w = world();
    let odd = token_json(ODD, "odd")
        .status("revoked")
        .issued(now() - chrono::Duration::days(400))
        .policy(TokenPolicy::allow(&["API Tokens Write"]).on_all_accounts())
        .build();
    w.add_user_token(odd, "cfut_odd");
    let mut shapes = Vec::new();
    for (k, (field, value)) in [
        ("policies", json!(["allow everything"])),
        (
            "policies",
            json!([{"id": "p", "effect": "permit", "permission_groups": [], "resources": {}}]),
        ),
        (
            "policies",
            json!([{"id": "p", "effect": "allow", "permission_groups": [],
                              "resources": {"com.cloudflare.api.account.*": ["*"]}}]),
        ),
        ("condition", json!({"request_ip": "203.0.113.0/24"})),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("{k:0>32}");
        let mut t = token_json(&id, "shape")
            .issued(now() - chrono::Duration::days(1))
            .build();
        t[field] = value;
        w.add_user_token(t, &format!("cfut_shape_{k}"));
        shapes.push(id);
    }
    w.validate_ip_conditions = false;
    let emu = Emulator::start(w);
    let (code, v, err) = scan_json(&emu, &[]);
    assert_eq!(code, 3, "{err}");
    let ne = not_evaluated(&v);
    let reason = |id: &str| {
        ne.iter()
            .find(|(s, _)| *s == format!("user/tokens/{id}"))
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{id} is not reported: {ne:?}"))
    };
    assert!(reason(ODD).contains("status: unknown status \"revoked\""));
    assert!(reason(&shapes[0]).contains("policies[0]: expected an object"));
    assert!(reason(&shapes[1]).contains("policies[0].effect: unknown effect \"permit\""));
    assert!(reason(&shapes[2]).contains("policies[0].resources[\"com.cloudflare.api.account.*\"]"));
    assert!(reason(&shapes[3]).contains("condition.request_ip"));
    assert_eq!(ne.len(), 5, "{ne:?}");
    assert_eq!(v["summary"]["tokens_scanned"], 1 + 1 + 5 + 1);
    assert!(!rule_ids(&v, MINTER).is_empty(), "the others are evaluated");
    let (offline, _) = snapshot_then_scan(&emu, 0, &[]);
    assert_eq!(offline, v);
}

const HOSTILE: [&str; 5] = [
    "/../../../../tmp/pwned",
    "a/b",
    "ed17574386854bf78a67040be0a7%2F0",
    "ed17574386854bf78a67040be0a770b\n",
    "ed17574386854bf78a67040be0a770b\0",
];

/// Item 4: ids from the API that are not Cloudflare ids never reach a request path; each
/// token or account is reported as not evaluated, against its list, with its JSON path;
/// every request stays below the API base; a snapshot keeps the same account.
#[test]
fn ids_from_the_api_that_are_not_ids_are_reported_and_never_become_paths() {
    let mut w = world();
    for (k, id) in HOSTILE.iter().enumerate() {
        let t = token_json(id, "hostile")
            .issued(now() - chrono::Duration::days(1))
            .build();
        w.add_user_token(t, &format!("cfut_hostile_{k}"));
    }
    // Listed for every credential, as an account the scanner may see but not read.
    w.add_account(HOSTILE[0], "Evil Corp")
        .forbid_account(HOSTILE[0]);
    let t = token_json("a/../../b", "hostile")
        .issued(now() - chrono::Duration::days(1))
        .build();
    w.add_account_token(ACC, t, "cfat_hostile");
    let emu = Emulator::start(w);
    let (code, v, err) = scan_json(&emu, &[]);
    assert_eq!(code, 3, "{err}");
    let ne = not_evaluated(&v);
    let on = |scope: &str| ne.iter().filter(|(s, _)| s == scope).count();
    assert_eq!(on("user/tokens"), HOSTILE.len(), "{ne:?}");
    assert_eq!(on("accounts"), 1, "{ne:?}");
    assert_eq!(on(&format!("accounts/{ACC}/tokens")), 1, "{ne:?}");
    for (_, reason) in &ne {
        assert!(
            reason.contains("not a Cloudflare id") && reason.contains("(page 1): result["),
            "{reason}"
        );
    }
    assert!(ne
        .iter()
        .any(|(s, r)| s == "accounts" && r.contains(r#""/../../../../tmp/pwned""#)));
    assert_eq!(
        v["summary"]["tokens_scanned"], 3,
        "the scanner, the minter and the account's good token"
    );
    let allowed = [
        "/user/tokens/verify".to_string(),
        "/user/tokens".into(),
        "/user/tokens/permission_groups".into(),
        "/accounts".into(),
        format!("/accounts/{ACC}/tokens"),
        format!("/accounts/{ACC}/tokens/permission_groups"),
    ];
    for r in emu.requests() {
        assert!(allowed.contains(&r.path), "request outside the API: {r:?}");
    }
    let (offline, text) = snapshot_then_scan(&emu, 3, &[]);
    assert!(!text.contains("\"id\":\"a/b\"") && !text.contains("\"id\": \"a/b\""));
    assert_eq!(offline, v);
}

/// Item 4, the command line: every id argument must be a Cloudflare id (exit 2), and
/// nothing is sent.
#[test]
fn id_arguments_that_are_not_ids_are_refused_before_anything_is_sent() {
    let emu = Emulator::start(world());
    let bad = "../../accounts";
    let runs: Vec<Vec<&str>> = vec![
        vec!["scan", "--account", bad],
        vec!["scan", "--account", "a/b"],
        vec![
            "snapshot",
            "--output",
            "/tmp/never-written.json",
            "--account",
            bad,
        ],
        vec!["explain", bad],
        vec!["explain", "t1"],
        vec!["permission-groups", "--account", "a%2Fb"],
        vec!["doctor", "--account", bad],
        vec!["remediate", "--token", bad],
        vec!["roll", bad],
        vec!["disable", SCANNER, "--account", "x/y"],
        vec!["enable", "ED17574386854BF78A67040BE0A770B0"],
    ];
    for args in runs {
        let out = tw().emulator(&emu, SECRET).args(&args).run();
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("not a Cloudflare id"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let nl = tw()
        .emulator(&emu, SECRET)
        .args(["scan", "--account", "023e105f4ecef8ad9ca31a8372d0c35\n"])
        .code(2)
        .run();
    assert!(nl.stderr.contains("\\n"), "{}", nl.stderr);
    assert!(emu.requests().is_empty(), "{:?}", emu.requests());
}

/// Item 5: a 3xx is an error naming the endpoint and the Location; nothing is sent to the
/// other origin, with the legacy key or a token.
#[test]
fn a_redirect_is_not_followed_and_no_credential_leaves() {
    let emu = Emulator::start(world());
    let trap = Trap::start();
    let location = trap.url("/client/v4/user/tokens");
    emu.inject(Fault::on("GET", "/user/tokens", FaultKind::redirect(302, &location)).exact());
    emu.inject(Fault::on(
        "GET",
        "/accounts",
        FaultKind::redirect(308, &trap.url("/client/v4/accounts")),
    ));
    let legacy = tw()
        .api_base(&emu)
        .env("CLOUDFLARE_EMAIL", USER_EMAIL)
        .env("CLOUDFLARE_API_KEY", USER_API_KEY)
        .args(["scan", "--format", "json", "--fail-on", "never"])
        .code(3)
        .run()
        .json();
    let bearer = scan_json(&emu, &[]);
    assert_eq!(bearer.0, 3, "{}", bearer.2);
    for v in [legacy, bearer.1] {
        let ne = not_evaluated(&v);
        let user = ne.iter().find(|(s, _)| s == "user/tokens").unwrap();
        assert!(
            user.1.contains("GET /user/tokens")
                && user.1.contains("HTTP 302 redirect")
                && user.1.contains(&location),
            "{}",
            user.1
        );
        assert!(ne
            .iter()
            .any(|(s, r)| s == "accounts" && r.contains("HTTP 308")));
        assert_eq!(v["summary"]["tokens_scanned"], 0);
    }
    assert!(
        trap.requests().is_empty(),
        "a request reached the other origin: {:?}",
        trap.requests()
    );
    // A single-token call too (remediation's GET), with the legacy key.
    emu.clear_faults();
    emu.inject(Fault::on(
        "GET",
        &format!("/user/tokens/{MINTER}"),
        FaultKind::redirect(301, &trap.url("/x")),
    ));
    tw().api_base(&emu)
        .env("CLOUDFLARE_EMAIL", USER_EMAIL)
        .env("CLOUDFLARE_API_KEY", USER_API_KEY)
        .args(["disable", MINTER])
        .code(3)
        .run();
    assert!(trap.requests().is_empty(), "{:?}", trap.requests());
}

/// Item 8: every numeric flag and policy value has a range, checked before anything is
/// done (exit 2), offline too; the two `--rate-limit`s of the issue used to panic and
/// abort.
#[test]
fn numbers_out_of_range_are_refused_before_anything_is_done() {
    let emu = Emulator::start(world());
    let flags: [&[&str]; 9] = [
        &["--rate-limit", "1/18446744073709551615"],
        &["--rate-limit", "4294967295/1"],
        &["--rate-limit", "100001/300"],
        &["--rate-limit", "1000/86401"],
        &["--concurrency", "65"],
        &["--concurrency", "0"],
        &["--retries", "11"],
        &["--timeout", "0"],
        &["--timeout", "601"],
    ];
    for f in flags {
        let out = tw().emulator(&emu, SECRET).args(f).arg("scan").run();
        assert_eq!(out.code, 2, "{f:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        // Offline, where no client is ever built, the same.
        let out = tw().args(f).scan_example().run();
        assert_eq!(out.code, 2, "{f:?} offline: {}", out.stderr);
    }
    assert!(emu.requests().is_empty());
    for max in ["10001", "-1", "4294967296"] {
        let out = tw()
            .args(["remediate", "--max-actions", max, "--snapshot"])
            .arg(example_snapshot())
            .code(2)
            .run();
        assert!(out.stdout.is_empty(), "nothing is planned: {}", out.stdout);
    }
    let dir = tempfile::tempdir().unwrap();
    for (key, value) in [
        ("thresholds", "max_lifetime_days = -1"),
        ("thresholds", "max_unused_days = 36501"),
        ("thresholds", "min_ipv4_prefix = 33"),
        ("thresholds", "min_ipv6_prefix = 129"),
        ("thresholds", "max_permission_groups = 10001"),
        ("remediation", "max_actions = 10001"),
        ("limits", "max_exemption_days = 0"),
    ] {
        let p = dir.path().join("p.toml");
        std::fs::write(&p, format!("[{key}]\n{value}\n")).unwrap();
        let out = tw().scan_example().arg("--policy").arg(&p).code(2).run();
        assert!(
            out.stderr.contains("out of range"),
            "{value}: {}",
            out.stderr
        );
    }
}
