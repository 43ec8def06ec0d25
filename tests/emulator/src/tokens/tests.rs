//! Token writes: create (validation, the secret shown once, quotas), update as a full
//! replacement, delete, and roll.

use serde_json::{json, Value};

use crate::testkit::*;
use crate::{days, group_id, now, rfc3339, Emulator, ACCOUNT_TOKEN_QUOTA, USER_TOKEN_QUOTA};

#[tokio::test]
async fn create_validates_and_returns_the_secret_once() {
    let emu = Emulator::start(base_world());
    let api = Api::new(&emu);
    let w = Cred::Bearer(WRITER_SECRET);
    let bad: Vec<(Value, &str)> = vec![
        (
            json!({ "policies": create_body("x")["policies"] }),
            "no name",
        ),
        (json!({ "name": "x" }), "no policies"),
        (json!({ "name": "x", "policies": [] }), "empty policies"),
        (
            json!({ "name": "x", "policies": [{ "effect": "maybe", "permission_groups": [{ "id": group_id("DNS Read") }], "resources": { "com.cloudflare.api.account.zone.*": "*" } }] }),
            "effect",
        ),
        (
            json!({ "name": "x", "policies": [{ "effect": "allow", "permission_groups": [{ "id": "ffffffffffffffffffffffffffffffff" }], "resources": { "com.cloudflare.api.account.zone.*": "*" } }] }),
            "unknown group",
        ),
        (
            json!({ "name": "x", "policies": create_body("x")["policies"], "condition": { "request_ip": { "in": ["300.1.1.1/8"] } } }),
            "bad cidr",
        ),
        (
            json!({ "name": "x", "policies": create_body("x")["policies"], "expires_on": "tomorrow" }),
            "bad time",
        ),
        (json!([1, 2]), "not an object"),
    ];
    for (body, why) in bad {
        let r = api.send("POST", "/user/tokens", w, Some(body)).await;
        assert_eq!(r.status, 400, "{why}: {}", r.text);
    }
    let garbage = api
        .try_send("POST", "/user/tokens", w, Some(b"{not json".to_vec()))
        .await
        .expect("send");
    assert_eq!((garbage.status, garbage.code()), (400, 6007));
    assert_eq!(
        emu.with_world(|w| w.user_tokens.len()),
        4,
        "nothing created"
    );

    let created = api
        .send("POST", "/user/tokens", w, Some(create_body("new one")))
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let token = created.result();
    let id = token["id"].as_str().expect("id").to_string();
    let secret = token["value"].as_str().expect("value").to_string();
    assert!(
        secret.starts_with("cfut_") && secret.len() >= 40,
        "{secret}"
    );
    assert_eq!(id.len(), 32);
    assert_eq!(token["status"], "active");
    assert_eq!(token["issued_on"], rfc3339(now()));
    assert_eq!(token["modified_on"], rfc3339(now()));
    assert_eq!(token["expires_on"], rfc3339(days(90)));
    assert_eq!(
        token["condition"]["request_ip"]["not_in"],
        json!(["198.51.100.7"])
    );
    assert_eq!(
        token["policies"][0]["permission_groups"][0]["name"], "DNS Read",
        "names filled in"
    );
    assert_eq!(token["policies"][0]["id"].as_str().map(str::len), Some(32));
    assert_eq!(emu.current_secret(&id), Some(secret.clone()));
    let fetched = api.get(&format!("/user/tokens/{id}"), w).await;
    assert!(
        fetched.result().get("value").is_none(),
        "the secret is shown only once"
    );
    assert_eq!(
        api.get("/user/tokens/verify", Cred::Bearer(&secret))
            .await
            .result()["id"],
        json!(id)
    );

    let account = api
        .send(
            "POST",
            &format!("/accounts/{ACC_A}/tokens"),
            Cred::Bearer(A_WRITER_SECRET),
            Some(create_body("acct")),
        )
        .await;
    assert_eq!(account.status, 200, "{}", account.text);
    assert!(account.result()["value"]
        .as_str()
        .is_some_and(|v| v.starts_with("cfat_")));
    let user_scoped = json!({ "name": "x", "policies": [{ "effect": "allow", "permission_groups": [{ "id": group_id("API Tokens Read") }], "resources": { format!("com.cloudflare.api.account.{ACC_A}"): "*" } }] });
    let r = api
        .send(
            "POST",
            &format!("/accounts/{ACC_A}/tokens"),
            Cred::Bearer(A_WRITER_SECRET),
            Some(user_scoped),
        )
        .await;
    assert_eq!(
        r.status, 400,
        "a user-scoped group is not in the account catalogue"
    );
    let scanner = api
        .send(
            "POST",
            "/user/tokens",
            Cred::Bearer(SCANNER_SECRET),
            Some(create_body("no")),
        )
        .await;
    assert_eq!(scanner.status, 403);

    // Deterministic per emulator: a second emulator hands out the same id and secret.
    let again = Emulator::start(base_world());
    let api2 = Api::new(&again);
    let twin = api2
        .send("POST", "/user/tokens", w, Some(create_body("new one")))
        .await;
    assert_eq!(twin.result()["id"], json!(id));
    assert_eq!(twin.result()["value"], json!(secret));
}

#[tokio::test]
async fn create_enforces_token_quotas() {
    assert_eq!((USER_TOKEN_QUOTA, ACCOUNT_TOKEN_QUOTA), (50, 500));
    let mut world = many_tokens_world(USER_TOKEN_QUOTA - 5);
    world.account_token_quota = 3;
    let emu = Emulator::start(world);
    let api = Api::new(&emu);
    let w = Cred::Bearer(WRITER_SECRET);
    let last = api
        .send("POST", "/user/tokens", w, Some(create_body("fiftieth")))
        .await;
    assert_eq!(last.status, 200, "{}", last.text);
    let over = api
        .send("POST", "/user/tokens", w, Some(create_body("fifty-first")))
        .await;
    assert_eq!((over.status, over.code()), (400, 1005));
    let account = api
        .send(
            "POST",
            &format!("/accounts/{ACC_A}/tokens"),
            w,
            Some(create_body("4th")),
        )
        .await;
    assert_eq!(account.status, 400, "A already has 3 tokens");
}

#[tokio::test]
async fn update_is_a_full_replacement() {
    let emu = Emulator::start(base_world());
    let api = Api::new(&emu);
    let w = Cred::Bearer(WRITER_SECRET);
    let path = format!("/user/tokens/{TARGET}");
    let before = api.get(&path, w).await.result().clone();
    emu.with_world(|w| w.now = days(1));
    let body = json!({
        "name": "ci-deploy (disabled)",
        "status": "disabled",
        "policies": before["policies"].clone(),
    });
    let updated = api.send("PUT", &path, w, Some(body)).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    let after = updated.result();
    assert_eq!(after["id"], TARGET);
    assert_eq!(after["name"], "ci-deploy (disabled)");
    assert_eq!(after["status"], "disabled");
    assert_eq!(after["issued_on"], before["issued_on"], "issued_on kept");
    assert_eq!(
        after["last_used_on"], before["last_used_on"],
        "last_used_on kept"
    );
    assert_eq!(after["modified_on"], rfc3339(days(1)));
    assert_eq!(
        after["policies"], before["policies"],
        "policy ids given are kept"
    );
    for cleared in ["condition", "expires_on", "not_before"] {
        assert!(before.get(cleared).is_some());
        assert!(after.get(cleared).is_none(), "omitted {cleared} is cleared");
    }
    assert_eq!(&api.get(&path, w).await.json["result"], after);
    assert_eq!(
        api.get("/user/tokens/verify", Cred::Bearer(TARGET_SECRET))
            .await
            .status,
        401,
        "disabled"
    );

    // Without status, the status stays; policies without ids get new ones.
    let mut policies = before["policies"].clone();
    policies[0].as_object_mut().expect("policy").remove("id");
    let body = json!({ "name": "re-enabled?", "policies": policies });
    let kept = api.send("PUT", &path, w, Some(body)).await;
    assert_eq!(kept.result()["status"], "disabled");
    let new_policy_id = kept.result()["policies"][0]["id"].as_str().expect("id");
    assert_ne!(
        new_policy_id,
        before["policies"][0]["id"].as_str().expect("id")
    );
    let enable = json!({ "name": "back", "status": "active", "policies": before["policies"].clone(), "expires_on": rfc3339(days(10)) });
    assert_eq!(
        api.send("PUT", &path, w, Some(enable)).await.result()["expires_on"],
        rfc3339(days(10))
    );
    assert_eq!(
        api.get("/user/tokens/verify", Cred::Bearer(TARGET_SECRET))
            .await
            .status,
        200
    );

    for (body, why) in [
        (json!({ "policies": before["policies"].clone() }), "no name"),
        (json!({ "name": "x" }), "no policies"),
        (
            json!({ "name": "x", "policies": before["policies"].clone(), "status": "paused" }),
            "status",
        ),
    ] {
        assert_eq!(
            api.send("PUT", &path, w, Some(body)).await.status,
            400,
            "{why}"
        );
    }
    let missing = api
        .send(
            "PUT",
            "/user/tokens/00000000000000000000000000000000",
            w,
            Some(json!({ "name": "x", "policies": before["policies"].clone() })),
        )
        .await;
    assert_eq!(missing.status, 404);
    let account = api
        .send(
            "PUT",
            &format!("/accounts/{ACC_A}/tokens/{A_TARGET}"),
            Cred::Bearer(A_WRITER_SECRET),
            Some(json!({ "name": "renamed", "policies": [] })),
        )
        .await;
    assert_eq!(account.status, 400, "policies must not be empty");
}

#[tokio::test]
async fn delete_removes_the_token_and_its_secret() {
    let emu = Emulator::start(base_world());
    let api = Api::new(&emu);
    let w = Cred::Bearer(WRITER_SECRET);
    let path = format!("/user/tokens/{TARGET}");
    let deleted = api.send("DELETE", &path, w, None).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.result(), &json!({ "id": TARGET }));
    assert_eq!(api.get(&path, w).await.status, 404);
    assert_eq!(api.send("DELETE", &path, w, None).await.status, 404);
    assert_eq!(emu.current_secret(TARGET), None);
    assert_eq!(
        api.get("/user/tokens/verify", Cred::Bearer(TARGET_SECRET))
            .await
            .status,
        401
    );
    let a = api
        .send(
            "DELETE",
            &format!("/accounts/{ACC_A}/tokens/{A_TARGET}"),
            Cred::Bearer(A_WRITER_SECRET),
            None,
        )
        .await;
    assert_eq!(a.status, 200);
    assert!(emu.token(A_TARGET).is_none());
    let wrong_owner = api
        .send(
            "DELETE",
            &format!("/accounts/{ACC_A}/tokens/{SCANNER}"),
            w,
            None,
        )
        .await;
    assert_eq!(
        wrong_owner.status, 404,
        "a user token is not an account token"
    );
}

#[tokio::test]
async fn roll_replaces_the_secret_at_once() {
    let emu = Emulator::start(base_world());
    let api = Api::new(&emu);
    let w = Cred::Bearer(WRITER_SECRET);
    emu.with_world(|w| w.now = days(3));
    let path = format!("/user/tokens/{TARGET}/value");
    let rolled = api.send("PUT", &path, w, Some(json!({}))).await;
    assert_eq!(rolled.status, 200);
    let secret = rolled
        .result()
        .as_str()
        .expect("the result is the secret")
        .to_string();
    assert!(secret.starts_with("cfut_"));
    assert_eq!(emu.current_secret(TARGET), Some(secret.clone()));
    assert_eq!(
        api.get("/user/tokens/verify", Cred::Bearer(TARGET_SECRET))
            .await
            .status,
        401
    );
    assert_eq!(
        api.get("/user/tokens/verify", Cred::Bearer(&secret))
            .await
            .status,
        200
    );
    assert_eq!(
        emu.token(TARGET).expect("token")["modified_on"],
        rfc3339(days(3))
    );
    let again = api.send("PUT", &path, w, Some(json!({}))).await;
    assert_ne!(
        again.result().as_str(),
        Some(secret.as_str()),
        "every roll is new"
    );
    let not_object = api
        .try_send("PUT", &path, w, Some(b"[]".to_vec()))
        .await
        .expect("send");
    assert_eq!(not_object.status, 400);
    // A token may roll itself; its old secret dies with the answer.
    let own = api
        .send(
            "PUT",
            &format!("/user/tokens/{WRITER}/value"),
            w,
            Some(json!({})),
        )
        .await;
    assert_eq!(own.status, 200);
    assert_eq!(api.get("/user/tokens", w).await.status, 401);
    let new = own.result().as_str().expect("secret");
    assert_eq!(api.get("/user/tokens", Cred::Bearer(new)).await.status, 200);
    let account = api
        .send(
            "PUT",
            &format!("/accounts/{ACC_A}/tokens/{A_TARGET}/value"),
            Cred::Bearer(A_WRITER_SECRET),
            Some(json!({})),
        )
        .await;
    assert!(account
        .result()
        .as_str()
        .is_some_and(|s| s.starts_with("cfat_")));
}
