//! Exemptions (docs/architecture.md §6): when one applies (through its expiry day, to a rule id or "*",
//! a token id or a glob on the name, optionally one account), and `--exemptions FILE`:
//! a file of `[[exemptions]]` only, parsed like the policy with every problem and its line.

use std::path::Path;

use chrono::{DateTime, Days, Utc};
use wildmatch::WildMatch;

use toml::de::DeValue;

use super::{
    Exemption, GovernancePolicy, Item, Located, Parser, PolicyError, PolicyProblem, TokenMatch,
};
use crate::finding::{ExemptedBy, Finding, RawFinding};
use crate::inventory::Owner;

impl Exemption {
    /// Exemptions apply through the whole of their `expires` day (UTC).
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        match self.expires.checked_add_days(Days::new(1)) {
            Some(end) => now.date_naive() < end,
            None => true,
        }
    }

    pub fn matches(&self, f: &RawFinding) -> bool {
        self.matches_parts(&f.rule_id, &f.owner, &f.token_id, f.token_name.as_deref())
    }

    /// The same test on a governed [`Finding`] (stale-exemption detection, `explain`).
    pub fn matches_finding(&self, f: &Finding) -> bool {
        self.matches_parts(&f.rule_id, &f.owner, &f.token_id, f.token_name.as_deref())
    }

    fn matches_parts(
        &self,
        rule_id: &str,
        owner: &Owner,
        token_id: &str,
        token_name: Option<&str>,
    ) -> bool {
        if self.rule.value != "*" && self.rule.value != rule_id {
            return false;
        }
        if let Some(account) = &self.account {
            if owner.account_id() != Some(account.as_str()) {
                return false;
            }
        }
        match &self.token {
            TokenMatch::Id(id) => id == token_id,
            TokenMatch::Name(glob) => {
                token_name.is_some_and(|name| WildMatch::new(glob).matches(name))
            }
        }
    }

    /// `file:line`, for messages.
    pub fn location(&self) -> String {
        format!("{}:{}", self.source, self.line)
    }

    pub fn exempted_by(&self) -> ExemptedBy {
        ExemptedBy {
            rule: self.rule.value.clone(),
            token: self.token.text().to_string(),
            reason: self.reason.clone(),
            contact: self.contact.clone(),
            expires: self.expires,
        }
    }
}

impl GovernancePolicy {
    /// Parse a file of `[[exemptions]]` only (`--exemptions FILE`), so teams can keep
    /// exemptions apart from thresholds. Any other top-level key is an error.
    pub fn parse_exemptions(text: &str, source: &str) -> Result<Vec<Exemption>, PolicyError> {
        let mut p = Parser {
            text,
            source,
            problems: Vec::new(),
        };
        let table = p.parse_toml()?;
        let root = table.get_ref();
        p.unknown_keys(root, "", &["exemptions"]);
        let mut out = Vec::new();
        if let Some(item) = Parser::get(root, "exemptions") {
            p.exemptions(item, &mut out);
        }
        p.finish(out)
    }

    /// Read and parse an `--exemptions FILE`.
    pub fn load_exemptions(path: &Path) -> Result<Vec<Exemption>, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse_exemptions(&text, &path.display().to_string())
    }
}

/// Cloudflare's ids: 32 lowercase hexadecimal characters.
fn is_cloudflare_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Parser<'_> {
    /// Exactly one of `token_id` (a Cloudflare id) or `token_name` (a glob on the name).
    fn token_match(
        &mut self,
        t: &super::Table<'_>,
        prefix: &str,
        line: usize,
    ) -> Option<TokenMatch> {
        if let Some(v) = Self::get(t, "token") {
            self.problem(
                &v.span(),
                &format!("{prefix}.token"),
                "ambiguous: write token_id = \"<32 hex>\" for one token, or token_name = \"<glob>\" for tokens by name",
            );
            return None;
        }
        let id = Self::get(t, "token_id");
        let name = Self::get(t, "token_name");
        match (id, name) {
            (Some(_), Some(n)) => {
                self.problem(
                    &n.span(),
                    &format!("{prefix}.token_name"),
                    "an exemption names a token_id or a token_name, not both",
                );
                None
            }
            (None, None) => {
                self.problems.push(PolicyProblem {
                    line,
                    key: format!("{prefix}.token_id"),
                    message: "missing required key: token_id or token_name".into(),
                });
                None
            }
            (Some(v), None) => {
                let key = format!("{prefix}.token_id");
                let id = self.string(v, &key)?;
                if is_cloudflare_id(&id) {
                    Some(TokenMatch::Id(id))
                } else {
                    self.problem(
                        &v.span(),
                        &key,
                        format!("{id:?} is not a token id (32 lowercase hexadecimal characters); use token_name for a name"),
                    );
                    None
                }
            }
            (None, Some(v)) => {
                let key = format!("{prefix}.token_name");
                let glob = self.string(v, &key)?;
                if glob.trim().is_empty() {
                    self.problem(&v.span(), &key, "must not be empty");
                    return None;
                }
                Some(TokenMatch::Name(glob))
            }
        }
    }

    pub(super) fn exemptions(&mut self, item: &Item<'_>, out: &mut Vec<Exemption>) {
        let DeValue::Array(list) = item.get_ref() else {
            self.problem(
                &item.span(),
                "exemptions",
                "expected an array of tables ([[exemptions]])",
            );
            return;
        };
        out.clear();
        for (i, entry) in list.iter().enumerate() {
            let prefix = format!("exemptions[{i}]");
            let DeValue::Table(t) = entry.get_ref() else {
                self.problem(&entry.span(), &prefix, "expected a table");
                continue;
            };
            self.unknown_keys(
                t,
                &prefix,
                &[
                    "rule",
                    "token_id",
                    "token_name",
                    "account",
                    "reason",
                    "owner",
                    "expires",
                ],
            );
            let line = self.line(&entry.span());
            let req = |p: &mut Self, key: &str| -> Option<(String, usize)> {
                let name = format!("{prefix}.{key}");
                match Self::get(t, key) {
                    None => {
                        p.problems.push(PolicyProblem {
                            line,
                            key: name,
                            message: "missing required key".into(),
                        });
                        None
                    }
                    Some(v) => {
                        let s = p.string(v, &name)?;
                        if s.trim().is_empty() {
                            p.problem(&v.span(), &name, "must not be empty");
                            return None;
                        }
                        Some((s, p.line(&v.span())))
                    }
                }
            };
            let rule = req(self, "rule");
            let token = self.token_match(t, &prefix, line);
            let reason = req(self, "reason");
            let owner = req(self, "owner");
            let account =
                Self::get(t, "account").and_then(|v| self.string(v, &format!("{prefix}.account")));
            let expires = match Self::get(t, "expires") {
                None => {
                    self.problems.push(PolicyProblem {
                        line,
                        key: format!("{prefix}.expires"),
                        message: "missing required key (every exemption must expire)".into(),
                    });
                    None
                }
                Some(v) => self.date(v, &format!("{prefix}.expires")),
            };
            if let (Some(rule), Some(token), Some(reason), Some(owner), Some(expires)) =
                (rule, token, reason, owner, expires)
            {
                out.push(Exemption {
                    rule: Located {
                        value: rule.0,
                        line: rule.1,
                    },
                    token,
                    account,
                    reason: reason.0,
                    contact: owner.0,
                    expires,
                    source: self.source.to_string(),
                    line,
                });
            }
        }
    }
}
