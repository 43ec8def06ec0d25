//! Unit tests of reading unfinished actions out of a journal: grouping by run and token
//! (recover's own entries extend the action they recover), what closes an action, and the
//! state each sequence of steps reaches.

use serde_json::json;

use super::*;

const RUN: &str = "20261122T100000Z-41";
const LATER: &str = "20261122T110000Z-42";

fn entry(run: &str, token: &str, action: &str, event: &str, extra: Value) -> Value {
    let mut e = json!({
        "time": "2026-11-22T10:00:00.000Z",
        "run": run,
        "event": event,
        "action": action,
        "owner": {"kind": "account", "id": "ac000000000000000000000000000001"},
        "token_id": token,
        "token_name": "n",
        "rules": ["token-secret-stale"],
    });
    if event == "start" {
        e["before"] = json!({"id": token, "modified_on": "2026-01-01T00:00:00Z"});
    }
    if let (Value::Object(m), Value::Object(x)) = (&mut e, extra) {
        m.extend(x);
    }
    e
}

fn ev(token: &str, action: &str, event: &str) -> Value {
    entry(RUN, token, action, event, json!({}))
}

fn dir() -> PathBuf {
    PathBuf::from("/var/lib/tw")
}

#[test]
fn each_sequence_of_steps_reaches_its_state() {
    let escrow = json!({"escrow": "/elsewhere/tokenwarden-escrow-t1-x.secret"});
    let cases: Vec<(Vec<Value>, State)> = vec![
        (
            vec![ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "start")],
            State::NotStarted,
        ),
        (
            vec![
                ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "start"),
                ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "rolling"),
            ],
            State::RollSent,
        ),
        (
            vec![
                ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "start"),
                ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "rolling"),
                entry(
                    RUN,
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01",
                    "roll",
                    "rolled",
                    escrow.clone(),
                ),
            ],
            State::Rolled {
                escrow: Some(dir().join("tokenwarden-escrow-t1-x.secret")),
            },
        ),
        (
            vec![
                ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "start"),
                ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "rolling"),
                entry(
                    RUN,
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01",
                    "roll",
                    "rolled",
                    json!({"escrow": null}),
                ),
            ],
            State::Rolled { escrow: None },
        ),
        (
            vec![
                ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "start"),
                ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "rolling"),
                entry(
                    RUN,
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01",
                    "roll",
                    "rolled",
                    escrow.clone(),
                ),
                ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "delivered"),
            ],
            State::RollDelivered,
        ),
        (
            vec![
                ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "replace", "start"),
                entry(
                    RUN,
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01",
                    "replace",
                    "creating",
                    json!({"new_token_name": "n (replaces t1, 2026-11-22)", "existing": ["o1"]}),
                ),
            ],
            State::CreateSent {
                name: "n (replaces t1, 2026-11-22)".into(),
                existing: vec!["o1".into()],
            },
        ),
        (
            vec![
                ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "replace", "start"),
                ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "replace", "creating"),
                entry(
                    RUN,
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01",
                    "replace",
                    "created",
                    json!({"new_token_id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa02", "new_token_name": "m", "escrow": null}),
                ),
            ],
            State::Created {
                new_token_id: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa02".into(),
                new_token_name: "m".into(),
                escrow: None,
            },
        ),
        (
            vec![
                ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "replace", "start"),
                ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "replace", "creating"),
                entry(
                    RUN,
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01",
                    "replace",
                    "created",
                    json!({"new_token_id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa02", "new_token_name": "m"}),
                ),
                ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "replace", "delivered"),
            ],
            State::ReplaceDelivered {
                new_token_id: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa02".into(),
                new_token_name: "m".into(),
            },
        ),
        (
            vec![ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "disable", "start")],
            State::StatusUnknown,
        ),
    ];
    for (entries, state) in cases {
        let found = unfinished(&entries, &dir());
        assert_eq!(found.len(), 1, "{entries:?}");
        assert_eq!(found[0].state, state);
        assert_eq!(found[0].run, RUN);
        assert_eq!(found[0].item.token_id, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01");
        assert_eq!(
            found[0].item.owner.path(),
            "accounts/ac000000000000000000000000000001"
        );
        assert_eq!(found[0].item.scanned["modified_on"], "2026-01-01T00:00:00Z");
    }
}

#[test]
fn an_end_closes_an_action_unless_it_left_work_and_recovered_always_closes() {
    let done = vec![
        ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "start"),
        ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "rolling"),
        entry(
            RUN,
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01",
            "roll",
            "end",
            json!({"unfinished": false}),
        ),
        // An older journal's end has no `unfinished`: closed.
        ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa02", "disable", "start"),
        ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa02", "disable", "end"),
    ];
    assert!(unfinished(&done, &dir()).is_empty());

    let mut open = vec![
        ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "start"),
        ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "rolling"),
        entry(
            RUN,
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01",
            "roll",
            "rolled",
            json!({"escrow": "/x/tokenwarden-escrow-t1-a.secret"}),
        ),
        entry(
            RUN,
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01",
            "roll",
            "end",
            json!({"unfinished": true}),
        ),
    ];
    let found = unfinished(&open, &dir());
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].escrows,
        vec![dir().join("tokenwarden-escrow-t1-a.secret")]
    );

    // Recover's own entries, in a later run, extend the action they recover.
    open.push(entry(
        LATER,
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01",
        "roll",
        "rolling",
        json!({"recovers": RUN}),
    ));
    open.push(entry(
        LATER,
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01",
        "roll",
        "rolled",
        json!({"recovers": RUN, "escrow": "/x/tokenwarden-escrow-t1-b.secret"}),
    ));
    let found = unfinished(&open, &dir());
    assert_eq!(found.len(), 1, "one action, not two");
    assert_eq!(found[0].run, RUN);
    assert_eq!(
        found[0].state,
        State::Rolled {
            escrow: Some(dir().join("tokenwarden-escrow-t1-b.secret"))
        }
    );
    assert_eq!(
        found[0].escrows.len(),
        2,
        "both escrow files are the action's"
    );

    open.push(entry(
        LATER,
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01",
        "roll",
        "recovered",
        json!({"recovers": RUN, "outcome": "finished"}),
    ));
    assert!(unfinished(&open, &dir()).is_empty());
}

#[test]
fn run_level_entries_and_entries_without_a_start_are_no_actions() {
    let entries = vec![
        json!({"run": RUN, "event": "interrupted", "not_started": ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa09"]}),
        entry(
            LATER,
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa03",
            "roll",
            "rolling",
            json!({"recovers": RUN}),
        ),
        json!({"not": "an entry"}),
        ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa04", "roll", "start"),
        ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa05", "replace", "start"),
    ];
    let found = unfinished(&entries, &dir());
    let ids: Vec<&str> = found.iter().map(|a| a.item.token_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa04",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa05"
        ],
        "in the order they started"
    );
}

#[test]
fn the_reports_say_per_action_what_was_decided_and_never_hold_a_secret() {
    let action = unfinished(
        &[ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "start")],
        &dir(),
    )
    .remove(0);
    let r = Recovery {
        action,
        verdict: Verdict::Finished,
        message: "delivered to /s/t1.secret".into(),
        delivered_to: Some("/s/t1.secret".into()),
        escrow: None,
    };
    let table = table(std::slice::from_ref(&r), true);
    assert!(
        table.contains("roll account ac000000000000000000000000000001 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01 (n) of run 20261122T100000Z-41"),
        "{table}"
    );
    assert!(table.contains("-> finished"), "{table}");
    assert!(table.contains("0 could not be finished"), "{table}");
    let v = json(&[r], false, 0);
    assert_eq!(v["mode"], "dry-run");
    assert_eq!(v["actions"][0]["verdict"], "finished");
    assert_eq!(v["actions"][0]["journal_state"], "started, nothing sent");
    assert_eq!(v["summary"]["unfinished"], 1);
    let empty = super::table(&[], false);
    assert!(
        empty.starts_with("Dry run") && empty.contains("Nothing to recover"),
        "{empty}"
    );
}

/// A journal read back from disk is outside input: an action whose start entry is missing,
/// or names something that is not a Cloudflare id, is reported, never silently skipped.
#[test]
fn actions_recover_cannot_read_are_reported_not_skipped() {
    let mut hostile = ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01", "roll", "start");
    hostile["token_id"] = json!("../../etc/passwd");
    let entries = vec![
        entry(
            LATER,
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa03",
            "roll",
            "rolling",
            json!({"recovers": RUN}),
        ),
        hostile,
        ev("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa04", "roll", "start"),
    ];
    let left = leftovers(&entries, &dir());
    let ids: Vec<&str> = left
        .actions
        .iter()
        .map(|a| a.item.token_id.as_str())
        .collect();
    assert_eq!(ids, ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa04"]);
    assert_eq!(left.unreadable.len(), 2, "{:?}", left.unreadable);
    assert!(left
        .unreadable
        .iter()
        .any(|u| u.contains("../../etc/passwd")));
    // An escrow path in the journal only counts when it names an escrow file.
    let e = json!({"escrow": "/etc/shadow"});
    assert_eq!(escrow_path(&e, &dir()), None);
}
