//! Remediation (issue 3) through the real binary against the emulator: the plan and the
//! dry run, the guardrails, the sinks and the journal, and each safety property under
//! injected faults. Shared here: the world, how to run the binary, and the checks every
//! test makes (no secret in any output or journal; where the current secret is).

mod disable;
mod plan;
mod recover;
mod replace;
mod roll;
mod runs;
mod signals;
mod sink;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::*;
use tokenwarden_emulator::{days, token_json, Emulator, TokenPolicy, World, USER_ID};

pub const ACC: &str = "023e105f4ecef8ad9ca31a8372d0c353";
/// The user token tokenwarden runs with: token writes on the user and on ACC.
pub const SCANNER: &str = "ed17574386854bf78a67040be0a770b0";
pub const SCANNER_SECRET: &str = "cfut_remediation0scanner0secret000000000";
/// User token whose secret is 200 days old: `token-secret-stale` → roll.
pub const STALE: &str = "5a1e5a1e5a1e5a1e5a1e5a1e5a1e0001";
/// Account token unused for 120 days: `token-unused` → disable. It has a condition, a
/// not_before, an expiry and an allow and a deny policy: everything a PUT could lose.
pub const UNUSED: &str = "a0a0a0a0a0a0a0a0a0a0a0a0a0a00002";
/// Account token expiring in 7 days: `token-expiring-soon` → replace.
pub const EXPIRING: &str = "e7e7e7e7e7e7e7e7e7e7e7e7e7e70003";
/// User token that can mint tokens (disable, critical) with a stale secret (roll).
pub const ADMIN: &str = "adadadadadadadadadadadadadad0004";
/// A disabled account token, for `enable`.
pub const PAUSED: &str = "9a9a9a9a9a9a9a9a9a9a9a9a9a9a0005";
/// A token with no finding.
pub const CLEAN: &str = "c1c1c1c1c1c1c1c1c1c1c1c1c1c10006";

pub fn initial_secret(id: &str) -> String {
    format!("cfat_initial0{id}")
}

pub fn world() -> World {
    let mut w = World::new(now());
    w.add_account(ACC, "Example Inc.");
    let scanner = token_json(SCANNER, "tokenwarden-remediation")
        .issued(days(-10))
        .expires_on(days(60))
        .last_used_on(days(0))
        .ip_in(&["198.51.100.0/24"])
        .policy(TokenPolicy::allow(&["API Tokens Write"]).on_user(USER_ID))
        .policy(TokenPolicy::allow(&["Account API Tokens Write"]).on_account(ACC))
        .build();
    w.add_user_token(scanner, SCANNER_SECRET);
    let user = |id: &str, name: &str, issued: i64, expires: i64, policy: TokenPolicy| {
        token_json(id, name)
            .issued(days(issued))
            .expires_on(days(expires))
            .last_used_on(days(-1))
            .ip_in(&["203.0.113.0/24"])
            .policy(policy)
            .build()
    };
    let stale = user(
        STALE,
        "grafana-dns-read",
        -200,
        30,
        TokenPolicy::allow(&["DNS Read"]).on_zone("z1"),
    );
    w.add_user_token(stale, &initial_secret(STALE));
    let admin = user(
        ADMIN,
        "legacy-admin",
        -100,
        20,
        TokenPolicy::allow(&["API Tokens Write"]).on_user(USER_ID),
    );
    w.add_user_token(admin, &initial_secret(ADMIN));
    let clean = user(
        CLEAN,
        "clean",
        -10,
        60,
        TokenPolicy::allow(&["DNS Read"]).on_zone("z1"),
    );
    w.add_user_token(clean, &initial_secret(CLEAN));
    let unused = token_json(UNUSED, "old-dns-updater")
        .issued(days(-60))
        .not_before(days(-59))
        .expires_on(days(20))
        .last_used_on(days(-120))
        .ip_in(&["198.51.100.0/24", "2001:db8::/48"])
        .ip_not_in(&["198.51.100.7/32"])
        .policy(TokenPolicy::allow(&["Zone Read", "DNS Read"]).on_zone("z1"))
        .policy(TokenPolicy::deny(&["DNS Read"]).on_zone("z2"))
        .build();
    w.add_account_token(ACC, unused, &initial_secret(UNUSED));
    let expiring = token_json(EXPIRING, "ci-deploy-workers")
        .issued(days(-80))
        .not_before(days(-80))
        .expires_on(days(7))
        .last_used_on(days(-1))
        .ip_in(&["192.0.2.0/24"])
        .policy(TokenPolicy::allow(&["Workers Scripts Read"]).on_account(ACC))
        .policy(TokenPolicy::allow(&["Zone Read"]).on_zone("z1"))
        .build();
    w.add_account_token(ACC, expiring, &initial_secret(EXPIRING));
    let paused = token_json(PAUSED, "paused-analytics")
        .status("disabled")
        .issued(days(-10))
        .modified_on(days(-5))
        .expires_on(days(60))
        .last_used_on(days(-6))
        .ip_in(&["192.0.2.0/24"])
        .policy(TokenPolicy::allow(&["Analytics Read"]).on_zone("z1"))
        .build();
    w.add_account_token(ACC, paused, &initial_secret(PAUSED));
    w
}

/// A temporary directory for the journal, escrow and sinks of one test.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn journal(&self) -> PathBuf {
        self.dir.path().join("journal.jsonl")
    }

    pub fn journal_arg(&self) -> String {
        self.journal().display().to_string()
    }

    pub fn secrets(&self) -> PathBuf {
        self.dir.path().join("secrets")
    }

    /// `file:<scratch>/secrets`.
    pub fn file_sink(&self) -> String {
        format!("file:{}", self.secrets().display())
    }

    /// An exec: sink that stores stdin in `<scratch>/exec/<token id>` and then runs `then`.
    pub fn exec_sink(&self, then: &str) -> String {
        let dir = self.dir.path().join("exec");
        std::fs::create_dir_all(&dir).unwrap();
        format!(
            "exec:cat > {}/\"$TOKENWARDEN_TOKEN_ID\"; {then}",
            dir.display()
        )
    }

    pub fn exec_delivered(&self, token_id: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("exec").join(token_id)).ok()
    }

    pub fn delivered(&self, token_id: &str) -> Option<String> {
        std::fs::read_to_string(self.secrets().join(format!("{token_id}.secret"))).ok()
    }

    pub fn journal_text(&self) -> String {
        std::fs::read_to_string(self.journal()).unwrap_or_default()
    }

    pub fn journal_entries(&self) -> Vec<Value> {
        self.journal_text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Escrow files for a token, beside the journal.
    pub fn escrowed(&self, token_id: &str) -> Vec<(PathBuf, String)> {
        let prefix = format!("tokenwarden-escrow-{token_id}-");
        let mut found: Vec<(PathBuf, String)> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
            })
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                (p, text)
            })
            .collect();
        found.sort();
        found
    }
}

/// Run `tokenwarden args…` against the emulator with the scanner's credential, then check
/// that no secret the emulator ever held is in stdout, stderr or the journal.
pub fn run(emu: &Emulator, scratch: &Scratch, args: &[&str]) -> Output {
    let out = tw().emulator(emu, SCANNER_SECRET).args(args).run();
    assert_no_secret(emu, &[&out.stdout, &out.stderr, &scratch.journal_text()]);
    out
}

/// No secret the emulator ever held appears in any of `texts`.
pub fn assert_no_secret(emu: &Emulator, texts: &[&str]) {
    for secret in emu.all_secrets() {
        for text in texts {
            assert!(
                !text.contains(&secret),
                "a secret leaked into the output or the journal:\n{text}"
            );
        }
    }
}

/// `remediate --journal J` plus `args`.
pub fn remediate(emu: &Emulator, scratch: &Scratch, args: &[&str]) -> Output {
    let journal = scratch.journal_arg();
    let mut all = vec!["remediate", "--journal", &journal];
    all.extend_from_slice(args);
    run(emu, scratch, &all)
}

/// `<op> TOKEN [--account ACC] --journal J` plus `args`.
pub fn single(emu: &Emulator, scratch: &Scratch, op: &str, token: &str, args: &[&str]) -> Output {
    let journal = scratch.journal_arg();
    let mut all = vec![op, token, "--journal", &journal];
    if !emu.with_world(|w| w.user_tokens.contains_key(token)) {
        all.extend_from_slice(&["--account", ACC]);
    }
    all.extend_from_slice(args);
    run(emu, scratch, &all)
}

/// The token as the emulator holds it, without the fields a write may legitimately change.
pub fn access_of(emu: &Emulator, id: &str) -> Value {
    let mut t = emu
        .token(id)
        .unwrap_or_else(|| panic!("token {id} is gone"));
    let map = t.as_object_mut().unwrap();
    for k in ["status", "modified_on", "last_used_on"] {
        map.remove(k);
    }
    t
}

pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}
