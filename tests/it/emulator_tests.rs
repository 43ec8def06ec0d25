//! Tests of the Cloudflare API emulator itself: every semantic the integration tests rely
//! on (auth, authorization, pagination, full-replacement updates, rolls, quotas, rate
//! limit, faults), and that every response validates against the response schema
//! `tests/fixtures/cloudflare/openapi-tokens.json` gives for its operation and status.
//!
//! All requests go through [`Api`], which validates each JSON answer of a spec operation
//! against the spec (unless a test injects faults), so every test also checks the shapes.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use tokenwarden_emulator::{
    account_catalogue, default_catalogue, group_id, rfc3339, token_json, AuthKind, Emulator, Fault,
    FaultKind, Owner, RateLimit, TokenPolicy, World, ACCOUNT_TOKEN_QUOTA, USER_API_KEY, USER_EMAIL,
    USER_ID, USER_TOKEN_QUOTA,
};

const ACC_A: &str = "023e105f4ecef8ad9ca31a8372d0c353";
const ACC_B: &str = "5a6e1d2c3b4f40718293a4b5c6d7e8f9";
const ACC_LOCKED: &str = "9f8e7d6c5b4a49382716f5e4d3c2b1a0";

/// User token: "API Tokens Read" on the user, "Account API Tokens Read" on A and B.
const SCANNER: &str = "ed17574386854bf78a67040be0a770b0";
const SCANNER_SECRET: &str = "scanner-secret-value";
/// User token: token writes everywhere, plus "User Details Read".
const WRITER: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const WRITER_SECRET: &str = "writer-secret-value";
/// User token with nothing token-related ("DNS Write" on all zones).
const DNS_ONLY: &str = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0";
const DNS_SECRET: &str = "dns-secret-value";
/// Account-owned tokens of A.
const A_READER: &str = "aaaa0000000000000000000000000001";
const A_READER_SECRET: &str = "a-reader-secret";
const A_WRITER: &str = "aaaa0000000000000000000000000002";
const A_WRITER_SECRET: &str = "a-writer-secret";
/// Plain targets for writes: a user token and an account token of A.
const TARGET: &str = "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a";
const TARGET_SECRET: &str = "target-secret-value";
const A_TARGET: &str = "aaaa0000000000000000000000000003";
const A_TARGET_SECRET: &str = "a-target-secret";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0)
        .single()
        .expect("valid date")
}

fn days(n: i64) -> DateTime<Utc> {
    now() + chrono::Duration::days(n)
}

fn base_world() -> World {
    let mut w = World::new(now());
    w.add_account(ACC_A, "Example Inc.")
        .add_account(ACC_B, "Other Corp")
        .add_account(ACC_LOCKED, "Locked Ltd")
        .forbid_account(ACC_LOCKED)
        .add_scanner_user_token(SCANNER, SCANNER_SECRET, &[ACC_A, ACC_B]);
    w.add_user_token(
        token_json(WRITER, "admin")
            .issued(days(-100))
            .policy(TokenPolicy::allow(&["API Tokens Write", "User Details Read"]).on_user(USER_ID))
            .policy(TokenPolicy::allow(&["Account API Tokens Write"]).on_all_accounts())
            .build(),
        WRITER_SECRET,
    );
    w.add_user_token(
        token_json(DNS_ONLY, "dns")
            .issued(days(-10))
            .policy(TokenPolicy::allow(&["DNS Write"]).on_all_zones())
            .build(),
        DNS_SECRET,
    );
    w.add_user_token(
        token_json(TARGET, "ci-deploy")
            .issued(days(-400))
            .last_used_on(days(-2))
            .not_before(days(-400))
            .expires_on(days(30))
            .ip_in(&["203.0.113.0/24"])
            .policy(TokenPolicy::allow(&["DNS Write"]).on_account_zones(ACC_A))
            .build(),
        TARGET_SECRET,
    );
    w.add_account_token(
        ACC_A,
        token_json(A_READER, "a-reader")
            .issued(days(-5))
            .policy(TokenPolicy::allow(&["Account API Tokens Read"]).on_account(ACC_A))
            .build(),
        A_READER_SECRET,
    );
    w.add_account_token(
        ACC_A,
        token_json(A_WRITER, "a-writer")
            .issued(days(-5))
            .policy(TokenPolicy::allow(&["Account API Tokens Write"]).on_account(ACC_A))
            .build(),
        A_WRITER_SECRET,
    );
    w.add_account_token(
        ACC_A,
        token_json(A_TARGET, "a-workers")
            .issued(days(-50))
            .policy(TokenPolicy::allow(&["Workers Scripts Write"]).on_account(ACC_A))
            .build(),
        A_TARGET_SECRET,
    );
    w
}

// ---------------------------------------------------------------------------------------
// HTTP helper with spec validation
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Cred<'a> {
    None,
    Bearer(&'a str),
    Legacy,
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
    json: Value,
}

impl Resp {
    fn code(&self) -> i64 {
        self.json["errors"][0]["code"].as_i64().unwrap_or(0)
    }
    fn result(&self) -> &Value {
        &self.json["result"]
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn ids(&self) -> Vec<String> {
        self.result()
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

struct Api {
    client: reqwest::Client,
    base: String,
    /// Validate spec operations' answers (off in fault tests, whose answers are broken).
    validate: bool,
}

impl Api {
    fn new(emu: &Emulator) -> Api {
        Api::with_timeout(emu, Duration::from_secs(20))
    }

    fn with_timeout(emu: &Emulator, timeout: Duration) -> Api {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .build()
            .expect("reqwest client");
        Api {
            client,
            base: emu.base_url(),
            validate: true,
        }
    }

    async fn try_send(
        &self,
        method: &str,
        path: &str,
        cred: Cred<'_>,
        body: Option<Vec<u8>>,
    ) -> reqwest::Result<Resp> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        req = match cred {
            Cred::None => req,
            Cred::Bearer(secret) => req.bearer_auth(secret),
            Cred::Legacy => req
                .header("X-Auth-Email", USER_EMAIL)
                .header("X-Auth-Key", USER_API_KEY),
        };
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let response = req.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        let resp = Resp {
            status,
            headers,
            text,
            json,
        };
        if self.validate {
            let path_only = path.split('?').next().unwrap_or(path);
            validate_against_spec(method.as_str(), path_only, &resp);
        }
        Ok(resp)
    }

    async fn send(&self, method: &str, path: &str, cred: Cred<'_>, body: Option<Value>) -> Resp {
        let body = body.map(|b| serde_json::to_vec(&b).expect("json"));
        self.try_send(method, path, cred, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    async fn get(&self, path: &str, cred: Cred<'_>) -> Resp {
        self.send("GET", path, cred, None).await
    }
}

// ---------------------------------------------------------------------------------------
// The spec's response schemas as JSON Schema validators
// ---------------------------------------------------------------------------------------

struct SpecValidators {
    /// (method, path template, "200" | "4XX") → validator.
    by_operation: HashMap<(String, String, String), jsonschema::Validator>,
    templates: Vec<String>,
    /// Operations seen answering, for the coverage check.
    seen: std::sync::Mutex<BTreeSet<(String, String, String)>>,
}

fn spec_document() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cloudflare/openapi-tokens.json"
    );
    let text = std::fs::read_to_string(path).expect("spec fixture");
    serde_json::from_str(&text).expect("spec is JSON")
}

/// OpenAPI 3.0 → JSON Schema: `nullable: true` becomes a `"null"` type (and enum member).
fn translate_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(t)) = map.get("type").cloned() {
                    map.insert("type".into(), json!([t, "null"]));
                }
                if let Some(Value::Array(values)) = map.get_mut("enum") {
                    if !values.contains(&Value::Null) {
                        values.push(Value::Null);
                    }
                }
            }
            map.values_mut().for_each(translate_nullable);
        }
        Value::Array(items) => items.iter_mut().for_each(translate_nullable),
        _ => {}
    }
}

fn spec() -> &'static SpecValidators {
    static SPEC: OnceLock<SpecValidators> = OnceLock::new();
    SPEC.get_or_init(|| {
        let doc = spec_document();
        let mut components = doc["components"].clone();
        translate_nullable(&mut components);
        let mut by_operation = HashMap::new();
        let paths = doc["paths"].as_object().expect("paths");
        for (template, operations) in paths {
            for (method, operation) in operations.as_object().expect("operations") {
                for (status, response) in operation["responses"].as_object().expect("responses") {
                    let mut schema = response["content"]["application/json"]["schema"].clone();
                    translate_nullable(&mut schema);
                    // `$ref: "#/components/..."` resolves against this root document.
                    schema["components"] = components.clone();
                    let validator = jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .should_validate_formats(true)
                        .build(&schema)
                        .unwrap_or_else(|e| panic!("schema of {method} {template} {status}: {e}"));
                    by_operation.insert(
                        (method.to_uppercase(), template.clone(), status.clone()),
                        validator,
                    );
                }
            }
        }
        SpecValidators {
            by_operation,
            templates: paths.keys().cloned().collect(),
            seen: std::sync::Mutex::new(BTreeSet::new()),
        }
    })
}

/// The spec's path template for a concrete path (literal segments win over parameters).
fn template_for(path: &str) -> Option<String> {
    let actual: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    spec()
        .templates
        .iter()
        .filter_map(|t| {
            let pattern: Vec<&str> = t.split('/').filter(|s| !s.is_empty()).collect();
            let fits = pattern.len() == actual.len()
                && pattern
                    .iter()
                    .zip(&actual)
                    .all(|(p, a)| p.starts_with('{') || p == a);
            let literals = pattern.iter().filter(|p| !p.starts_with('{')).count();
            fits.then_some((literals, t))
        })
        .max_by_key(|(literals, _)| *literals)
        .map(|(_, t)| t.clone())
}

fn validate_against_spec(method: &str, path: &str, resp: &Resp) {
    let Some(template) = template_for(path) else {
        return;
    };
    let class = match resp.status {
        200 => "200",
        400..=499 => "4XX",
        _ => return,
    };
    let key = (method.to_string(), template.clone(), class.to_string());
    let Some(validator) = spec().by_operation.get(&key) else {
        // Method not in the spec for this path (a 405): the generic failure shape applies.
        assert_eq!(resp.status, 405, "{method} {path}: no spec operation");
        assert_failure_shape(&resp.json);
        return;
    };
    let errors: Vec<String> = validator
        .iter_errors(&resp.json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} → {}: body does not match the spec:\n{}\n{}",
        resp.status,
        errors.join("\n"),
        resp.text
    );
    if class == "4XX" {
        assert_failure_shape(&resp.json);
    }
    spec()
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key);
}

fn assert_failure_shape(body: &Value) {
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["result"], Value::Null, "{body}");
    let errors = body["errors"].as_array().expect("errors array");
    assert!(
        !errors.is_empty(),
        "a failure names at least one error: {body}"
    );
    assert!(errors[0]["code"].as_u64().is_some_and(|c| c >= 1000));
}

#[test]
fn spec_validators_reject_wrong_shapes() {
    let check = |method: &str, template: &str, class: &str, result: Value| {
        let key = (method.to_string(), template.to_string(), class.to_string());
        let success = class == "200";
        let errors = if success {
            json!([])
        } else {
            json!([{ "code": 1000, "message": "m" }])
        };
        let body =
            json!({ "success": success, "errors": errors, "messages": [], "result": result });
        spec().by_operation[&key].is_valid(&body)
    };
    let list = |result: Value| check("GET", "/user/tokens", "200", result);
    assert!(list(json!([{ "id": "x", "status": "active" }])));
    assert!(!list(json!([{ "id": 5 }])));
    assert!(!list(json!([{ "status": "paused" }])));
    assert!(
        !list(json!([{ "expires_on": "tomorrow" }])),
        "formats are checked"
    );
    let failure = |result: Value| check("GET", "/user/tokens", "4XX", result);
    assert!(failure(Value::Null), "nullable: true became a null type");
    assert!(!failure(json!({})));
    let deleted = |id: &str| {
        check(
            "DELETE",
            "/user/tokens/{token_id}",
            "200",
            json!({ "id": id }),
        )
    };
    assert!(deleted(TARGET));
    assert!(!deleted("short"), "identifiers are 32 characters");
    let user = |first_name: Value| {
        let result = json!({ "id": USER_ID, "email": USER_EMAIL, "first_name": first_name });
        check("GET", "/user", "200", result)
    };
    assert!(user(Value::Null));
    assert!(!user(json!(7)));
}

// ---------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Authorization
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Pagination and filters
// ---------------------------------------------------------------------------------------

fn many_tokens_world(n: usize) -> World {
    let mut world = base_world();
    for i in 0..n {
        world.add_user_token(
            token_json(&format!("b{i:031x}"), &format!("bulk {i}"))
                .issued(days(-1))
                .policy(TokenPolicy::allow(&["Zone Read"]).on_all_zones())
                .build(),
            &format!("bulk-secret-{i}"),
        );
    }
    world
}

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

// ---------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------

fn create_body(name: &str) -> Value {
    json!({
        "name": name,
        "policies": [{
            "effect": "allow",
            "permission_groups": [{ "id": group_id("DNS Read") }],
            "resources": { "com.cloudflare.api.account.zone.*": "*" },
        }],
        "condition": { "request_ip": { "in": ["198.51.100.0/24"], "not_in": ["198.51.100.7"] } },
        "expires_on": rfc3339(days(90)),
    })
}

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

// ---------------------------------------------------------------------------------------
// Rate limit
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn rate_limit_blocks_every_call_of_the_credential() {
    let mut world = base_world();
    world.rate_limit =
        Some(RateLimit::new(3, Duration::from_secs(60)).block_for(Duration::from_secs(1)));
    let emu = Emulator::start(world);
    let api = Api::new(&emu);
    let scan = Cred::Bearer(SCANNER_SECRET);
    for remaining in [2, 1, 0] {
        let r = api.get("/user/tokens", scan).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("ratelimit"),
            Some(format!("\"default\";r={remaining};t=60").as_str())
        );
        assert_eq!(r.header("ratelimit-policy"), Some("\"default\";q=3;w=60"));
    }
    let limited = api.get("/user/tokens", scan).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert!(limited.header("ratelimit").is_some());
    let other_endpoint = api.get(&format!("/accounts/{ACC_A}/tokens"), scan).await;
    assert_eq!(other_endpoint.status, 429, "every call is blocked");
    assert_eq!(
        api.get("/user/tokens", Cred::Bearer(WRITER_SECRET))
            .await
            .status,
        200,
        "per credential"
    );
    assert_eq!(emu.too_many_requests(), 2);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = api.get("/user/tokens", scan).await;
    assert_eq!(after.status, 200, "the block ends");
    assert_eq!(
        after.header("ratelimit"),
        Some("\"default\";r=2;t=60"),
        "with a fresh window"
    );
}

#[tokio::test]
async fn no_rate_limit_by_default() {
    let emu = Emulator::start(base_world());
    let api = Api::new(&emu);
    for _ in 0..30 {
        let r = api
            .get("/user/tokens/verify", Cred::Bearer(SCANNER_SECRET))
            .await;
        assert_eq!(r.status, 200);
        assert!(r.header("ratelimit").is_none());
    }
    assert_eq!(emu.too_many_requests(), 0);
}

// ---------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------

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
async fn hang_outlasts_the_client_timeout() {
    let mut world = base_world();
    world.hang_limit = Duration::from_millis(600);
    let emu = Emulator::start(world);
    let api = Api::with_timeout(&emu, Duration::from_millis(150));
    emu.inject(Fault::on("GET", "/user/tokens", FaultKind::Hang).nth(1));
    let err = api
        .try_send("GET", "/user/tokens", Cred::Bearer(SCANNER_SECRET), None)
        .await
        .expect_err("hangs");
    assert!(err.is_timeout(), "{err}");
    assert_eq!(emu.requests()[0].status, None, "no answer was sent");
    // Past the hang limit the connection is closed without an answer, however patient
    // the client.
    let patient = Api::with_timeout(&emu, Duration::from_secs(10));
    emu.inject(Fault::on("GET", "/user/tokens/verify", FaultKind::Hang));
    let started = Instant::now();
    let closed = patient
        .try_send(
            "GET",
            "/user/tokens/verify",
            Cred::Bearer(SCANNER_SECRET),
            None,
        )
        .await
        .expect_err("closed without an answer");
    assert!(!closed.is_timeout(), "{closed}");
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the hang is bounded"
    );
    assert_eq!(
        api.get("/user/tokens", Cred::Bearer(SCANNER_SECRET))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn drop_after_apply_changes_state_but_loses_the_answer() {
    let emu = Emulator::start(base_world());
    let api = Api::new(&emu);
    emu.inject(Fault::on("PUT", "/user/tokens/*/value", FaultKind::DropAfterApply).nth(1));
    let err = api
        .try_send(
            "PUT",
            &format!("/user/tokens/{TARGET}/value"),
            Cred::Bearer(WRITER_SECRET),
            Some(b"{}".to_vec()),
        )
        .await
        .expect_err("no response");
    assert!(!err.is_timeout(), "{err}");
    let rolled = emu.current_secret(TARGET).expect("token");
    assert_ne!(rolled, TARGET_SECRET, "the roll happened");
    assert_eq!(
        api.get("/user/tokens/verify", Cred::Bearer(TARGET_SECRET))
            .await
            .status,
        401
    );
    let log = emu.requests();
    assert_eq!((log[0].method.as_str(), log[0].status), ("PUT", None));
    assert_eq!(emu.write_requests(), 1);
    let retry = api
        .send(
            "PUT",
            &format!("/user/tokens/{TARGET}/value"),
            Cred::Bearer(WRITER_SECRET),
            Some(json!({})),
        )
        .await;
    assert_eq!(retry.status, 200, "the next attempt answers");
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
    use tokenwarden_emulator::WorldEdit;
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

// ---------------------------------------------------------------------------------------
// Log, helpers, catalogue
// ---------------------------------------------------------------------------------------

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
async fn scanner_helpers_grant_read_only_access() {
    let mut world = World::new(now());
    world
        .add_account(ACC_A, "A")
        .add_account(ACC_B, "B")
        .add_scanner_user_token(SCANNER, SCANNER_SECRET, &["*"])
        .add_scanner_account_token(ACC_B, A_READER, A_READER_SECRET);
    let emu = Emulator::start(world);
    let api = Api::new(&emu);
    let scan = Cred::Bearer(SCANNER_SECRET);
    assert_eq!(api.get("/user/tokens", scan).await.status, 200);
    assert_eq!(
        api.get(&format!("/accounts/{ACC_A}/tokens"), scan)
            .await
            .status,
        200
    );
    assert_eq!(
        api.get(&format!("/accounts/{ACC_B}/tokens"), scan)
            .await
            .status,
        200
    );
    assert_eq!(
        api.send("POST", "/user/tokens", scan, Some(create_body("x")))
            .await
            .status,
        403
    );
    let own = Cred::Bearer(A_READER_SECRET);
    assert_eq!(
        api.get(&format!("/accounts/{ACC_B}/tokens"), own)
            .await
            .ids(),
        vec![A_READER]
    );
    assert_eq!(
        api.get(&format!("/accounts/{ACC_A}/tokens"), own)
            .await
            .status,
        403
    );
}

#[test]
fn default_catalogue_is_realistic() {
    let doc = spec_document();
    let item = &doc["components"]["schemas"]["iam_permissions_group_response_collection"]
        ["properties"]["result"]["items"]["properties"];
    let scopes: Vec<Value> = item["scopes"]["items"]["enum"]
        .as_array()
        .expect("enum")
        .clone();
    let categories: Vec<Value> = item["category"]["enum"].as_array().expect("enum").clone();
    let catalogue = default_catalogue();
    assert!(catalogue.len() >= 30);
    let mut ids = BTreeSet::new();
    let mut names = BTreeSet::new();
    for group in &catalogue {
        let id = group["id"].as_str().expect("id");
        assert!(
            id.len() == 32
                && id
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "{id}"
        );
        assert!(ids.insert(id.to_string()), "duplicate id {id}");
        assert!(names.insert(group["name"].as_str().expect("name").to_string()));
        for scope in group["scopes"].as_array().expect("scopes") {
            assert!(scopes.contains(scope), "{scope}");
        }
        assert!(categories.contains(&group["category"]));
    }
    for name in [
        "API Tokens Read",
        "API Tokens Write",
        "Account API Tokens Read",
        "Account API Tokens Write",
        "Memberships Read",
        "Memberships Write",
        "DNS Read",
        "DNS Write",
        "Zone Read",
        "Zone Write",
        "Zone Settings Write",
        "Account Settings Read",
        "Account Settings Write",
        "Billing Read",
        "Billing Write",
        "Workers Scripts Read",
        "Workers Scripts Write",
        "Cloudflare Tunnel Write",
        "SSL and Certificates Write",
        "Firewall Services Write",
        "Access: Apps and Policies Write",
        "Workers KV Storage Read",
        "Workers KV Storage Write",
        "User Details Read",
    ] {
        assert!(names.contains(name), "{name}");
    }
    let scope_of = |name: &str| {
        catalogue
            .iter()
            .find(|g| g["name"] == name)
            .map(|g| g["scopes"][0].clone())
    };
    assert_eq!(
        scope_of("API Tokens Write"),
        Some(json!("com.cloudflare.api.user"))
    );
    assert_eq!(
        scope_of("Account API Tokens Read"),
        Some(json!("com.cloudflare.api.account"))
    );
    assert_eq!(
        scope_of("DNS Write"),
        Some(json!("com.cloudflare.api.account.zone"))
    );
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

// ---------------------------------------------------------------------------------------
// Every operation, success and failure, against the spec
// ---------------------------------------------------------------------------------------

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
