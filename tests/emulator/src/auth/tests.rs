//! Authentication and authorization through the HTTP API: which credentials are accepted,
//! which tokens may read the user, the user's tokens and which accounts' tokens, and which
//! accounts `GET /accounts` shows.

use serde_json::json;

use crate::testkit::*;
use crate::{days, now, token_json, AuthKind, Emulator, TokenPolicy, USER_EMAIL, USER_ID};

#[tokio::test]
async fn user_details_follow_the_credential() {
    let emu = Emulator::start(base_world());
    let api = Api::new(&emu);
    let legacy = api.get("/user", Cred::Legacy).await;
    assert_eq!(legacy.status, 200);
    assert_eq!(legacy.result()["id"], USER_ID);
    assert_eq!(legacy.result()["email"], USER_EMAIL);
    let with_details = api.get("/user", Cred::Bearer(WRITER_SECRET)).await;
    assert_eq!(with_details.status, 200, "Bearer works on GET /user too");
    // The spec's x-api-token-group: "User Details Read/Write".
    let scanner = api.get("/user", Cred::Bearer(SCANNER_SECRET)).await;
    assert_eq!((scanner.status, scanner.code()), (403, 9109));
    let account_token = api.get("/user", Cred::Bearer(A_READER_SECRET)).await;
    assert_eq!(account_token.status, 403);
}

#[tokio::test]
async fn missing_malformed_and_unknown_credentials_are_rejected() {
    let emu = Emulator::start(base_world());
    let api = Api::new(&emu);
    let none = api.get("/user/tokens", Cred::None).await;
    assert_eq!((none.status, none.code()), (401, 9106));
    let unknown = api.get("/user/tokens", Cred::Bearer("nope")).await;
    assert_eq!((unknown.status, unknown.code()), (401, 1000));
    assert_eq!(unknown.json["errors"][0]["message"], "Invalid API Token");

    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = format!("{}/user/tokens", emu.base_url());
    let basic = client
        .get(&url)
        .header("Authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .expect("send");
    assert_eq!(basic.status().as_u16(), 400);
    let wrong_key = client
        .get(&url)
        .header("X-Auth-Email", USER_EMAIL)
        .header("X-Auth-Key", "0000")
        .send()
        .await
        .expect("send");
    assert_eq!(wrong_key.status().as_u16(), 401);
    let only_email = client
        .get(&url)
        .header("X-Auth-Email", USER_EMAIL)
        .send()
        .await
        .expect("send");
    assert_eq!(only_email.status().as_u16(), 401);

    let kinds: Vec<AuthKind> = emu.requests().into_iter().map(|r| r.auth).collect();
    assert_eq!(
        kinds,
        vec![
            AuthKind::None,
            AuthKind::Bearer { token_id: None },
            AuthKind::Malformed,
            AuthKind::LegacyKey { valid: false },
            AuthKind::Malformed,
        ]
    );
}

#[tokio::test]
async fn inactive_tokens_do_not_authenticate() {
    let mut world = base_world();
    let read = || TokenPolicy::allow(&["API Tokens Read"]).on_user(USER_ID);
    let cases = [
        (
            "disabled",
            token_json("10000000000000000000000000000001", "d").status("disabled"),
        ),
        (
            "status-expired",
            token_json("10000000000000000000000000000002", "e").status("expired"),
        ),
        (
            "expires-now",
            token_json("10000000000000000000000000000003", "x").expires_on(now()),
        ),
        (
            "not-yet",
            token_json("10000000000000000000000000000004", "n").not_before(days(1)),
        ),
    ];
    for (secret, builder) in cases {
        world.add_user_token(builder.policy(read()).build(), secret);
    }
    let emu = Emulator::start(world);
    let api = Api::new(&emu);
    for secret in ["disabled", "status-expired", "expires-now", "not-yet"] {
        let r = api.get("/user/tokens/verify", Cred::Bearer(secret)).await;
        assert_eq!((r.status, r.code()), (401, 1000), "{secret}");
    }
    // The clock decides: two days later not_before has passed, and one day earlier the
    // token that expires "now" was still valid.
    emu.with_world(|w| w.now = days(2));
    assert_eq!(
        api.get("/user/tokens", Cred::Bearer("not-yet"))
            .await
            .status,
        200
    );
    emu.with_world(|w| w.now = days(-1));
    assert_eq!(
        api.get("/user/tokens", Cred::Bearer("expires-now"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn legacy_key_reaches_everything_but_forbidden_accounts() {
    let emu = Emulator::start(base_world());
    let api = Api::new(&emu);
    assert_eq!(api.get("/user/tokens", Cred::Legacy).await.status, 200);
    assert_eq!(
        api.get(&format!("/accounts/{ACC_A}/tokens"), Cred::Legacy)
            .await
            .status,
        200
    );
    assert_eq!(
        api.get(&format!("/accounts/{ACC_B}/tokens"), Cred::Legacy)
            .await
            .status,
        200
    );
    let locked = api
        .get(&format!("/accounts/{ACC_LOCKED}/tokens"), Cred::Legacy)
        .await;
    assert_eq!((locked.status, locked.code()), (403, 9109));
    let unknown = api
        .get(
            "/accounts/00000000000000000000000000000000/tokens",
            Cred::Legacy,
        )
        .await;
    assert_eq!(unknown.status, 403);
    assert_eq!(
        emu.requests()[0].auth,
        AuthKind::LegacyKey { valid: true },
        "the log tells the auth kind"
    );
}

#[tokio::test]
async fn user_token_endpoints_need_api_tokens_read_or_write() {
    let mut world = base_world();
    world.add_user_token(
        token_json("20000000000000000000000000000001", "denied")
            .policy(TokenPolicy::allow(&["API Tokens Read"]).on_user(USER_ID))
            .policy(TokenPolicy::deny(&["API Tokens Read"]).on_user(USER_ID))
            .build(),
        "denied",
    );
    world.add_user_token(
        token_json("20000000000000000000000000000002", "other user")
            .policy(
                TokenPolicy::allow(&["API Tokens Read"])
                    .on_user("ffffffffffffffffffffffffffffffff"),
            )
            .build(),
        "other-user",
    );
    let emu = Emulator::start(world);
    let api = Api::new(&emu);
    let scanner = api.get("/user/tokens", Cred::Bearer(SCANNER_SECRET)).await;
    assert_eq!(scanner.status, 200);
    assert!(scanner.ids().contains(&TARGET.to_string()));
    assert_eq!(
        api.get("/user/tokens", Cred::Bearer(WRITER_SECRET))
            .await
            .status,
        200,
        "Write implies read"
    );
    for secret in [DNS_SECRET, "denied", "other-user", A_READER_SECRET] {
        let r = api.get("/user/tokens", Cred::Bearer(secret)).await;
        assert_eq!((r.status, r.code()), (403, 9109), "{secret}");
    }
    // Reading is not writing.
    let roll = api
        .send(
            "PUT",
            &format!("/user/tokens/{TARGET}/value"),
            Cred::Bearer(SCANNER_SECRET),
            Some(json!({})),
        )
        .await;
    assert_eq!(roll.status, 403);
    assert_eq!(emu.current_secret(TARGET).as_deref(), Some(TARGET_SECRET));
}

#[tokio::test]
async fn account_token_endpoints_follow_the_callers_resources() {
    let mut world = base_world();
    world.add_user_token(
        token_json("30000000000000000000000000000001", "zones of A")
            .policy(TokenPolicy::allow(&["Account API Tokens Read"]).on_account_zones(ACC_A))
            .build(),
        "nested",
    );
    world.add_user_token(
        token_json("30000000000000000000000000000002", "all accounts")
            .policy(TokenPolicy::allow(&["Account API Tokens Read"]).on_all_accounts())
            .build(),
        "all-accounts",
    );
    world.add_account("c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0", "Third");
    let emu = Emulator::start(world);
    let api = Api::new(&emu);
    let status = |path: String, secret: &'static str| {
        let api = &api;
        async move { api.get(&path, Cred::Bearer(secret)).await.status }
    };
    let a = format!("/accounts/{ACC_A}/tokens");
    let b = format!("/accounts/{ACC_B}/tokens");
    let third = "/accounts/c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0/tokens".to_string();
    let locked = format!("/accounts/{ACC_LOCKED}/tokens");
    assert_eq!(status(a.clone(), SCANNER_SECRET).await, 200);
    assert_eq!(status(b.clone(), SCANNER_SECRET).await, 200);
    assert_eq!(
        status(third.clone(), SCANNER_SECRET).await,
        403,
        "not in its resources"
    );
    assert_eq!(
        status(third.clone(), "all-accounts").await,
        200,
        "account.* covers it"
    );
    assert_eq!(
        status(locked.clone(), "all-accounts").await,
        403,
        "forbidden wins"
    );
    assert_eq!(
        status(a.clone(), "nested").await,
        403,
        "zone access is not account access"
    );
    assert_eq!(status(a.clone(), A_READER_SECRET).await, 200, "own account");
    assert_eq!(
        status(b.clone(), A_READER_SECRET).await,
        403,
        "another account"
    );
    assert_eq!(status(a.clone(), DNS_SECRET).await, 403);
    let listed = api.get(&a, Cred::Bearer(A_READER_SECRET)).await;
    assert_eq!(listed.ids(), vec![A_READER, A_WRITER, A_TARGET]);
    // Writes need "Account API Tokens Write".
    let path = format!("/accounts/{ACC_A}/tokens/{A_TARGET}");
    let body = json!({ "name": "x", "policies": [] });
    let read_only = api
        .send("PUT", &path, Cred::Bearer(A_READER_SECRET), Some(body))
        .await;
    assert_eq!(read_only.status, 403);
}

#[tokio::test]
async fn accounts_list_shows_what_the_credential_can_see() {
    let mut world = base_world();
    world.add_user_token(
        token_json("40000000000000000000000000000001", "all")
            .policy(TokenPolicy::allow(&["Zone Read"]).on_all_accounts())
            .build(),
        "all",
    );
    let emu = Emulator::start(world);
    let api = Api::new(&emu);
    let ids = |r: &Resp| r.ids();
    let mut all = vec![ACC_A, ACC_B, ACC_LOCKED];
    all.sort_unstable();
    assert_eq!(ids(&api.get("/accounts", Cred::Legacy).await), all);
    assert_eq!(ids(&api.get("/accounts", Cred::Bearer("all")).await), all);
    let mut scanner = vec![ACC_A, ACC_B, ACC_LOCKED];
    scanner.sort_unstable();
    assert_eq!(
        ids(&api.get("/accounts", Cred::Bearer(SCANNER_SECRET)).await),
        scanner,
        "its accounts plus the visible-but-forbidden one"
    );
    let mut own = vec![ACC_A, ACC_LOCKED];
    own.sort_unstable();
    assert_eq!(
        ids(&api.get("/accounts", Cred::Bearer(A_READER_SECRET)).await),
        own
    );
    let dns = api.get("/accounts", Cred::Bearer(DNS_SECRET)).await;
    assert_eq!(ids(&dns), vec![ACC_LOCKED]);
    let by_name = api.get("/accounts?name=example", Cred::Legacy).await;
    assert_eq!(ids(&by_name), vec![ACC_A]);
    let first = &api.get("/accounts", Cred::Legacy).await.json["result"][0];
    assert_eq!(first["type"], "standard");
    assert!(first["name"].is_string());
}
