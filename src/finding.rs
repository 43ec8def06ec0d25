//! Findings and what they are made of: severity, action, fail-on threshold, evidence, the
//! raw finding a rule returns and the governed finding a report shows, the fingerprint and
//! the deterministic order. A leaf: it knows nothing of policies or rules; governance (the
//! one choke point where the policy meets the findings) is `policy::govern`.

use std::fmt;
use std::str::FromStr;

use std::sync::Arc;
use strum::IntoEnumIterator;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::scope::Owner;

/// A name that is none of an enum's values, e.g. `severity = "urgent"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?} (expected {expected})")]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// Parse one of `T`'s lowercase names (as strum derives them).
fn parse_name<T>(s: &str, kind: &'static str, expected: &'static str) -> Result<T, UnknownName>
where
    T: IntoEnumIterator + Into<&'static str> + Copy,
{
    T::iter()
        .find(|v| <T as Into<&'static str>>::into(*v) == s)
        .ok_or_else(|| UnknownName {
            kind,
            value: s.to_string(),
            expected,
        })
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL_DESC: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// GitHub code scanning's `security-severity` (docs/architecture.md §7).
    pub fn security_severity(self) -> &'static str {
        match self {
            Severity::Critical => "9.5",
            Severity::High => "8.0",
            Severity::Medium => "5.5",
            Severity::Low => "2.0",
        }
    }
}

impl FromStr for Severity {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name(s, "severity", "critical, high, medium or low")
    }
}

/// The remediation a finding asks for (docs/architecture.md §8).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Action {
    None,
    Roll,
    Replace,
    Disable,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl FromStr for Action {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name(s, "action", "none, roll, replace or disable")
    }
}

/// The `--fail-on` / `gate.fail_on` threshold.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum FailOn {
    Critical,
    High,
    Medium,
    Low,
    Never,
}

impl FailOn {
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Critical => Some(Severity::Critical),
            FailOn::High => Some(Severity::High),
            FailOn::Medium => Some(Severity::Medium),
            FailOn::Low => Some(Severity::Low),
            FailOn::Never => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl FromStr for FailOn {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name(s, "level", "critical, high, medium, low or never")
    }
}

/// A finding's evidence object, held as its compact JSON text: a scan of 100,000 tokens
/// keeps some 300,000 of them, and a JSON tree each would be most of the scan's memory.
#[derive(Clone)]
pub struct Evidence(Box<serde_json::value::RawValue>);

impl Evidence {
    /// `{}`.
    pub fn empty() -> Evidence {
        // "{}" is valid JSON; the default (`null`) only keeps this free of panics.
        Evidence(serde_json::value::RawValue::from_string("{}".into()).unwrap_or_default())
    }

    /// Evidence from anything that serializes to JSON; an error (e.g. an object with a
    /// non-string key) is the caller's to report, never silently emptied.
    pub fn from_json<T: Serialize + ?Sized>(v: &T) -> Result<Evidence, serde_json::Error> {
        serde_json::value::to_raw_value(v).map(Evidence)
    }

    /// The evidence as a JSON tree (for the few readers that look inside).
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }

    pub fn json(&self) -> &str {
        self.0.get()
    }
}

impl fmt::Debug for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.get())
    }
}

impl PartialEq for Evidence {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Serialize for Evidence {
    /// Re-emitted event by event rather than verbatim, so a pretty report stays pretty
    /// (and no JSON tree is built on the way).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut de = serde_json::Deserializer::from_str(self.0.get());
        serde_transcode::transcode(&mut de, s)
    }
}

/// What a rule returned for one token, before the policy is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFinding {
    pub rule_id: String,
    /// The rule's metadata severity, or the finding's own `severity` when it set one.
    pub severity: Severity,
    pub default_action: Action,
    pub owner: Arc<Owner>,
    pub token_id: Arc<str>,
    pub token_name: Option<Arc<str>>,
    pub message: String,
    pub evidence: Evidence,
}

/// The exemption that suppressed a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExemptedBy {
    pub rule: String,
    pub token: String,
    pub reason: String,
    /// Who answers for the exemption (its `owner` key): not the token's owner.
    #[serde(rename = "owner")]
    pub contact: String,
    pub expires: NaiveDate,
}

/// A finding after governance: final severity, action, exemption and fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub rule_id: String,
    pub severity: Severity,
    pub token_id: Arc<str>,
    pub token_name: Option<Arc<str>>,
    pub owner: Arc<Owner>,
    pub message: String,
    pub evidence: Evidence,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exempted_by: Option<Box<ExemptedBy>>,
    pub fingerprint: String,
}

impl Finding {
    pub fn is_exempted(&self) -> bool {
        self.exempted_by.is_some()
    }
}

/// Stable across runs and machines: rule id + owner + token id (docs/architecture.md §7).
pub fn fingerprint(rule_id: &str, owner: &Owner, token_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"tokenwarden/v1\0");
    h.update(rule_id.as_bytes());
    h.update(b"\0");
    h.update(owner.path().as_bytes());
    h.update(b"\0");
    h.update(token_id.as_bytes());
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deterministic order: by owner, token, then most severe first, rule, message.
pub fn sort_findings(findings: &mut [Finding]) {
    // Sort positions, not findings, so no key (message included) is ever copied: a large
    // estate has hundreds of thousands of findings (issue 5's memory target). The owner's
    // path is built once per run of findings that share an owner.
    let mut paths: Vec<Arc<str>> = Vec::with_capacity(findings.len());
    let mut last: Option<(&Arc<Owner>, Arc<str>)> = None;
    for f in findings.iter() {
        let path = match &last {
            Some((owner, path)) if Arc::ptr_eq(owner, &f.owner) || ***owner == *f.owner => {
                path.clone()
            }
            _ => Arc::from(f.owner.path()),
        };
        last = Some((&f.owner, path.clone()));
        paths.push(path);
    }
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&findings[a], &findings[b]);
        paths[a]
            .cmp(&paths[b])
            .then_with(|| x.token_id.cmp(&y.token_id))
            .then_with(|| y.severity.cmp(&x.severity))
            .then_with(|| x.rule_id.cmp(&y.rule_id))
            .then_with(|| x.message.cmp(&y.message))
    });
    drop(paths);
    permute(findings, &mut order);
}

/// Rearrange `items` so that position `k` holds what was at `order[k]`, in place, by
/// following each cycle of the permutation (`order` is used up as the visited marks).
fn permute<T>(items: &mut [T], order: &mut [usize]) {
    for start in 0..items.len() {
        let mut at = start;
        loop {
            let from = order[at];
            order[at] = at;
            if from == start || from == at {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn evidence_keeps_numbers_exact_and_reads_back() {
        // 941 days 3:53:44 in days: the shortest exact rendering has 16 digits after the
        // point; without serde_json's float_roundtrip the last one came out wrong.
        let days = 81_316_424_000_f64 / 86_400_000.0;
        let v: regorus::Value = [(regorus::Value::from("d"), regorus::Value::from(days))]
            .into_iter()
            .collect::<regorus::value::Object>()
            .into_value();
        let e = Evidence::from_json(&v).unwrap();
        assert_eq!(e.json(), r#"{"d":941.1623148148149}"#);
        assert_eq!(e.value()["d"].as_f64(), Some(days));
        assert_eq!(
            serde_json::to_string_pretty(&e).unwrap(),
            "{\n  \"d\": 941.1623148148149\n}"
        );
        assert_eq!(Evidence::empty().json(), "{}");
    }

    #[test]
    fn severity_order_and_parse() {
        assert!(Severity::Critical > Severity::High && Severity::Medium > Severity::Low);
        assert_eq!("high".parse::<Severity>().unwrap(), Severity::High);
        assert!("High".parse::<Severity>().is_err());
        assert_eq!("never".parse::<FailOn>().unwrap(), FailOn::Never);
        assert!("sometimes".parse::<FailOn>().is_err());
    }

    #[test]
    fn fingerprint_is_stable_and_distinguishes_owner() {
        let u = Owner::User {
            id: Some("u".into()),
        };
        let a = Owner::Account {
            id: "a".into(),
            name: None,
        };
        assert_eq!(fingerprint("r", &u, "t"), fingerprint("r", &u, "t"));
        assert_ne!(fingerprint("r", &u, "t"), fingerprint("r", &a, "t"));
        assert_ne!(fingerprint("r", &u, "t"), fingerprint("s", &u, "t"));
        // The user id is not part of it: the same user token keeps its fingerprint
        // whether or not the scan could read the user id.
        assert_eq!(
            fingerprint("r", &u, "t"),
            fingerprint("r", &Owner::User { id: None }, "t")
        );
        assert_eq!(fingerprint("r", &u, "t").len(), 32);
    }

    /// A finding of severity `sev`, exempted or not (shared with the governance tests).
    pub(crate) fn finding(sev: Severity, exempt: bool) -> Finding {
        Finding {
            rule_id: "r".into(),
            severity: sev,
            token_id: "t".into(),
            token_name: None,
            owner: Owner::User { id: None }.into(),
            message: String::new(),
            evidence: Evidence::empty(),
            action: Action::None,
            exempted_by: exempt.then(|| {
                Box::new(ExemptedBy {
                    rule: "r".into(),
                    token: "t".into(),
                    reason: "x".into(),
                    contact: "o".into(),
                    expires: NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
                })
            }),
            fingerprint: String::new(),
        }
    }

    #[test]
    fn permute_moves_every_item_to_its_place() {
        // Every permutation of five items, including fixed points and long cycles.
        let n = 5;
        let mut perms = vec![vec![]];
        for _ in 0..n {
            perms = perms
                .into_iter()
                .flat_map(|p: Vec<usize>| {
                    (0..n)
                        .filter(|i| !p.contains(i))
                        .map(|i| {
                            let mut q = p.clone();
                            q.push(i);
                            q
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
        }
        assert_eq!(perms.len(), 120);
        for p in perms {
            let mut items: Vec<char> = "abcde".chars().collect();
            let want: Vec<char> = p.iter().map(|&i| items[i]).collect();
            let mut order = p.clone();
            permute(&mut items, &mut order);
            assert_eq!(items, want, "order {p:?}");
        }
    }

    #[test]
    fn findings_sort_by_owner_token_severity_rule_message() {
        let user = Arc::new(Owner::User { id: None });
        let acc = |id: &str| {
            Arc::new(Owner::Account {
                id: id.into(),
                name: None,
            })
        };
        let (a, b) = (acc("a"), acc("b"));
        let mk = |owner: &Arc<Owner>, token: &str, sev, rule: &str, msg: &str| Finding {
            rule_id: rule.into(),
            token_id: token.into(),
            owner: owner.clone(),
            message: msg.into(),
            ..finding(sev, false)
        };
        let mut fs = vec![
            mk(&b, "t1", Severity::Low, "r1", "m"),
            mk(&a, "t2", Severity::Low, "r1", "m"),
            mk(&a, "t1", Severity::Low, "r2", "m"),
            mk(&a, "t1", Severity::High, "r9", "m"),
            mk(&a, "t1", Severity::Low, "r2", "l"),
            mk(&user, "t9", Severity::Low, "r1", "m"),
            mk(&a, "t1", Severity::Low, "r1", "z"),
        ];
        sort_findings(&mut fs);
        let got: Vec<String> = fs
            .iter()
            .map(|f| {
                format!(
                    "{} {} {} {} {}",
                    f.owner.path(),
                    f.token_id,
                    f.severity.as_str(),
                    f.rule_id,
                    f.message
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                "accounts/a t1 high r9 m",
                "accounts/a t1 low r1 z",
                "accounts/a t1 low r2 l",
                "accounts/a t1 low r2 m",
                "accounts/a t2 low r1 m",
                "accounts/b t1 low r1 m",
                "user t9 low r1 m",
            ]
        );
    }
}
