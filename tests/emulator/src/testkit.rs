//! What the emulator's unit tests share: a world with accounts and tokens of every kind
//! (scanner, writer, account-owned, plain targets), request bodies, and [`Api`], an HTTP
//! client that checks every JSON answer of a spec operation against the spec (`spec.rs`).

mod spec;

use std::time::Duration;

use serde_json::{json, Value};

use crate::{
    days, group_id, now, rfc3339, token_json, Emulator, TokenPolicy, World, USER_API_KEY,
    USER_EMAIL, USER_ID,
};

pub use spec::{spec, spec_document};

pub const ACC_A: &str = "023e105f4ecef8ad9ca31a8372d0c353";
pub const ACC_B: &str = "5a6e1d2c3b4f40718293a4b5c6d7e8f9";
pub const ACC_LOCKED: &str = "9f8e7d6c5b4a49382716f5e4d3c2b1a0";

/// User token: "API Tokens Read" on the user, "Account API Tokens Read" on A and B.
pub const SCANNER: &str = "ed17574386854bf78a67040be0a770b0";
pub const SCANNER_SECRET: &str = "scanner-secret-value";
/// User token: token writes everywhere, plus "User Details Read".
pub const WRITER: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
pub const WRITER_SECRET: &str = "writer-secret-value";
/// User token with nothing token-related ("DNS Write" on all zones).
pub const DNS_ONLY: &str = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0";
pub const DNS_SECRET: &str = "dns-secret-value";
/// Account-owned tokens of A.
pub const A_READER: &str = "aaaa0000000000000000000000000001";
pub const A_READER_SECRET: &str = "a-reader-secret";
pub const A_WRITER: &str = "aaaa0000000000000000000000000002";
pub const A_WRITER_SECRET: &str = "a-writer-secret";
/// Plain targets for writes: a user token and an account token of A.
pub const TARGET: &str = "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a";
pub const TARGET_SECRET: &str = "target-secret-value";
pub const A_TARGET: &str = "aaaa0000000000000000000000000003";
pub const A_TARGET_SECRET: &str = "a-target-secret";

/// Accounts A, B and a forbidden one; the user tokens [`SCANNER`], [`WRITER`], [`DNS_ONLY`]
/// and [`TARGET`]; the account tokens [`A_READER`], [`A_WRITER`] and [`A_TARGET`] of A.
pub fn base_world() -> World {
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

/// [`base_world`] with `n` more user tokens (ids `b…`), for pagination and quotas.
pub fn many_tokens_world(n: usize) -> World {
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

/// A valid create body: DNS Read on all zones, an IP condition, 90 days to live.
pub fn create_body(name: &str) -> Value {
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

#[derive(Debug, Clone, Copy)]
pub enum Cred<'a> {
    None,
    Bearer(&'a str),
    Legacy,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    pub fn code(&self) -> i64 {
        self.json["errors"][0]["code"].as_i64().unwrap_or(0)
    }
    pub fn result(&self) -> &Value {
        &self.json["result"]
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn ids(&self) -> Vec<String> {
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

pub struct Api {
    client: reqwest::Client,
    base: String,
    /// Validate spec operations' answers (off in fault tests, whose answers are broken).
    pub validate: bool,
}

impl Api {
    pub fn new(emu: &Emulator) -> Api {
        Api::with_timeout(emu, Duration::from_secs(20))
    }

    pub fn with_timeout(emu: &Emulator, timeout: Duration) -> Api {
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

    pub async fn try_send(
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
            spec::validate_against_spec(method.as_str(), path_only, &resp);
        }
        Ok(resp)
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        cred: Cred<'_>,
        body: Option<Value>,
    ) -> Resp {
        let body = body.map(|b| serde_json::to_vec(&b).expect("json"));
        self.try_send(method, path, cred, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub async fn get(&self, path: &str, cred: Cred<'_>) -> Resp {
        self.send("GET", path, cred, None).await
    }
}
