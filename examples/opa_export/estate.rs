//! A deterministic synthetic estate for the OPA parity check (issue 13): every token is
//! drawn from its index alone, so N tokens are always the same N tokens. It aims at what
//! two Rego engines could read differently rather than at realism: every threshold of the
//! default policy exactly, just below and just above (and .5 values that round); both
//! spellings of the IP condition key (`request_ip`, `request.ip`); IPv4 and IPv6 ranges on
//! both sides of the prefix limits, any-address entries, bare addresses, host bits set and
//! unparsable entries; account, all-accounts, zone, all-zones and nested all-zones
//! resources; group names as in the catalogue, in other cases, padded, with "Edit" for
//! "Write", missing, unknown to the catalogue, or non-ASCII; owners with and without a
//! catalogue; active, disabled, expired, past-expiry and not-yet-valid tokens.

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

/// Ids of the owners (the example snapshot's, so its catalogues fit).
const USER_ID: &str = "6d7f2f5f5b1d4a0e9081fdc98d432fd1";
const ACCOUNTS: [&str; 4] = [
    "023e105f4ecef8ad9ca31a8372d0c353",
    "e89c9a77049d5b206132592304af8da2",
    "5e2a0d1c9b8f4e7a6c3b2d1e0f9a8b7c",
    "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
];
const ZONES: [&str; 3] = [
    "12d905be344820a09312ac979c3587b1",
    "eb78d65290b24279ba6f44721b3ea3c4",
    "0c1f2e3d4c5b6a798877665544332211",
];
/// The user at its quota (DESIGN §9).
const USER_TOKENS: usize = 50;

/// Day offsets that sit on, around and between the default thresholds (14, 30, 90).
const AGES: [f64; 24] = [
    0.0, 0.5, 1.0, 2.5, 13.99, 14.0, 14.01, 29.99, 30.0, 30.01, 30.5, 45.25, 89.99, 90.0, 90.004,
    90.005, 90.01, 90.5, 91.0, 120.0, 182.5, 365.0, 400.125, 3650.0,
];
/// Days from now to expiry (negative: already past).
const EXPIRIES: [f64; 25] = [
    -400.0, -31.0, -30.01, -30.0, -29.99, -2.5, -1.0, 0.0, 0.001, 1.0, 13.99, 14.0, 14.005, 14.01,
    15.0, 30.0, 30.5, 60.0, 89.99, 90.0, 90.01, 91.0, 365.0, 366.0, 1000.0,
];
const CIDRS: [&str; 26] = [
    "203.0.113.0/24",
    "198.51.100.7",
    "10.0.0.0/8",
    "10.0.0.0/15",
    "10.0.0.0/16",
    "10.0.0.0/17",
    "0.0.0.0/0",
    "123.123.123.100/24",
    "192.0.2.1/32",
    "2001:db8::/32",
    "2001:db8::/47",
    "2001:db8::/48",
    "2001:db8:1::/64",
    "::/0",
    "::1",
    "2001:db8::1/128",
    "::ffff:10.0.0.1/104",
    "300.1.1.1/8",
    "10.0.0.0/255.0.0.0",
    "not-an-ip",
    "",
    "10.0.0.0/33",
    "2001:db8::/129",
    " 10.0.0.1",
    "10.0.0.0/-1",
    "fe80::1%eth0",
];
const NAMES: [&str; 9] = [
    "ci-deploy",
    "terraform-dns",
    "CI-nightly",
    "ci-",
    "workers-publish",
    "zoné-sync",
    "cert renewal",
    "backup-r2",
    "ci-Ärger",
];

/// splitmix64: a stable, tiny generator (so the estate never depends on a crate's choice).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn hex(&mut self) -> String {
        format!("{:016x}{:016x}", self.next(), self.next())
    }
}

fn at(now: DateTime<Utc>, days: f64) -> String {
    // Whole seconds, as the API writes times.
    let t = now + Duration::seconds((days * 86_400.0).round() as i64);
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A snapshot (`tokenwarden-snapshot/v1`) of `n` tokens: the user's 50 first, the rest over
/// four accounts; the third account's catalogue was not read.
pub fn snapshot(now: DateTime<Utc>, n: usize) -> Result<Value> {
    let example: Value = serde_json::from_str(include_str!("../snapshot.json"))?;
    let user_groups = example["user"]["permission_groups"].clone();
    let account_groups = example["accounts"][0]["permission_groups"].clone();
    let groups = |v: &Value| -> Result<Vec<(String, String)>> {
        v.as_array()
            .context("a catalogue")?
            .iter()
            .map(|g| {
                Ok((
                    g["id"].as_str().context("id")?.to_string(),
                    g["name"].as_str().context("name")?.to_string(),
                ))
            })
            .collect()
    };
    let (user_cat, account_cat) = (groups(&user_groups)?, groups(&account_groups)?);
    let user_n = n.min(USER_TOKENS);
    let user_tokens: Vec<Value> = (0..user_n)
        .map(|i| token(now, i, None, &user_cat, true))
        .collect();
    let mut accounts = Vec::new();
    let rest = n - user_n;
    let mut first = user_n;
    for (a, id) in ACCOUNTS.iter().enumerate() {
        let share = rest / ACCOUNTS.len() + usize::from(a < rest % ACCOUNTS.len());
        let range = first..first + share;
        first += share;
        let tokens: Vec<Value> = range
            .map(|i| token(now, i, Some(id), &account_cat, a != 2))
            .collect();
        let mut account = json!({"id": id, "name": format!("Synthetic {a}"), "tokens": tokens});
        if a != 2 {
            account["permission_groups"] = account_groups.clone();
        }
        accounts.push(account);
    }
    let scanner = user_tokens
        .first()
        .and_then(|t| t["id"].as_str())
        .map(str::to_string);
    Ok(json!({
        "format": "tokenwarden-snapshot/v1",
        "collected_at": at(now, 0.0),
        "scanner_token_id": scanner,
        "user": {"id": USER_ID, "tokens": user_tokens, "permission_groups": user_groups},
        "accounts": accounts,
        "not_evaluated": [],
    }))
}

/// Token `i`; `account` is None for the user's. `read` tells whether the owner's catalogue
/// is in the snapshot: without it a group with no name cannot be matched, and tokenwarden
/// reports the token as not evaluated (issue 12), so such groups are drawn only where the
/// catalogue was read.
fn token(
    now: DateTime<Utc>,
    i: usize,
    account: Option<&str>,
    catalogue: &[(String, String)],
    read: bool,
) -> Value {
    let mut r = Rng::new(i as u64);
    let mut t = Map::new();
    t.insert("id".into(), r.hex().into());
    match r.below(12) {
        0 => {}
        1 => {
            t.insert("name".into(), Value::Null);
        }
        _ => {
            t.insert("name".into(), format!("{}-{i}", r.pick(&NAMES)).into());
        }
    }
    // Every token has a status: without one, tokenwarden cannot tell whether it is
    // active and does not evaluate it (issue 12's fail-closed reading).
    let status = match r.below(20) {
        0..=12 | 19 => "active",
        13..=15 => "disabled",
        _ => "expired",
    };
    t.insert("status".into(), status.into());
    let age = *r.pick(&AGES);
    if !r.chance(3) {
        t.insert("issued_on".into(), at(now, -age).into());
    }
    match r.below(4) {
        0 => {}
        1 => {
            t.insert("modified_on".into(), at(now, -age).into());
        }
        _ => {
            let m = r.pick(&AGES).min(age);
            t.insert("modified_on".into(), at(now, -m).into());
        }
    }
    match r.below(10) {
        0 => {
            t.insert("not_before".into(), at(now, -r.pick(&AGES).min(age)).into());
        }
        1 => {
            t.insert(
                "not_before".into(),
                at(now, *r.pick(&[1.0, 0.0, 0.5])).into(),
            );
        }
        _ => {}
    }
    if !r.chance(25) {
        t.insert("expires_on".into(), at(now, *r.pick(&EXPIRIES)).into());
    }
    match r.below(10) {
        0..=2 => {}
        3 => {
            t.insert("last_used_on".into(), Value::Null);
        }
        _ => {
            t.insert(
                "last_used_on".into(),
                at(now, -r.pick(&AGES).min(age)).into(),
            );
        }
    }
    let policies: Vec<Value> = (0..1 + r.below(3))
        .map(|_| policy(&mut r, account, catalogue, read))
        .collect();
    t.insert("policies".into(), policies.into());
    if let Some(c) = condition(&mut r) {
        t.insert("condition".into(), c);
    }
    Value::Object(t)
}

fn condition(r: &mut Rng) -> Option<Value> {
    let key = if r.chance(50) {
        "request_ip"
    } else {
        "request.ip"
    };
    let list = |r: &mut Rng| -> Value {
        (0..r.below(4))
            .map(|_| Value::from(*r.pick(&CIDRS)))
            .collect::<Vec<_>>()
            .into()
    };
    match r.below(8) {
        0 => None,
        1 => Some(json!({})),
        2 => Some(json!({key: {"not_in": list(r)}})),
        3 => Some(json!({key: {"in": []}})),
        _ => {
            let (allow, deny) = (list(r), list(r));
            Some(json!({key: {"in": allow, "not_in": deny}}))
        }
    }
}

fn policy(r: &mut Rng, account: Option<&str>, catalogue: &[(String, String)], read: bool) -> Value {
    let acct = account.unwrap_or(ACCOUNTS[0]);
    let zone = *r.pick(&ZONES);
    let resources = match r.below(9) {
        0 => json!({format!("com.cloudflare.api.account.{acct}"): "*"}),
        1 => json!({"com.cloudflare.api.account.*": "*"}),
        2 => json!({format!("com.cloudflare.api.account.zone.{zone}"): "*"}),
        3 => json!({"com.cloudflare.api.account.zone.*": "*"}),
        4 => {
            json!({format!("com.cloudflare.api.account.{acct}"): {"com.cloudflare.api.account.zone.*": "*"}})
        }
        5 => {
            json!({format!("com.cloudflare.api.account.{acct}"): {format!("com.cloudflare.api.account.zone.{zone}"): "*"}})
        }
        6 => json!({format!("com.cloudflare.api.user.{USER_ID}"): "*"}),
        7 => json!({format!("com.cloudflare.edge.r2.bucket.{acct}_default_bucket"): "*"}),
        _ => json!({
            format!("com.cloudflare.api.account.zone.{zone}"): "*",
            "com.cloudflare.api.account.zone.*": "*",
        }),
    };
    // Mostly a few groups; sometimes enough for the "too many" rule on its own.
    let count = if r.chance(10) {
        9 + r.below(4)
    } else {
        r.below(4)
    };
    let groups: Vec<Value> = (0..count).map(|_| group(r, catalogue, read)).collect();
    let mut p = json!({"id": r.hex(), "resources": resources, "permission_groups": groups});
    match r.below(8) {
        0 => p["effect"] = "deny".into(),
        1 => {} // no effect: tokenwarden reads it as allow
        _ => p["effect"] = "allow".into(),
    }
    p
}

fn group(r: &mut Rng, catalogue: &[(String, String)], read: bool) -> Value {
    let (id, name) = r.pick(catalogue).clone();
    let edit = name.strip_suffix(" Write").map(|s| format!("{s} Edit"));
    match r.below(12) {
        0 if read => json!({"id": id}),
        1 if read => json!({"id": id, "name": ""}),
        2 => json!({"id": id, "name": name.to_lowercase()}),
        3 => json!({"id": id, "name": name.to_uppercase()}),
        4 => json!({"id": id, "name": format!("  {name} ")}),
        5 => json!({"id": id, "name": edit.unwrap_or(name)}),
        6 => json!({"id": r.hex(), "name": name}),
        7 => json!({"id": r.hex(), "name": "Unknown Group Write"}),
        8 => json!({"id": id, "name": name.replace(' ', "\u{a0}")}),
        9 => json!({"id": id, "name": name.replace("Write", "Wrİte")}),
        _ => json!({"id": id, "name": name}),
    }
}
