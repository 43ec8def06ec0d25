//! The emulator's state: clock, user, accounts, tokens with their current secrets,
//! permission-group catalogues, and the knobs (rate limit, latency, quotas) that tests set.
//!
//! Tokens are kept as verbatim `serde_json::Value` objects in the spec's `iam_token_base`
//! shape, so a test can put in exactly what Cloudflare would return (including odd or
//! malformed fields) and the emulator hands it back unchanged. [`token_json`] and
//! [`TokenPolicy`] build such objects tersely.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::catalogue::{account_catalogue, default_catalogue, group_id};

/// The user every world has unless a test changes it (the spec's example user id).
pub const USER_ID: &str = "6d7f2f5f5b1d4a0e9081fdc98d432fd1";
/// The user's e-mail, for `X-Auth-Email`.
pub const USER_EMAIL: &str = "alice@example.com";
/// The user's legacy Global API Key, for `X-Auth-Key` (37 hex characters, like the real ones).
pub const USER_API_KEY: &str = "c2547eb745079dac9320b638f5e225cf483cc";

/// Cloudflare's quota of user-owned tokens.
pub const USER_TOKEN_QUOTA: usize = 50;
/// Cloudflare's quota of account-owned tokens per account.
pub const ACCOUNT_TOKEN_QUOTA: usize = 500;

/// Who owns a token or a catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    /// The world's one user.
    User,
    /// An account, by id.
    Account(String),
}

impl Owner {
    /// Shorthand for `Owner::Account(id.to_string())`.
    pub fn account(id: &str) -> Owner {
        Owner::Account(id.to_string())
    }
}

/// The user behind the legacy key and the user-owned tokens.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    /// Legacy Global API Key (`X-Auth-Key`).
    pub api_key: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// A token as stored: the verbatim API object and its current secret.
#[derive(Debug, Clone)]
pub struct StoredToken {
    /// The `iam_token_base` object returned by the API (always has a string `id`).
    pub json: Value,
    /// The secret that authenticates as this token right now.
    pub secret: String,
}

impl StoredToken {
    /// The token's id (empty when the object has none, which `add_*_token` prevents).
    pub fn id(&self) -> &str {
        self.json.get("id").and_then(Value::as_str).unwrap_or("")
    }
}

/// An account: its tokens and its permission-group catalogue.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub name: String,
    /// `iam_account-type`: "standard" or "enterprise".
    pub account_type: String,
    pub created_on: DateTime<Utc>,
    /// Account-owned tokens by id (ordered, so listings are deterministic).
    pub tokens: BTreeMap<String, StoredToken>,
    /// Items of `GET /accounts/{id}/tokens/permission_groups`.
    pub catalogue: Vec<Value>,
    /// When set, every call to this account's endpoints answers 403, even with the legacy
    /// key, and the account is listed by `GET /accounts` for every credential.
    pub forbidden: bool,
}

/// Rate limit per credential: `requests` per `window`; past it every call of that
/// credential answers 429 for `block` (Cloudflare: 1200 per 5 minutes, blocked 5 minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub window: Duration,
    pub block: Duration,
}

impl RateLimit {
    /// A budget of `requests` per `window`, blocking for Cloudflare's 5 minutes when exceeded.
    pub fn new(requests: u32, window: Duration) -> RateLimit {
        RateLimit {
            requests,
            window,
            block: Duration::from_secs(300),
        }
    }

    /// Cloudflare's published limit: 1200 requests per 5 minutes, then 5 minutes blocked.
    pub fn cloudflare() -> RateLimit {
        RateLimit::new(1200, Duration::from_secs(300))
    }

    /// Changes how long a credential stays blocked after exceeding the budget.
    pub fn block_for(mut self, block: Duration) -> RateLimit {
        self.block = block;
        self
    }
}

/// The whole emulated Cloudflare: state plus configuration. Public fields may be changed
/// freely before `Emulator::start` or inside `Emulator::with_world`.
#[derive(Debug, Clone)]
pub struct World {
    /// The emulator's clock: stamps created/updated tokens and decides expiry.
    pub now: DateTime<Utc>,
    pub user: User,
    /// User-owned tokens by id.
    pub user_tokens: BTreeMap<String, StoredToken>,
    /// Items of `GET /user/tokens/permission_groups`.
    pub user_catalogue: Vec<Value>,
    /// Accounts by id.
    pub accounts: BTreeMap<String, Account>,
    /// `None` (the default): no limit and no `Ratelimit` headers.
    pub rate_limit: Option<RateLimit>,
    /// Added before every response (benchmarks use it to model a WAN round trip).
    pub latency: Duration,
    /// How long `FaultKind::Hang` holds a request before dropping the connection.
    pub hang_limit: Duration,
    /// When set, every authenticated token call sets that token's `last_used_on` to `now`.
    pub track_last_used: bool,
    /// When set (the default), create/update reject `condition.request_ip` entries that are
    /// not an IP or CIDR; clear it to let a test write tokens with broken conditions back.
    pub validate_ip_conditions: bool,
    pub user_token_quota: usize,
    pub account_token_quota: usize,
    /// Every secret handed to a token so far (set-up, create, roll), in order.
    pub secret_log: Vec<String>,
    /// Counter behind every generated id and secret, so runs are reproducible.
    pub(crate) seq: u64,
}

impl World {
    /// A world with the default user ([`USER_ID`], [`USER_EMAIL`], [`USER_API_KEY`]), the
    /// default catalogue, no accounts and no tokens.
    pub fn new(now: DateTime<Utc>) -> World {
        World {
            now,
            user: User {
                id: USER_ID.to_string(),
                email: USER_EMAIL.to_string(),
                api_key: USER_API_KEY.to_string(),
                first_name: Some("Alice".to_string()),
                last_name: None,
            },
            user_tokens: BTreeMap::new(),
            user_catalogue: default_catalogue(),
            accounts: BTreeMap::new(),
            rate_limit: None,
            latency: Duration::ZERO,
            hang_limit: Duration::from_secs(60),
            track_last_used: false,
            validate_ip_conditions: true,
            user_token_quota: USER_TOKEN_QUOTA,
            account_token_quota: ACCOUNT_TOKEN_QUOTA,
            secret_log: Vec::new(),
            seq: 0,
        }
    }

    /// Adds a standard account with the default account catalogue.
    pub fn add_account(&mut self, id: &str, name: &str) -> &mut World {
        let account = Account {
            id: id.to_string(),
            name: name.to_string(),
            account_type: "standard".to_string(),
            created_on: self.now,
            tokens: BTreeMap::new(),
            catalogue: account_catalogue(),
            forbidden: false,
        };
        self.accounts.insert(id.to_string(), account);
        self
    }

    /// Makes every call to this account's endpoints answer 403 (the account stays listed).
    ///
    /// # Panics
    /// When the account does not exist (a mistake in the test's setup).
    pub fn forbid_account(&mut self, id: &str) -> &mut World {
        self.account_mut(id).forbidden = true;
        self
    }

    /// Adds a user-owned token (an `iam_token_base` object with an `id`) with its secret.
    ///
    /// # Panics
    /// When `token` has no string `id`.
    pub fn add_user_token(&mut self, token: Value, secret: &str) -> &mut World {
        let stored = stored(token, secret);
        self.secret_log.push(secret.to_string());
        self.user_tokens.insert(stored.id().to_string(), stored);
        self
    }

    /// Adds an account-owned token to an existing account.
    ///
    /// # Panics
    /// When the account does not exist or `token` has no string `id`.
    pub fn add_account_token(
        &mut self,
        account_id: &str,
        token: Value,
        secret: &str,
    ) -> &mut World {
        let stored = stored(token, secret);
        self.secret_log.push(secret.to_string());
        self.account_mut(account_id)
            .tokens
            .insert(stored.id().to_string(), stored);
        self
    }

    /// Adds the user token tokenwarden typically scans with: "API Tokens Read" on the user
    /// and "Account API Tokens Read" on each of `read_accounts` (`"*"` = all accounts).
    /// It has no "User Details Read", so `GET /user` answers 403 for it, as the live API does.
    pub fn add_scanner_user_token(
        &mut self,
        id: &str,
        secret: &str,
        read_accounts: &[&str],
    ) -> &mut World {
        let mut token = token_json(id, "tokenwarden-scanner")
            .issued(self.now)
            .policy(TokenPolicy::allow(&["API Tokens Read"]).on_user(&self.user.id));
        if !read_accounts.is_empty() {
            let mut policy = TokenPolicy::allow(&["Account API Tokens Read"]);
            for account in read_accounts {
                policy = if *account == "*" {
                    policy.on_all_accounts()
                } else {
                    policy.on_account(account)
                };
            }
            token = token.policy(policy);
        }
        self.add_user_token(token.build(), secret)
    }

    /// Adds an account-owned token with "Account API Tokens Read" on its own account.
    pub fn add_scanner_account_token(
        &mut self,
        account_id: &str,
        id: &str,
        secret: &str,
    ) -> &mut World {
        let token = token_json(id, "tokenwarden-scanner")
            .issued(self.now)
            .policy(TokenPolicy::allow(&["Account API Tokens Read"]).on_account(account_id))
            .build();
        self.add_account_token(account_id, token, secret)
    }

    /// Replaces the permission-group catalogue of an owner.
    ///
    /// # Panics
    /// When the owner is an account that does not exist.
    pub fn set_catalogue(&mut self, owner: Owner, groups: Vec<Value>) -> &mut World {
        match owner {
            Owner::User => self.user_catalogue = groups,
            Owner::Account(id) => self.account_mut(&id).catalogue = groups,
        }
        self
    }

    /// The catalogue of an owner (empty for an unknown account).
    pub fn catalogue(&self, owner: &Owner) -> &[Value] {
        match owner {
            Owner::User => &self.user_catalogue,
            Owner::Account(id) => self
                .accounts
                .get(id)
                .map(|a| a.catalogue.as_slice())
                .unwrap_or(&[]),
        }
    }

    /// The tokens of an owner (`None` for an unknown account).
    pub fn tokens(&self, owner: &Owner) -> Option<&BTreeMap<String, StoredToken>> {
        match owner {
            Owner::User => Some(&self.user_tokens),
            Owner::Account(id) => self.accounts.get(id).map(|a| &a.tokens),
        }
    }

    pub(crate) fn tokens_mut(
        &mut self,
        owner: &Owner,
    ) -> Option<&mut BTreeMap<String, StoredToken>> {
        match owner {
            Owner::User => Some(&mut self.user_tokens),
            Owner::Account(id) => self.accounts.get_mut(id).map(|a| &mut a.tokens),
        }
    }

    /// Finds a token of any owner by id.
    pub fn find_token(&self, id: &str) -> Option<(Owner, &StoredToken)> {
        if let Some(t) = self.user_tokens.get(id) {
            return Some((Owner::User, t));
        }
        self.accounts
            .values()
            .find_map(|a| a.tokens.get(id).map(|t| (Owner::Account(a.id.clone()), t)))
    }

    /// The API object of a token of any owner.
    pub fn token(&self, id: &str) -> Option<&Value> {
        self.find_token(id).map(|(_, t)| &t.json)
    }

    /// Mutable access to a token of any owner.
    pub fn token_mut(&mut self, id: &str) -> Option<&mut StoredToken> {
        if self.user_tokens.contains_key(id) {
            return self.user_tokens.get_mut(id);
        }
        self.accounts
            .values_mut()
            .find_map(|a| a.tokens.get_mut(id))
    }

    /// Removes a token of any owner; returns whether it existed.
    pub fn remove_token(&mut self, id: &str) -> bool {
        if self.user_tokens.remove(id).is_some() {
            return true;
        }
        self.accounts
            .values_mut()
            .any(|a| a.tokens.remove(id).is_some())
    }

    /// Finds the token a secret currently authenticates as.
    pub fn token_by_secret(&self, secret: &str) -> Option<(Owner, &StoredToken)> {
        if let Some(t) = self.user_tokens.values().find(|t| t.secret == secret) {
            return Some((Owner::User, t));
        }
        self.accounts.values().find_map(|a| {
            a.tokens
                .values()
                .find(|t| t.secret == secret)
                .map(|t| (Owner::Account(a.id.clone()), t))
        })
    }

    /// Account ids in order.
    pub fn account_ids(&self) -> BTreeSet<String> {
        self.accounts.keys().cloned().collect()
    }

    /// Next value of the deterministic generator: 64 hex characters.
    pub(crate) fn next_hex(&mut self, purpose: &str) -> String {
        self.seq += 1;
        sha_hex(&format!("tokenwarden-emulator/{purpose}/{}", self.seq))
    }

    fn account_mut(&mut self, id: &str) -> &mut Account {
        match self.accounts.get_mut(id) {
            Some(a) => a,
            None => panic!("emulator world: no account {id:?}; call add_account first"),
        }
    }
}

fn stored(token: Value, secret: &str) -> StoredToken {
    if token.get("id").and_then(Value::as_str).is_none() {
        panic!("emulator world: a token needs a string \"id\": {token}");
    }
    StoredToken {
        json: token,
        secret: secret.to_string(),
    }
}

/// Lower-case hex SHA-256 of `input`.
pub(crate) fn sha_hex(input: &str) -> String {
    Sha256::digest(input.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// RFC 3339 with seconds and `Z`, as Cloudflare writes times.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Starts a token object: `token_json(id, name).policy(...).expires_on(t).build()`.
/// Without further calls it is `{"id", "name", "status": "active", "policies": []}`.
pub fn token_json(id: &str, name: &str) -> TokenBuilder {
    TokenBuilder {
        id: id.to_string(),
        name: name.to_string(),
        status: "active".to_string(),
        times: Map::new(),
        policies: Vec::new(),
        ip_in: None,
        ip_not_in: None,
    }
}

/// Builder for `iam_token_base` objects; see [`token_json`].
#[derive(Debug, Clone)]
pub struct TokenBuilder {
    id: String,
    name: String,
    status: String,
    times: Map<String, Value>,
    policies: Vec<TokenPolicy>,
    ip_in: Option<Vec<String>>,
    ip_not_in: Option<Vec<String>>,
}

impl TokenBuilder {
    pub fn status(mut self, status: &str) -> Self {
        self.status = status.to_string();
        self
    }
    /// Sets both `issued_on` and `modified_on`.
    pub fn issued(self, t: DateTime<Utc>) -> Self {
        self.issued_on(t).modified_on(t)
    }
    pub fn issued_on(self, t: DateTime<Utc>) -> Self {
        self.time("issued_on", t)
    }
    pub fn modified_on(self, t: DateTime<Utc>) -> Self {
        self.time("modified_on", t)
    }
    pub fn last_used_on(self, t: DateTime<Utc>) -> Self {
        self.time("last_used_on", t)
    }
    pub fn expires_on(self, t: DateTime<Utc>) -> Self {
        self.time("expires_on", t)
    }
    pub fn not_before(self, t: DateTime<Utc>) -> Self {
        self.time("not_before", t)
    }
    /// Sets a time field to an arbitrary string (e.g. a malformed date).
    pub fn raw_time(mut self, field: &str, value: &str) -> Self {
        self.times.insert(field.to_string(), json!(value));
        self
    }
    /// `condition.request_ip.in`.
    pub fn ip_in(mut self, cidrs: &[&str]) -> Self {
        self.ip_in = Some(cidrs.iter().map(|c| c.to_string()).collect());
        self
    }
    /// `condition.request_ip.not_in`.
    pub fn ip_not_in(mut self, cidrs: &[&str]) -> Self {
        self.ip_not_in = Some(cidrs.iter().map(|c| c.to_string()).collect());
        self
    }
    pub fn policy(mut self, policy: TokenPolicy) -> Self {
        self.policies.push(policy);
        self
    }

    fn time(mut self, field: &str, t: DateTime<Utc>) -> Self {
        self.times.insert(field.to_string(), json!(rfc3339(t)));
        self
    }

    /// The token object, keys in the order Cloudflare returns them.
    pub fn build(self) -> Value {
        let mut token = Map::new();
        token.insert("id".into(), json!(self.id));
        token.insert("name".into(), json!(self.name));
        token.insert("status".into(), json!(self.status));
        for field in [
            "issued_on",
            "modified_on",
            "last_used_on",
            "not_before",
            "expires_on",
        ] {
            if let Some(v) = self.times.get(field) {
                token.insert(field.into(), v.clone());
            }
        }
        for (field, v) in &self.times {
            if !token.contains_key(field) {
                token.insert(field.clone(), v.clone());
            }
        }
        let policies: Vec<Value> = self
            .policies
            .iter()
            .enumerate()
            .map(|(i, p)| p.to_json(&self.id, i))
            .collect();
        token.insert("policies".into(), Value::Array(policies));
        if self.ip_in.is_some() || self.ip_not_in.is_some() {
            let mut request_ip = Map::new();
            if let Some(list) = self.ip_in {
                request_ip.insert("in".into(), json!(list));
            }
            if let Some(list) = self.ip_not_in {
                request_ip.insert("not_in".into(), json!(list));
            }
            token.insert("condition".into(), json!({ "request_ip": request_ip }));
        }
        Value::Object(token)
    }
}

/// One policy of a token (named `TokenPolicy` as opposed to a governance policy).
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    id: Option<String>,
    effect: &'static str,
    groups: Vec<(String, String)>,
    resources: Map<String, Value>,
}

impl TokenPolicy {
    /// An allow policy granting groups named as in [`default_catalogue`].
    ///
    /// # Panics
    /// When a name is not in the default catalogue (use [`TokenPolicy::group`] for others).
    pub fn allow(groups: &[&str]) -> TokenPolicy {
        TokenPolicy::new("allow", groups)
    }

    /// A deny policy for groups named as in [`default_catalogue`].
    pub fn deny(groups: &[&str]) -> TokenPolicy {
        TokenPolicy::new("deny", groups)
    }

    fn new(effect: &'static str, groups: &[&str]) -> TokenPolicy {
        let groups = groups
            .iter()
            .map(|name| match group_id(name) {
                Some(id) => (id.to_string(), name.to_string()),
                None => panic!("emulator: {name:?} is not in the default catalogue"),
            })
            .collect();
        TokenPolicy {
            id: None,
            effect,
            groups,
            resources: Map::new(),
        }
    }

    /// Adds a permission group by id and name (e.g. one unknown to the catalogue).
    pub fn group(mut self, id: &str, name: &str) -> TokenPolicy {
        self.groups.push((id.to_string(), name.to_string()));
        self
    }
    /// Sets the policy id (default: derived from the token id and the policy's index).
    pub fn id(mut self, id: &str) -> TokenPolicy {
        self.id = Some(id.to_string());
        self
    }
    /// `com.cloudflare.api.user.<user_id>: "*"`.
    pub fn on_user(self, user_id: &str) -> TokenPolicy {
        self.resource(&format!("com.cloudflare.api.user.{user_id}"), json!("*"))
    }
    /// `com.cloudflare.api.account.<account_id>: "*"`.
    pub fn on_account(self, account_id: &str) -> TokenPolicy {
        self.resource(
            &format!("com.cloudflare.api.account.{account_id}"),
            json!("*"),
        )
    }
    /// `com.cloudflare.api.account.*: "*"`.
    pub fn on_all_accounts(self) -> TokenPolicy {
        self.resource("com.cloudflare.api.account.*", json!("*"))
    }
    /// `com.cloudflare.api.account.zone.*: "*"`.
    pub fn on_all_zones(self) -> TokenPolicy {
        self.resource("com.cloudflare.api.account.zone.*", json!("*"))
    }
    /// `com.cloudflare.api.account.zone.<zone_id>: "*"`.
    pub fn on_zone(self, zone_id: &str) -> TokenPolicy {
        self.resource(
            &format!("com.cloudflare.api.account.zone.{zone_id}"),
            json!("*"),
        )
    }
    /// `{"com.cloudflare.api.account.<id>": {"com.cloudflare.api.account.zone.*": "*"}}`.
    pub fn on_account_zones(self, account_id: &str) -> TokenPolicy {
        self.resource(
            &format!("com.cloudflare.api.account.{account_id}"),
            json!({ "com.cloudflare.api.account.zone.*": "*" }),
        )
    }
    /// Any resource key with a string or nested-object value.
    pub fn resource(mut self, key: &str, value: Value) -> TokenPolicy {
        self.resources.insert(key.to_string(), value);
        self
    }

    fn to_json(&self, token_id: &str, index: usize) -> Value {
        let id = match &self.id {
            Some(id) => id.clone(),
            None => sha_hex(&format!("{token_id}/policy/{index}"))[..32].to_string(),
        };
        let groups: Vec<Value> = self
            .groups
            .iter()
            .map(|(id, name)| json!({ "id": id, "name": name }))
            .collect();
        json!({
            "id": id,
            "effect": self.effect,
            "permission_groups": groups,
            "resources": self.resources,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::testkit::*;
    use crate::{now, Emulator, World};

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
}
