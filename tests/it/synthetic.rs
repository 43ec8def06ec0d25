//! The benchmark's synthetic estates (`tests/emulator/src/synth.rs`, issue 5) are valid and
//! varied: a snapshot of one is scanned completely with every default rule firing,
//! generation is byte-for-byte deterministic, and a live scan of the same estate in the
//! emulator issues exactly the minimum number of requests the benchmark compares against.

use std::collections::BTreeSet;

use tokenwarden_emulator::synth::{Estate, SCANNER_SECRET};
use tokenwarden_emulator::Emulator;

use crate::support::*;

fn default_rule_ids() -> BTreeSet<String> {
    std::fs::read_dir(root().join("rules"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let id = name.strip_suffix(".rego")?;
            (!id.ends_with("_test")).then(|| id.to_string())
        })
        .collect()
}

#[test]
fn a_synthetic_snapshot_is_scanned_completely_and_fires_every_default_rule() {
    let estate = Estate::of_size(now(), 1_000);
    assert_eq!(estate.token_count(), 1_000);
    assert_eq!(estate.user_tokens, 50, "the user at its quota");
    let sizes: Vec<usize> = estate.accounts.iter().map(|a| a.tokens).collect();
    assert_eq!(sizes, [500, 450], "accounts filled up to their quota");

    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    estate.write_snapshot(&a).unwrap();
    Estate::of_size(now(), 1_000).write_snapshot(&b).unwrap();
    assert!(
        std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
        "generation is deterministic"
    );

    let report = tw()
        .args(["scan", "--snapshot"])
        .arg(&a)
        .args(["--format", "json", "--fail-on", "never"])
        .code(0)
        .run()
        .json();
    assert_eq!(report["summary"]["tokens_scanned"], 1_000);
    assert_eq!(report["summary"]["owners_scanned"], 3);
    assert_eq!(report["not_evaluated"], serde_json::json!([]));
    let fired: BTreeSet<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        fired,
        default_rule_ids(),
        "every default rule fires somewhere"
    );
}

#[test]
fn a_live_scan_of_a_synthetic_estate_makes_exactly_the_minimum_requests() {
    // 7 user tokens (the scanner's first) and 3 accounts of 120: 1 verify, 1 user page,
    // 1 user catalogue, 1 account-list page, 3 × (3 pages + 1 catalogue).
    let estate = Estate::new(now(), 7, 3, 120);
    assert_eq!(estate.minimum_requests(), 16);
    let emu = Emulator::start(estate.world());
    let out = tw()
        .emulator(&emu, SCANNER_SECRET)
        .args(["-v", "scan", "--format", "json", "--fail-on", "never"])
        .code(0)
        .run();
    let report = out.json();
    let err = out.stderr;
    assert_eq!(report["summary"]["tokens_scanned"], 7 + 3 * 120);
    assert_eq!(emu.requests().len(), 16);
    assert_eq!(emu.too_many_requests(), 0);
    // The benchmark reads this line for the scanner's own count.
    assert!(
        err.contains("collected with 16 requests (0 retried, 0 rate-limited, 0 waits"),
        "{err}"
    );
}
