//! Stale exemptions (as cargo-deny reports unused skips): an exemption that has expired,
//! or that matched no finding although the scan saw every token it could apply to. Both
//! are governance debt: the first no longer suppresses anything, the second hides nothing
//! today but would silently hide a future finding. `--strict-exemptions` turns them into
//! a configuration error (exit 2).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::finding::Finding;
use crate::policy::Exemption;
use crate::reach::Reach;

/// Why an exemption is stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Staleness {
    /// Past its `expires` day: it no longer applies.
    Expired,
    /// Active, but no finding of the scan matched it.
    Unmatched,
}

impl Staleness {
    pub fn as_str(self) -> &'static str {
        match self {
            Staleness::Expired => "expired",
            Staleness::Unmatched => "unmatched",
        }
    }
}

/// One stale exemption, with where it is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleExemption {
    pub why: Staleness,
    pub rule: String,
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub reason: String,
    /// Who answers for the exemption (its `owner` key).
    #[serde(rename = "owner")]
    pub contact: String,
    pub expires: NaiveDate,
    /// The file it is written in and the line of its `[[exemptions]]` header.
    pub file: String,
    pub line: usize,
    /// Findings it matches (for an expired one: findings that count again).
    pub matching_findings: usize,
}

impl StaleExemption {
    /// `file:line`, the place to edit.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// One line for stderr, the table and markdown.
    pub fn message(&self) -> String {
        let what = format!(
            "exemption at {} (rule {}, token {}{})",
            self.location(),
            self.rule,
            self.token,
            self.account
                .as_deref()
                .map(|a| format!(", account {a}"))
                .unwrap_or_default()
        );
        match self.why {
            Staleness::Expired => format!(
                "{what} expired on {}; it no longer applies{}: renew it with a new expiry or remove it",
                self.expires,
                match self.matching_findings {
                    0 => String::new(),
                    1 => " and 1 finding counts again".to_string(),
                    n => format!(" and {n} findings count again"),
                }
            ),
            Staleness::Unmatched => format!(
                "{what} matched no finding: remove it, or fix its rule or token pattern"
            ),
        }
    }
}

/// The stale exemptions of a scan, in file and line order.
///
/// An exemption is judged *unmatched* only inside the scan's [`Reach`]: one naming an
/// account needs that account read in full (or every owner read, when the account is not
/// one the credential can see at all); one without an account needs every owner.
pub fn find(
    exemptions: &[Exemption],
    findings: &[Finding],
    now: DateTime<Utc>,
    reach: &Reach,
) -> Vec<StaleExemption> {
    let mut out: Vec<StaleExemption> = exemptions
        .iter()
        .filter_map(|e| {
            let matching = findings.iter().filter(|f| e.matches_finding(f)).count();
            let why = if !e.is_active(now) {
                Staleness::Expired
            } else if matching == 0 && judgeable(e, reach) {
                Staleness::Unmatched
            } else {
                return None;
            };
            Some(StaleExemption {
                why,
                rule: e.rule.value.clone(),
                token: e.token.text().to_string(),
                account: e.account.clone(),
                reason: e.reason.clone(),
                contact: e.contact.clone(),
                expires: e.expires,
                file: e.source.clone(),
                line: e.line,
                matching_findings: matching,
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    out
}

fn judgeable(e: &Exemption, reach: &Reach) -> bool {
    match &e.account {
        Some(account) => reach.covers_account_fully(account) || reach.covers_everything(),
        None => reach.covers_everything(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Action, Severity};
    use crate::inventory::{AccountInventory, Inventory, NotEvaluated, Owner, UserInventory};
    use crate::policy::{Exemption, Located};

    fn exemption(rule: &str, token: &str, account: Option<&str>, expires: &str) -> Exemption {
        Exemption {
            rule: Located {
                value: rule.into(),
                line: 3,
            },
            token: crate::policy::TokenMatch::Name(token.into()),
            account: account.map(str::to_string),
            reason: "why".into(),
            contact: "sec@example.com".into(),
            expires: expires.parse().unwrap(),
            source: "ex.toml".into(),
            line: 2,
        }
    }

    fn finding(rule: &str, token_name: &str, account: &str) -> Finding {
        Finding {
            rule_id: rule.into(),
            severity: Severity::High,
            token_id: format!("id-{token_name}").into(),
            token_name: Some(token_name.into()),
            owner: Owner::Account {
                id: account.into(),
                name: None,
            }
            .into(),
            message: String::new(),
            evidence: crate::finding::Evidence::empty(),
            action: Action::None,
            exempted_by: None,
            fingerprint: String::new(),
        }
    }

    fn reach(not_evaluated: &[&str]) -> Reach {
        let mut inv = Inventory::new();
        inv.user = Some(UserInventory::default());
        inv.accounts.push(AccountInventory {
            id: "acc".into(),
            ..Default::default()
        });
        inv.not_evaluated = not_evaluated
            .iter()
            .map(|s| NotEvaluated::new(s.parse().unwrap(), "403"))
            .collect();
        Reach::of(&inv, crate::scope::Scope::All, &[])
    }

    fn now() -> DateTime<Utc> {
        "2026-11-22T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn expired_exemptions_are_stale_and_say_what_counts_again() {
        let e = [exemption("token-x", "ci-*", None, "2026-11-21")];
        let f = [
            finding("token-x", "ci-a", "acc"),
            finding("token-x", "ci-b", "acc"),
        ];
        let s = find(&e, &f, now(), &reach(&[]));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].why, Staleness::Expired);
        assert_eq!(s[0].matching_findings, 2);
        assert_eq!(
            s[0].message(),
            "exemption at ex.toml:2 (rule token-x, token ci-*) expired on 2026-11-21; it no longer applies and 2 findings count again: renew it with a new expiry or remove it"
        );
        // In force through its expiry day.
        let e = [exemption("token-x", "ci-*", None, "2026-11-22")];
        assert!(find(&e, &f, now(), &reach(&[])).is_empty());
    }

    #[test]
    fn unmatched_exemptions_are_stale_only_inside_the_reach() {
        let e = [
            exemption("token-x", "deploy-*", None, "2027-01-01"),
            exemption("token-x", "ci-*", Some("other"), "2027-01-01"),
            exemption("token-x", "ci-*", Some("acc"), "2027-01-01"),
        ];
        let f = [finding("token-x", "ci-a", "acc")];
        let s = find(&e, &f, now(), &reach(&[]));
        let whys: Vec<(usize, Staleness)> = s.iter().map(|s| (s.line, s.why)).collect();
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(whys.iter().all(|(_, w)| *w == Staleness::Unmatched));
        assert_eq!(s[0].token, "deploy-*");
        assert_eq!(s[1].account.as_deref(), Some("other"));
        assert!(s[0]
            .message()
            .ends_with("matched no finding: remove it, or fix its rule or token pattern"));
        // A scope that was not evaluated might hold the matching token: not judged.
        let s = find(&e[..1], &f, now(), &reach(&["accounts/acc/tokens/t9"]));
        assert!(s.is_empty(), "{s:?}");
        let e = [exemption("token-x", "deploy-*", Some("acc"), "2027-01-01")];
        assert!(find(&e, &f, now(), &reach(&["accounts/acc/tokens"])).is_empty());
        assert_eq!(find(&e, &f, now(), &reach(&["user/tokens"])).len(), 1);
    }
}
