//! The read operations and the routing: pagination bounds and order, the expired-token
//! filter, permission-group filters, verify, unknown routes and methods, `last_used_on`
//! tracking, and every operation of the spec answering as the spec says.

use std::collections::BTreeSet;

use serde_json::json;

use crate::testkit::*;
use crate::{
    account_catalogue, days, default_catalogue, group_id, now, rfc3339, token_json, Emulator,
    Owner, TokenPolicy, World,
};

#[tokio::test]
async fn lists_paginate_within_cloudflare_bounds() {
    // 4 tokens of base_world + 23 = 27.
    let emu = Emulator::start(many_tokens_world(23));
    let api = Api::new(&emu);
    let scan = Cred::Bearer(SCANNER_SECRET);
    let default = api.get("/user/tokens", scan).await;
    assert_eq!(default.ids().len(), 20, "per_page defaults to 20");
    assert_eq!(
        default.json["result_info"],
        json!({ "count": 20, "page": 1, "per_page": 20, "total_count": 27 })
    );
    assert!(default.json["result_info"].get("total_pages").is_none());
    let mut collected = Vec::new();
    for page in 1..=6 {
        let r = api
            .get(&format!("/user/tokens?page={page}&per_page=5"), scan)
            .await;
        assert_eq!(r.json["result_info"]["count"], json!(r.ids().len()));
        assert_eq!(r.json["result_info"]["page"], json!(page));
        collected.extend(r.ids());
    }
    assert_eq!(collected.len(), 27);
    let mut sorted = collected.clone();
    sorted.sort();
    assert_eq!(collected, sorted, "ascending ids by default");
    let past = api.get("/user/tokens?page=7&per_page=5", scan).await;
    assert!(past.ids().is_empty(), "past the end: an empty page");
    assert_eq!(past.json["result_info"]["total_count"], 27);
    let desc = api
        .get("/user/tokens?per_page=50&direction=desc", scan)
        .await;
    let mut reversed = sorted.clone();
    reversed.reverse();
    assert_eq!(desc.ids(), reversed);
    for bad in [
        "per_page=4",
        "per_page=51",
        "per_page=abc",
        "page=0",
        "direction=up",
        "include_expired=maybe",
    ] {
        let r = api.get(&format!("/user/tokens?{bad}"), scan).await;
        assert_eq!((r.status, r.code()), (422, 6008), "{bad}");
    }
    let accounts = api.get("/accounts?per_page=51", Cred::Legacy).await;
    assert_eq!(accounts.status, 422);
    let edge = api.get("/accounts?per_page=5&page=1", Cred::Legacy).await;
    assert_eq!(edge.json["result_info"]["total_count"], 3);
}

#[tokio::test]
async fn token_lists_hide_expired_tokens_unless_asked() {
    let mut world = World::new(now());
    world.add_scanner_user_token(SCANNER, SCANNER_SECRET, &[]);
    let zone = || TokenPolicy::allow(&["Zone Read"]).on_all_zones();
    let tokens = [
        (
            "e0000000000000000000000000000001",
            token_json("e0000000000000000000000000000001", "status expired").status("expired"),
        ),
        (
            "e0000000000000000000000000000002",
            token_json("e0000000000000000000000000000002", "past").expires_on(days(-1)),
        ),
        (
            "e0000000000000000000000000000003",
            token_json("e0000000000000000000000000000003", "at now").expires_on(now()),
        ),
        (
            "e0000000000000000000000000000004",
            token_json("e0000000000000000000000000000004", "tomorrow").expires_on(days(1)),
        ),
        (
            "e0000000000000000000000000000005",
            token_json("e0000000000000000000000000000005", "disabled").status("disabled"),
        ),
    ];
    for (id, builder) in tokens {
        world.add_user_token(builder.policy(zone()).build(), id);
    }
    let emu = Emulator::start(world);
    let api = Api::new(&emu);
    let scan = Cred::Bearer(SCANNER_SECRET);
    let default = api.get("/user/tokens", scan).await;
    assert_eq!(
        default.ids(),
        vec![
            "e0000000000000000000000000000004",
            "e0000000000000000000000000000005",
            SCANNER
        ]
    );
    let all = api.get("/user/tokens?include_expired=true", scan).await;
    assert_eq!(all.ids().len(), 6);
    let explicit = api.get("/user/tokens?include_expired=false", scan).await;
    assert_eq!(explicit.ids().len(), 3);
    // Two days on, "tomorrow" has expired too.
    emu.with_world(|w| w.now = days(2));
    assert_eq!(api.get("/user/tokens", scan).await.ids().len(), 2);
}

#[tokio::test]
async fn permission_groups_come_per_owner_with_filters() {
    let mut world = base_world();
    let custom = vec![
        json!({ "id": "c0ffee00c0ffee00c0ffee00c0ffee00", "name": "Custom Group", "scopes": ["com.cloudflare.api.account"] }),
    ];
    world.set_catalogue(Owner::account(ACC_B), custom.clone());
    let emu = Emulator::start(world);
    let api = Api::new(&emu);
    let scan = Cred::Bearer(SCANNER_SECRET);
    let user = api.get("/user/tokens/permission_groups", scan).await;
    assert_eq!(user.status, 200);
    assert_eq!(user.result(), &json!(default_catalogue()));
    assert!(user.json.get("result_info").is_none(), "not paged");
    let account = api
        .get(&format!("/accounts/{ACC_A}/tokens/permission_groups"), scan)
        .await;
    assert_eq!(account.result(), &json!(account_catalogue()));
    let names: Vec<&str> = account
        .result()
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert!(names.contains(&"Account API Tokens Read"));
    assert!(
        !names.contains(&"API Tokens Read"),
        "user-scoped groups are for user tokens"
    );
    let b = api
        .get(&format!("/accounts/{ACC_B}/tokens/permission_groups"), scan)
        .await;
    assert_eq!(b.result(), &json!(custom));
    let by_name = api
        .get(
            "/user/tokens/permission_groups?name=Account%20Settings%20Write",
            scan,
        )
        .await;
    assert_eq!(
        by_name.ids(),
        vec![group_id("Account Settings Write").expect("known")]
    );
    let by_scope = api
        .get(
            "/user/tokens/permission_groups?scope=com.cloudflare.api.user",
            scan,
        )
        .await;
    assert_eq!(by_scope.ids().len(), 6);
    let forbidden = api
        .get("/user/tokens/permission_groups", Cred::Bearer(DNS_SECRET))
        .await;
    assert_eq!(forbidden.status, 403);
}

#[tokio::test]
async fn verify_answers_for_the_matching_owner_only() {
    let mut world = base_world();
    world.add_user_token(
        token_json("50000000000000000000000000000001", "expiring")
            .expires_on(days(3))
            .not_before(days(-3))
            .build(),
        "expiring",
    );
    let emu = Emulator::start(world);
    let api = Api::new(&emu);
    let user = api
        .get("/user/tokens/verify", Cred::Bearer("expiring"))
        .await;
    assert_eq!(user.status, 200);
    assert_eq!(
        user.result(),
        &json!({ "id": "50000000000000000000000000000001", "status": "active", "expires_on": rfc3339(days(3)), "not_before": rfc3339(days(-3)) })
    );
    let a_path = format!("/accounts/{ACC_A}/tokens/verify");
    assert_eq!(api.get(&a_path, Cred::Bearer("expiring")).await.status, 401);
    let account = api.get(&a_path, Cred::Bearer(A_READER_SECRET)).await;
    assert_eq!(account.result()["id"], A_READER);
    assert_eq!(
        api.get("/user/tokens/verify", Cred::Bearer(A_READER_SECRET))
            .await
            .status,
        401
    );
    let b_path = format!("/accounts/{ACC_B}/tokens/verify");
    assert_eq!(
        api.get(&b_path, Cred::Bearer(A_READER_SECRET)).await.status,
        401
    );
    assert_eq!(
        api.get("/user/tokens/verify", Cred::Legacy).await.status,
        401
    );
}

#[tokio::test]
async fn unknown_routes_methods_and_bodies_get_envelopes() {
    let emu = Emulator::start(base_world());
    let api = Api::new(&emu);
    let w = Cred::Bearer(WRITER_SECRET);
    let zones = api.get("/zones", w).await;
    assert_eq!((zones.status, zones.code()), (404, 7003));
    let patch = api
        .send(
            "PATCH",
            &format!("/user/tokens/{TARGET}"),
            w,
            Some(json!({})),
        )
        .await;
    assert_eq!(patch.status, 405);
    assert_eq!(api.send("POST", "/user", w, None).await.status, 405);
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let outside = client
        .get(format!("http://{}/other", emu.addr()))
        .send()
        .await
        .expect("send");
    assert_eq!(outside.status().as_u16(), 404);
    let huge = vec![b'x'; (1 << 20) + 10];
    let big = api
        .try_send("POST", "/user/tokens", w, Some(huge))
        .await
        .expect("send");
    assert_eq!(big.status, 413);
    let utf = api
        .try_send("POST", "/user/tokens", w, Some(vec![0xff, 0xfe, 0x00]))
        .await
        .expect("send");
    assert_eq!(utf.status, 400);
    assert_eq!(
        api.get("/user/tokens", w).await.status,
        200,
        "still serving"
    );
}

#[tokio::test]
async fn last_used_on_is_stamped_only_when_tracking() {
    let mut world = base_world();
    world.now = days(7);
    let emu = Emulator::start(world);
    let api = Api::new(&emu);
    api.get("/user/tokens/verify", Cred::Bearer(SCANNER_SECRET))
        .await;
    assert!(emu
        .token(SCANNER)
        .expect("token")
        .get("last_used_on")
        .is_none());
    emu.with_world(|w| w.track_last_used = true);
    api.get("/user/tokens/verify", Cred::Bearer(SCANNER_SECRET))
        .await;
    assert_eq!(
        emu.token(SCANNER).expect("token")["last_used_on"],
        rfc3339(days(7))
    );
}

#[tokio::test]
async fn every_operation_answers_as_the_spec_says() {
    let emu = Emulator::start(base_world());
    let api = Api::new(&emu);
    let w = Cred::Bearer(WRITER_SECRET);
    let aw = Cred::Bearer(A_WRITER_SECRET);
    let missing = "00000000000000000000000000000000";
    let a = format!("/accounts/{ACC_A}/tokens");
    let expect = |r: Resp, status: u16| assert_eq!(r.status, status, "{}", r.text);

    expect(api.get("/user", Cred::Legacy).await, 200);
    expect(api.get("/user", Cred::None).await, 401);
    expect(
        api.get("/accounts", Cred::Bearer(SCANNER_SECRET)).await,
        200,
    );
    expect(api.get("/accounts?per_page=4", Cred::Legacy).await, 422);
    for (base, cred, secret_owner) in [
        ("/user/tokens".to_string(), w, TARGET),
        (a.clone(), aw, A_TARGET),
    ] {
        expect(
            api.get(&format!("{base}?per_page=50&include_expired=true"), cred)
                .await,
            200,
        );
        expect(api.get(&base, Cred::Bearer(DNS_SECRET)).await, 403);
        expect(
            api.get(&format!("{base}/permission_groups"), cred).await,
            200,
        );
        expect(
            api.get(&format!("{base}/permission_groups"), Cred::None)
                .await,
            401,
        );
        expect(api.get(&format!("{base}/verify"), cred).await, 200);
        expect(api.get(&format!("{base}/verify"), Cred::Legacy).await, 401);
        let created = api
            .send("POST", &base, cred, Some(create_body("spec")))
            .await;
        let id = created.result()["id"].as_str().expect("id").to_string();
        expect(created, 200);
        expect(
            api.send("POST", &base, cred, Some(json!({ "name": "x" })))
                .await,
            400,
        );
        expect(api.get(&format!("{base}/{secret_owner}"), cred).await, 200);
        expect(api.get(&format!("{base}/{missing}"), cred).await, 404);
        let body = json!({ "name": "spec 2", "policies": create_body("x")["policies"].clone(), "status": "disabled" });
        expect(
            api.send("PUT", &format!("{base}/{id}"), cred, Some(body))
                .await,
            200,
        );
        expect(
            api.send("PUT", &format!("{base}/{id}"), cred, Some(json!({})))
                .await,
            400,
        );
        expect(
            api.send("PUT", &format!("{base}/{id}/value"), cred, Some(json!({})))
                .await,
            200,
        );
        expect(
            api.send(
                "PUT",
                &format!("{base}/{missing}/value"),
                cred,
                Some(json!({})),
            )
            .await,
            404,
        );
        expect(
            api.send("DELETE", &format!("{base}/{id}"), cred, None)
                .await,
            200,
        );
        expect(
            api.send("DELETE", &format!("{base}/{id}"), cred, None)
                .await,
            404,
        );
    }

    let doc = spec_document();
    let mut all = BTreeSet::new();
    for (template, operations) in doc["paths"].as_object().expect("paths") {
        for method in operations.as_object().expect("ops").keys() {
            for class in ["200", "4XX"] {
                all.insert((method.to_uppercase(), template.clone(), class.to_string()));
            }
        }
    }
    assert_eq!(all.len(), 36);
    let seen = spec()
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let uncovered: Vec<_> = all.difference(&seen).collect();
    assert!(
        uncovered.is_empty(),
        "operations never validated: {uncovered:?}"
    );
}
