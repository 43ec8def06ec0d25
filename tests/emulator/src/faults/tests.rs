//! Injected faults: which requests they hit and what each kind does to the answer and to
//! the state (the connection-cutting kinds are tested in `conn.rs`).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::testkit::*;
use crate::{Emulator, Fault, FaultKind, WorldEdit};

#[tokio::test]
async fn status_faults_answer_without_touching_state() {
    let emu = Emulator::start(base_world());
    let mut api = Api::new(&emu);
    api.validate = false;
    let w = Cred::Bearer(WRITER_SECRET);
    let roll = format!("/user/tokens/{TARGET}/value");
    emu.inject(Fault::on("PUT", "/user/tokens/*/value", FaultKind::Status(503)).nth(1));
    let failed = api.send("PUT", &roll, w, Some(json!({}))).await;
    assert_eq!(failed.status, 503);
    assert_eq!(failed.json["success"], false);
    assert_eq!(
        emu.current_secret(TARGET).as_deref(),
        Some(TARGET_SECRET),
        "not applied"
    );
    assert_eq!(
        api.send("PUT", &roll, w, Some(json!({}))).await.status,
        200,
        "only the 1st"
    );
    emu.inject(
        Fault::on("GET", "/user/tokens", FaultKind::Status(502))
            .exact()
            .first(2),
    );
    for _ in 0..2 {
        let r = api.get("/user/tokens", w).await;
        assert_eq!(r.status, 502);
        assert!(
            r.text.contains("<html") && r.json.is_null(),
            "HTML edge page"
        );
    }
    assert_eq!(api.get("/user/tokens", w).await.status, 200);
    assert_eq!(
        api.get(&format!("/user/tokens/{TARGET}"), w).await.status,
        200,
        "exact path only"
    );
    emu.inject(Fault::on("*", "/accounts/*/tokens", FaultKind::Status(429)));
    let limited = api.get(&format!("/accounts/{ACC_A}/tokens"), w).await;
    assert_eq!(
        (limited.status, limited.header("retry-after")),
        (429, Some("1"))
    );
    let statuses: Vec<Option<u16>> = emu.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses[..3], [Some(503), Some(200), Some(502)]);
}

#[tokio::test]
async fn latency_is_injected_per_fault_and_globally() {
    let mut world = base_world();
    world.latency = Duration::from_millis(100);
    let emu = Emulator::start(world);
    let api = Api::new(&emu);
    let started = Instant::now();
    assert_eq!(
        api.get("/user/tokens/verify", Cred::Bearer(SCANNER_SECRET))
            .await
            .status,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(100));
    emu.inject(Fault::on(
        "GET",
        "/user/tokens/verify",
        FaultKind::Latency(Duration::from_millis(200)),
    ));
    let started = Instant::now();
    assert_eq!(
        api.get("/user/tokens/verify", Cred::Bearer(SCANNER_SECRET))
            .await
            .status,
        200
    );
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "latencies add up"
    );
}

#[tokio::test]
async fn status_after_apply_changes_state_but_answers_an_error() {
    let emu = Emulator::start(base_world());
    let mut api = Api::new(&emu);
    api.validate = false;
    emu.inject(
        Fault::on(
            "PUT",
            "/user/tokens/*/value",
            FaultKind::StatusAfterApply(502),
        )
        .nth(1),
    );
    let roll = format!("/user/tokens/{TARGET}/value");
    let failed = api
        .send("PUT", &roll, Cred::Bearer(WRITER_SECRET), Some(json!({})))
        .await;
    assert_eq!(failed.status, 502);
    assert!(failed.text.contains("<html"), "the edge's HTML page");
    let rolled = emu.current_secret(TARGET).expect("token");
    assert_ne!(rolled, TARGET_SECRET, "the origin acted");
    assert_eq!(emu.requests()[0].status, Some(502));
    emu.inject(Fault::on("DELETE", "/user/tokens", FaultKind::StatusAfterApply(500)).nth(1));
    let deleted = api
        .send(
            "DELETE",
            &format!("/user/tokens/{TARGET}"),
            Cred::Bearer(WRITER_SECRET),
            None,
        )
        .await;
    assert_eq!(
        (deleted.status, deleted.json["success"].clone()),
        (500, json!(false))
    );
    assert!(emu.token(TARGET).is_none(), "deleted all the same");
}

#[tokio::test]
async fn edit_before_lands_just_before_the_request_is_handled() {
    let emu = Emulator::start(base_world());
    let api = Api::new(&emu);
    let path = format!("/user/tokens/{TARGET}");
    let edit = WorldEdit::new(|w| {
        if let Some(t) = w.token_mut(TARGET) {
            t.json["name"] = json!("renamed by someone else");
        }
    });
    emu.inject(
        Fault::on("GET", &path, FaultKind::EditBefore(edit))
            .exact()
            .nth(2),
    );
    let first = api.get(&path, Cred::Bearer(WRITER_SECRET)).await;
    assert_ne!(
        first.result()["name"],
        "renamed by someone else",
        "only the 2nd"
    );
    let second = api.get(&path, Cred::Bearer(WRITER_SECRET)).await;
    assert_eq!(
        second.result()["name"],
        "renamed by someone else",
        "seen by this very request"
    );
}

#[tokio::test]
async fn broken_bodies_non_json_truncated_and_success_false() {
    let emu = Emulator::start(base_world());
    let mut api = Api::new(&emu);
    api.validate = false;
    let scan = Cred::Bearer(SCANNER_SECRET);
    emu.inject(Fault::on("GET", "/user/tokens", FaultKind::NonJson).nth(1));
    emu.inject(Fault::on("GET", "/user/tokens", FaultKind::Truncated).nth(2));
    emu.inject(Fault::on("GET", "/user/tokens", FaultKind::SuccessFalse).nth(3));
    let html = api.get("/user/tokens", scan).await;
    assert_eq!(html.status, 200);
    assert!(html
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html")));
    assert!(html.json.is_null());
    let cut = api.get("/user/tokens", scan).await;
    assert_eq!(cut.status, 200);
    assert!(cut.text.starts_with("{\"success\":true"), "{}", cut.text);
    assert!(
        serde_json::from_str::<Value>(&cut.text).is_err(),
        "cut short"
    );
    let falsy = api.get("/user/tokens", scan).await;
    assert_eq!(falsy.status, 200);
    assert_eq!(falsy.json["success"], false);
    assert_eq!(falsy.json["result"], Value::Null);
    assert!(falsy.code() >= 1000);
    assert_eq!(api.get("/user/tokens", scan).await.json["success"], true);
    // A truncated write is still applied.
    emu.inject(Fault::on("PUT", "/", FaultKind::Truncated));
    let r = api
        .send(
            "PUT",
            &format!("/user/tokens/{TARGET}/value"),
            Cred::Bearer(WRITER_SECRET),
            Some(json!({})),
        )
        .await;
    assert!(r.json.is_null());
    assert_ne!(emu.current_secret(TARGET).as_deref(), Some(TARGET_SECRET));
}

#[tokio::test]
async fn repeat_page_and_endless_pages_trap_naive_clients() {
    let emu = Emulator::start(many_tokens_world(10));
    let mut api = Api::new(&emu);
    api.validate = false;
    let scan = Cred::Bearer(SCANNER_SECRET);
    let first = api.get("/user/tokens?per_page=5", scan).await;
    emu.inject(Fault::on("GET", "/user/tokens", FaultKind::RepeatPage).exact());
    let second = api.get("/user/tokens?per_page=5&page=2", scan).await;
    assert_eq!(second.ids(), first.ids(), "page 1 again");
    assert_eq!(
        second.json["result_info"]["page"], 2,
        "while claiming page 2"
    );
    assert_eq!(second.json["result_info"]["total_count"], 14);
    emu.clear_faults();
    emu.inject(Fault::on("GET", "/accounts", FaultKind::EndlessPages).exact());
    let mut seen = BTreeSet::new();
    for page in 1..=30 {
        let r = api
            .get(&format!("/accounts?per_page=50&page={page}"), Cred::Legacy)
            .await;
        assert_eq!(r.ids().len(), 50, "always a full page");
        let info = &r.json["result_info"];
        assert!(
            info["total_count"].as_u64() > Some(page * 50),
            "always more to come"
        );
        seen.extend(r.ids());
    }
    assert_eq!(seen.len(), 1500, "fresh items on every page");
    emu.inject(Fault::on("GET", "/user/tokens", FaultKind::EndlessPages));
    let tokens = api.get("/user/tokens?per_page=50&page=100", scan).await;
    assert_eq!(tokens.ids().len(), 50);
    assert!(tokens.result()[0]["policies"].is_array());
}

#[tokio::test]
async fn a_redirect_points_elsewhere_and_the_trap_sees_what_a_follower_sends() {
    let emu = Emulator::start(base_world());
    let trap = crate::Trap::start();
    let location = trap.url("/stolen");
    emu.inject(Fault::on("GET", "/user/tokens", FaultKind::redirect(302, &location)).exact());
    // A client that does not follow: the 302 and its Location, nothing at the trap.
    let manual = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = manual
        .get(format!("{}/user/tokens", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(r.headers()["location"], location.as_str());
    assert!(trap.requests().is_empty());
    // reqwest's default follows, and drops only `Authorization` on the way: the legacy
    // key's headers arrive at the other origin (what issue 12 is about).
    let mut api = Api::new(&emu);
    api.validate = false;
    let followed = api.get("/user/tokens", Cred::Legacy).await;
    assert_eq!(followed.status, 200);
    assert_eq!(followed.json["result"], json!([]));
    let seen = trap.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].target, "/stolen");
    assert_eq!(seen[0].credential_headers, ["x-auth-key", "x-auth-email"]);
    let _ = api.get("/user/tokens", Cred::Bearer(SCANNER_SECRET)).await;
    assert!(trap.requests()[1].credential_headers.is_empty());
    assert!(emu.requests().iter().all(|r| r.status == Some(302)));
}
