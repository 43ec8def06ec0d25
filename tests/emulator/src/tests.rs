//! The [`Emulator`](crate::Emulator) handle: the request log, the secrets it remembers,
//! and use from a synchronous test.

use serde_json::json;

use crate::testkit::*;
use crate::{AuthKind, Emulator, USER_API_KEY};

#[tokio::test]
async fn every_secret_ever_held_is_known_to_the_test() {
    let emu = Emulator::start(base_world());
    let api = Api::new(&emu);
    let before = emu.all_secrets();
    assert!(before.contains(&TARGET_SECRET.to_string()));
    api.send(
        "PUT",
        &format!("/user/tokens/{TARGET}/value"),
        Cred::Bearer(WRITER_SECRET),
        Some(json!({})),
    )
    .await;
    let created = api
        .send(
            "POST",
            "/user/tokens",
            Cred::Bearer(WRITER_SECRET),
            Some(create_body("new")),
        )
        .await;
    let after = emu.all_secrets();
    assert!(
        after.contains(&TARGET_SECRET.to_string()),
        "rolled away, still listed"
    );
    assert!(after.contains(&emu.current_secret(TARGET).unwrap()));
    assert!(after.contains(&created.result()["value"].as_str().unwrap().to_string()));
    assert_eq!(after.len(), before.len() + 2);
}

#[tokio::test]
async fn request_log_never_holds_a_secret() {
    let emu = Emulator::start(base_world());
    let api = Api::new(&emu);
    let w = Cred::Bearer(WRITER_SECRET);
    api.get("/user/tokens?per_page=5", w).await;
    let created = api
        .send("POST", "/user/tokens", w, Some(create_body("c")))
        .await;
    let rolled = api
        .send(
            "PUT",
            &format!("/user/tokens/{TARGET}/value"),
            w,
            Some(json!({})),
        )
        .await;
    api.get("/user/tokens", Cred::Legacy).await;
    api.get("/user/tokens", Cred::Bearer("made-up-secret"))
        .await;
    let log = format!("{:?}", emu.requests());
    for secret in [
        WRITER_SECRET,
        TARGET_SECRET,
        USER_API_KEY,
        "made-up-secret",
        created.result()["value"].as_str().expect("value"),
        rolled.result().as_str().expect("value"),
    ] {
        assert!(!log.contains(secret), "log leaks {secret}");
    }
    let records = emu.requests();
    assert_eq!(records.len(), 5);
    assert_eq!(records[0].path, "/user/tokens");
    assert_eq!(records[0].query.as_deref(), Some("per_page=5"));
    assert_eq!(
        records[0].auth,
        AuthKind::Bearer {
            token_id: Some(WRITER.to_string())
        }
    );
    assert_eq!(records[1].status, Some(200));
    assert_eq!(emu.write_requests(), 2);
    emu.clear_requests();
    assert!(emu.requests().is_empty());
}

#[test]
fn emulator_works_from_a_plain_synchronous_test() {
    let emu = Emulator::start(base_world());
    assert!(emu.base_url().starts_with("http://127.0.0.1:"));
    assert!(emu.base_url().ends_with("/client/v4"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let status = runtime.block_on(async {
        Api::new(&emu)
            .get("/user/tokens", Cred::Bearer(SCANNER_SECRET))
            .await
            .status
    });
    assert_eq!(status, 200);
    let tokens = emu.with_world(|w| w.user_tokens.len());
    assert_eq!(tokens, 4);
    drop(emu);
}
