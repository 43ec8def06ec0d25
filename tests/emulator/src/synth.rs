//! Deterministic synthetic token estates for the scale benchmark (issue 5). The
//! integration tests (`tests/it/synthetic.rs`) check that the binary scans one completely,
//! with every default rule firing, in the fewest requests.
//!
//! An estate is a description (counts and ids); every token object is generated on demand
//! from its owner and index, so a 100,000-token snapshot is streamed to disk without being
//! held in memory, and the same estate can also be loaded into the Cloudflare emulator.
//! The mix is shaped like a managed-service provider's: the user at most at its quota of
//! 50 tokens, accounts of at most 500 (docs/architecture.md §9 quotas); user- and account-owned tokens;
//! active, disabled, expired and past-expiry tokens; never-used and long-unused ones; IPv4
//! and IPv6 conditions, valid, too broad and unparsable; account, nested all-zones,
//! single-zone, top-level all-zones and all-accounts resources; read groups, sensitive and
//! privilege-escalating write groups, deny policies, too many groups and group ids unknown
//! to the owner's catalogue. Every rule of the default pack fires somewhere in 1,000 tokens.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::Value;

use crate::{
    account_catalogue, default_catalogue, rfc3339, token_json, TokenBuilder, TokenPolicy, World,
    ACCOUNT_TOKEN_QUOTA, USER_ID, USER_TOKEN_QUOTA,
};

/// The token the scanner authenticates with: the user's first token.
pub const SCANNER_ID: &str = "ed17574386854bf78a67040be0a770b0";
/// Its secret in an emulated world (never written to a snapshot).
pub const SCANNER_SECRET: &str = "cfut_bench0scanner0secret0do0not0print";
/// `per_page` of every list the scanner reads.
pub const PER_PAGE: usize = 50;

const READ: &[&str] = &[
    "Zone Read",
    "DNS Read",
    "Zone Settings Read",
    "SSL and Certificates Read",
    "Firewall Services Read",
    "Analytics Read",
    "Account Settings Read",
    "Workers Scripts Read",
    "Workers KV Storage Read",
    "Workers R2 Storage Read",
    "Cloudflare Tunnel Read",
    "Access: Apps and Policies Read",
    "Account Analytics Read",
    "Billing Read",
];
const PLAIN_WRITE: &[&str] = &[
    "Workers KV Storage Write",
    "Workers R2 Storage Write",
    "Cache Purge",
    "Page Rules Write",
];
const SENSITIVE_WRITE: &[&str] = &[
    "DNS Write",
    "Zone Write",
    "Zone Settings Write",
    "Workers Scripts Write",
    "Cloudflare Tunnel Write",
    "SSL and Certificates Write",
    "Firewall Services Write",
    "Access: Apps and Policies Write",
    "Account Settings Write",
    "Billing Write",
];
const PURPOSES: &[&str] = &[
    "terraform-dns",
    "ci-deploy",
    "workers-publish",
    "cert-renewal",
    "cache-purge",
    "analytics-export",
    "tunnel-connector",
    "backup-r2",
    "zero-trust-sync",
    "legacy-script",
    "billing-report",
    "waf-tuning",
];
const BROAD: &[&str] = &["0.0.0.0/0", "10.0.0.0/8", "2001:db8::/32", "::/0"];
const INVALID: &[&str] = &[
    "10.0.0.0/255.0.0.0",
    "not-an-ip",
    "300.1.2.3/24",
    "2001:db8::/129",
    "198.51.100.0/33",
];

/// splitmix64's finalizer: a bijection on u64, so distinct seeds give distinct ids.
fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A splitmix64 stream: reproducible draws without a rand crate.
struct Draw(u64);

impl Draw {
    fn new(seed: u64) -> Draw {
        Draw(finalize(seed ^ 0x746f_6b65_6e77_6172))
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        finalize(self.0)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// The bucket 0..100 this draw falls in.
    fn percent(&mut self) -> u64 {
        self.below(100)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.percent() < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn days(&mut self, n: u64) -> Duration {
        Duration::days(self.below(n) as i64)
    }
}

fn hex_id(seed: u64) -> String {
    format!("{:016x}{:016x}", finalize(seed), finalize(!seed))
}

/// One account of an estate.
#[derive(Debug, Clone)]
pub struct SynthAccount {
    pub id: String,
    pub name: String,
    pub tokens: usize,
}

/// A synthetic estate: the user's tokens (the scanner's included) and the accounts'.
#[derive(Debug, Clone)]
pub struct Estate {
    pub now: DateTime<Utc>,
    pub user_tokens: usize,
    pub accounts: Vec<SynthAccount>,
}

/// Who owns a generated token.
#[derive(Clone, Copy)]
enum Owner<'a> {
    User,
    Account(usize, &'a str),
}

impl Estate {
    /// `user_tokens` user-owned tokens (at least the scanner's) and `accounts` accounts of
    /// `per_account` tokens each.
    pub fn new(
        now: DateTime<Utc>,
        user_tokens: usize,
        accounts: usize,
        per_account: usize,
    ) -> Estate {
        Estate {
            now,
            user_tokens: user_tokens.max(1),
            accounts: (0..accounts)
                .map(|a| SynthAccount {
                    id: hex_id(0x00ac_c000_0000 + a as u64),
                    name: format!("Customer {:03} Ltd", a + 1),
                    tokens: per_account,
                })
                .collect(),
        }
    }

    /// Exactly `total` tokens as a provider would hold them: the user's up to its quota,
    /// the rest in accounts filled up to theirs (the last one takes the remainder).
    pub fn of_size(now: DateTime<Utc>, total: usize) -> Estate {
        let user = total.clamp(1, USER_TOKEN_QUOTA);
        let rest = total.saturating_sub(user);
        let mut estate = Estate::new(
            now,
            user,
            rest.div_ceil(ACCOUNT_TOKEN_QUOTA),
            ACCOUNT_TOKEN_QUOTA,
        );
        if let Some(last) = estate.accounts.last_mut() {
            last.tokens = rest - ACCOUNT_TOKEN_QUOTA * (rest.div_ceil(ACCOUNT_TOKEN_QUOTA) - 1);
        }
        estate
    }

    pub fn token_count(&self) -> usize {
        self.user_tokens + self.accounts.iter().map(|a| a.tokens).sum::<usize>()
    }

    /// The fewest requests a full scan can make (issue 5 item 1): verify, the user's pages
    /// and catalogue, the account list's pages, and each account's pages and catalogue.
    /// An empty list still costs one page.
    pub fn minimum_requests(&self) -> usize {
        let pages = |n: usize| n.div_ceil(PER_PAGE).max(1);
        1 + pages(self.user_tokens)
            + 1
            + pages(self.accounts.len())
            + self
                .accounts
                .iter()
                .map(|a| pages(a.tokens) + 1)
                .sum::<usize>()
    }

    /// The scanner's token: reads the user's tokens and every account's.
    fn scanner_token(&self) -> Value {
        let mut accounts = TokenPolicy::allow(&["Account API Tokens Read"]);
        for a in &self.accounts {
            accounts = accounts.on_account(&a.id);
        }
        let mut b = token_json(SCANNER_ID, "tokenwarden-scanner")
            .issued(self.now - Duration::days(20))
            .last_used_on(self.now - Duration::hours(6))
            .expires_on(self.now + Duration::days(70))
            .ip_in(&["198.51.100.0/24", "2001:db8:1200::/48"])
            .policy(TokenPolicy::allow(&["API Tokens Read"]).on_user(USER_ID));
        if !self.accounts.is_empty() {
            b = b.policy(accounts);
        }
        b.build()
    }

    /// The `k`-th user-owned token (0 is the scanner's).
    pub fn user_token(&self, k: usize) -> Value {
        if k == 0 {
            return self.scanner_token();
        }
        self.token(Owner::User, k)
    }

    /// The `k`-th token of account number `a`.
    pub fn account_token(&self, a: usize, k: usize) -> Value {
        self.token(Owner::Account(a, &self.accounts[a].id), k)
    }

    fn token(&self, owner: Owner<'_>, k: usize) -> Value {
        let owner_no = match owner {
            Owner::User => 0,
            Owner::Account(a, _) => a as u64 + 1,
        };
        let seed = (owner_no << 32) | k as u64;
        let mut d = Draw::new(seed);
        let now = self.now;
        let id = hex_id(seed);
        let name = format!("{}-{k}", d.pick(PURPOSES));
        let age = 1 + d.below(900);
        let issued = now - Duration::days(age as i64) - Duration::seconds(d.below(86_400) as i64);
        let mut modified = if d.chance(30) {
            issued + d.days(age)
        } else {
            issued
        };
        let mut status = "active";
        let expires = match d.percent() {
            // Disabled some time ago, with or without an expiry.
            0..=9 => {
                status = "disabled";
                modified = (now - d.days(120)).max(issued);
                d.chance(50).then(|| now + Duration::days(10) + d.days(200))
            }
            // Expired and flagged so by Cloudflare.
            10..=16 => {
                status = "expired";
                Some(now - Duration::days(1) - d.days(age))
            }
            // Past expires_on while the status still says active.
            17..=18 => Some(now - Duration::hours(1 + d.below(48) as i64)),
            _ => match d.percent() {
                0..=24 => None,
                25..=34 => Some(now + Duration::hours(d.below(14 * 24) as i64)),
                _ => Some(now + Duration::days(15) + d.days(400)),
            },
        };
        let mut b = token_json(&id, &name)
            .status(status)
            .issued_on(issued)
            .modified_on(modified.min(now));
        match d.percent() {
            0..=14 => {} // never used
            15..=74 => {
                let used = now - Duration::minutes(d.below(30 * 24 * 60) as i64);
                b = b.last_used_on(used.max(issued));
            }
            _ => b = b.last_used_on((now - Duration::days(91) - d.days(300)).max(issued)),
        }
        match d.percent() {
            0..=7 => b = b.not_before(issued),
            8 => b = b.not_before(now + Duration::days(1) + d.days(5)),
            _ => {}
        }
        if let Some(t) = expires {
            b = b.expires_on(t);
        }
        b = condition(b, &mut d);
        for policy in policies(owner, &self.accounts, &mut d) {
            b = b.policy(policy);
        }
        b.build()
    }

    /// Writes the estate as a `tokenwarden-snapshot/v1` file, pretty-printed as
    /// `tokenwarden snapshot` writes it, streaming one token at a time.
    pub fn write_snapshot(&self, path: &Path) -> io::Result<()> {
        let mut out = BufWriter::new(File::create(path)?);
        serde_json::to_writer_pretty(&mut out, &SnapshotDoc(self))?;
        writeln!(out)?;
        out.flush()
    }

    /// An emulator world holding the estate; the scanner authenticates with
    /// [`SCANNER_SECRET`], every other token with a secret derived from its id.
    pub fn world(&self) -> World {
        let mut w = World::new(self.now);
        for a in &self.accounts {
            w.add_account(&a.id, &a.name);
        }
        w.add_user_token(self.user_token(0), SCANNER_SECRET);
        for k in 1..self.user_tokens {
            let t = self.user_token(k);
            let secret = secret_of(&t);
            w.add_user_token(t, &secret);
        }
        for (a, account) in self.accounts.iter().enumerate() {
            for k in 0..account.tokens {
                let t = self.account_token(a, k);
                let secret = secret_of(&t);
                w.add_account_token(&account.id, t, &secret);
            }
        }
        w
    }
}

fn secret_of(token: &Value) -> String {
    format!("cfat_{}", token["id"].as_str().unwrap_or_default())
}

fn condition(b: TokenBuilder, d: &mut Draw) -> TokenBuilder {
    let v4 = |d: &mut Draw| {
        let net = d.pick(&["203.0.113", "198.51.100", "192.0.2"]);
        format!("{net}.{}/{}", d.below(256), 24 + d.below(9))
    };
    let v6 = |d: &mut Draw| format!("2001:db8:{:x}::/{}", d.below(0xffff), 48 + d.below(17));
    let allow: Vec<String> = match d.percent() {
        0..=29 => Vec::new(),
        30..=54 => vec![v4(d)],
        55..=64 => vec![v6(d)],
        65..=72 => vec![v4(d), v6(d), "198.51.100.7".to_string()],
        73..=79 => vec![d.pick(BROAD).to_string()],
        80..=84 => {
            let mut list = vec![d.pick(INVALID).to_string()];
            if d.chance(50) {
                list.push(v4(d));
            }
            list
        }
        85..=91 => {
            let allow = v4(d);
            return b.ip_in(&[&allow]).ip_not_in(&["203.0.113.128/25"]);
        }
        // A deny list alone restricts nothing (token-no-ip-restriction).
        _ => return b.ip_not_in(&["192.0.2.0/24"]),
    };
    if allow.is_empty() {
        return b;
    }
    b.ip_in(&allow.iter().map(String::as_str).collect::<Vec<_>>())
}

fn policies(owner: Owner<'_>, accounts: &[SynthAccount], d: &mut Draw) -> Vec<TokenPolicy> {
    let zone = hex_id(d.next());
    let mut groups: Vec<&str> = if d.chance(3) {
        // More than max_permission_groups (10) distinct groups.
        READ[..11 + d.below(3) as usize].to_vec()
    } else {
        (0..1 + d.below(3)).map(|_| d.pick(READ)).collect()
    };
    if d.chance(25) {
        groups.push(d.pick(SENSITIVE_WRITE));
    }
    if d.chance(10) {
        groups.push(d.pick(PLAIN_WRITE));
    }
    let escalates = d.chance(4);
    groups.sort_unstable();
    groups.dedup();
    let mut allow = TokenPolicy::allow(&groups);
    if d.chance(2) {
        // A group the owner's catalogue does not list (token-unknown-permission-group).
        allow = allow.group("f0e1d2c3b4a5968778695a4b3c2d1e0f", "Legacy Zone Edit");
    }
    let scoped = |p: TokenPolicy, d: &mut Draw| -> TokenPolicy {
        let own = match owner {
            Owner::Account(_, id) => Some(id.to_string()),
            Owner::User if !accounts.is_empty() => {
                Some(accounts[d.below(accounts.len() as u64) as usize].id.clone())
            }
            Owner::User => None,
        };
        match (d.percent(), own) {
            (0..=39, Some(a)) => p.on_account(&a),
            (40..=64, Some(a)) => p.on_account_zones(&a),
            (65..=79, _) => p.on_zone(&zone),
            (80..=87, _) => p.on_all_zones(),
            (88..=92, _) => p.on_all_accounts(),
            (_, Some(a)) => {
                let other = &accounts[d.below(accounts.len() as u64) as usize].id;
                p.on_account(&a).on_account(other)
            }
            (_, None) => p.on_zone(&zone),
        }
    };
    let mut out = vec![scoped(allow, d)];
    if escalates {
        out.push(match owner {
            Owner::Account(_, id) => {
                TokenPolicy::allow(&["Account API Tokens Write"]).on_account(id)
            }
            Owner::User => {
                TokenPolicy::allow(&[d.pick(&["API Tokens Write", "Memberships Write"])])
                    .on_user(USER_ID)
            }
        });
    }
    if d.chance(8) {
        out.push(TokenPolicy::deny(&["DNS Write"]).on_zone(&zone));
    }
    out
}

/// Serializes the snapshot document with the token lists generated lazily.
struct SnapshotDoc<'a>(&'a Estate);

struct Tokens<'a> {
    estate: &'a Estate,
    owner: Option<usize>,
}

struct AccountDoc<'a> {
    estate: &'a Estate,
    index: usize,
}

struct Accounts<'a>(&'a Estate);

impl Serialize for SnapshotDoc<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("format", "tokenwarden-snapshot/v1")?;
        m.serialize_entry("collected_at", &rfc3339(e.now))?;
        m.serialize_entry("scanner_token_id", SCANNER_ID)?;
        m.serialize_entry("user", &UserDoc(e))?;
        m.serialize_entry("accounts", &Accounts(e))?;
        m.serialize_entry("not_evaluated", &Vec::<Value>::new())?;
        m.end()
    }
}

struct UserDoc<'a>(&'a Estate);

impl Serialize for UserDoc<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", USER_ID)?;
        let tokens = Tokens {
            estate: self.0,
            owner: None,
        };
        m.serialize_entry("tokens", &tokens)?;
        m.serialize_entry("permission_groups", &default_catalogue())?;
        m.end()
    }
}

impl Serialize for Accounts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((0..self.0.accounts.len()).map(|index| AccountDoc {
            estate: self.0,
            index,
        }))
    }
}

impl Serialize for AccountDoc<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let account = &self.estate.accounts[self.index];
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &account.id)?;
        m.serialize_entry("name", &account.name)?;
        let tokens = Tokens {
            estate: self.estate,
            owner: Some(self.index),
        };
        m.serialize_entry("tokens", &tokens)?;
        m.serialize_entry("permission_groups", &account_catalogue())?;
        m.end()
    }
}

impl Serialize for Tokens<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.estate;
        match self.owner {
            None => s.collect_seq((0..e.user_tokens).map(|k| e.user_token(k))),
            Some(a) => s.collect_seq((0..e.accounts[a].tokens).map(|k| e.account_token(a, k))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::now;

    #[test]
    fn of_size_fills_the_user_then_accounts_up_to_their_quotas() {
        for total in [1, 50, 51, 550, 1_000, 1_051] {
            let estate = Estate::of_size(now(), total);
            assert_eq!(estate.token_count(), total);
            assert_eq!(estate.user_tokens, total.min(USER_TOKEN_QUOTA));
            let sizes: Vec<usize> = estate.accounts.iter().map(|a| a.tokens).collect();
            assert!(
                sizes.iter().all(|&n| n > 0 && n <= ACCOUNT_TOKEN_QUOTA),
                "{sizes:?}"
            );
            let full = sizes.len().saturating_sub(1);
            assert!(
                sizes[..full].iter().all(|&n| n == ACCOUNT_TOKEN_QUOTA),
                "only the last account is not full: {total}: {sizes:?}"
            );
        }
    }

    #[test]
    fn minimum_requests_count_every_page_and_catalogue() {
        // Verify, one user page, the user catalogue, one (empty) account-list page.
        assert_eq!(Estate::new(now(), 1, 0, 0).minimum_requests(), 4);
        // 51 user tokens: two pages; 2 accounts of 50 and of 0: one page and a catalogue each.
        let mut estate = Estate::new(now(), 51, 2, 50);
        estate.accounts[1].tokens = 0;
        assert_eq!(estate.minimum_requests(), 1 + 2 + 1 + 1 + 2 * 2);
    }

    #[test]
    fn tokens_are_generated_the_same_every_time_with_distinct_ids() {
        let (a, b) = (Estate::new(now(), 20, 2, 30), Estate::new(now(), 20, 2, 30));
        let mut ids = std::collections::BTreeSet::new();
        for k in 0..20 {
            assert_eq!(a.user_token(k), b.user_token(k));
            assert!(ids.insert(a.user_token(k)["id"].to_string()));
        }
        for k in 0..30 {
            assert_eq!(a.account_token(1, k), b.account_token(1, k));
            assert!(ids.insert(a.account_token(1, k)["id"].to_string()));
        }
        assert_eq!(
            a.user_token(0)["id"],
            SCANNER_ID,
            "the scanner's token comes first"
        );
    }

    #[test]
    fn the_world_holds_every_token_with_the_scanner_secret() {
        let estate = Estate::new(now(), 5, 2, 7);
        let world = estate.world();
        assert_eq!(world.user_tokens.len(), 5);
        assert_eq!(world.accounts.len(), 2);
        assert!(world.accounts.values().all(|a| a.tokens.len() == 7));
        let (_, scanner) = world.token_by_secret(SCANNER_SECRET).expect("the scanner");
        assert_eq!(scanner.id(), SCANNER_ID);
    }
}
