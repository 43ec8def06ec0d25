//! Who owns tokens and which parts of the API a run reads (docs/architecture.md,
//! "Scopes"): the [`Owner`] of a token, the [`Scope`] a scan covers (`--scope`), the typed
//! [`ScopePath`] of everything that can be *not evaluated* (one `Display`, one parser), and
//! the two decisions scan and doctor must share: which accounts a run reads
//! ([`account_targets`]) and what a `--scope`/`--account` narrowing keeps ([`Narrowing`]).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Who owns a token.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Owner {
    User {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    Account {
        id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
}

impl Owner {
    /// `user` or `accounts/<id>`: the API path prefix of the owner's tokens, used in
    /// scope paths, SARIF locations and fingerprints.
    pub fn path(&self) -> String {
        match self {
            Owner::User { .. } => "user".to_string(),
            Owner::Account { id, .. } => format!("accounts/{id}"),
        }
    }

    pub fn account_id(&self) -> Option<&str> {
        match self {
            Owner::User { .. } => None,
            Owner::Account { id, .. } => Some(id),
        }
    }

    /// A short human label: `user` or the account name (or id).
    pub fn label(&self) -> String {
        match self {
            Owner::User { .. } => "user".to_string(),
            Owner::Account { id, name } => match name {
                Some(n) => format!("account {n} ({id})"),
                None => format!("account {id}"),
            },
        }
    }

    /// The path of one of this owner's tokens.
    pub fn token_path(&self, token_id: &str) -> ScopePath {
        ScopePath::Token {
            account: self.account_id().map(str::to_string),
            token: token_id.to_string(),
        }
    }

    /// The path of this owner's token list.
    pub fn tokens_path(&self) -> ScopePath {
        match self.account_id() {
            None => ScopePath::UserTokens,
            Some(a) => ScopePath::AccountTokens(a.to_string()),
        }
    }

    /// The path of this owner's permission-group catalogue.
    pub fn catalogue_path(&self) -> ScopePath {
        ScopePath::Catalogue(self.account_id().map(str::to_string))
    }
}

/// Which owners a scan covers (`--scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    User,
    Accounts,
    #[default]
    All,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Accounts => "accounts",
            Scope::All => "all",
        }
    }

    /// The user's own tokens are in scope.
    pub fn covers_user(self) -> bool {
        matches!(self, Scope::User | Scope::All)
    }

    /// Account-owned tokens are in scope.
    pub fn covers_accounts(self) -> bool {
        matches!(self, Scope::Accounts | Scope::All)
    }
}

/// Something a run reads from the API, named as in its path: what a `not_evaluated` entry
/// (in a snapshot and in every report) says could not be read or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ScopePath {
    /// `user/tokens`: the user's token list.
    UserTokens,
    /// `accounts`: the account list.
    Accounts,
    /// `accounts/<id>/tokens`: an account's token list.
    AccountTokens(String),
    /// `user/tokens/permission_groups` or `accounts/<id>/tokens/permission_groups`: an
    /// owner's permission-group catalogue (`None` for the user).
    Catalogue(Option<String>),
    /// `user/tokens/<token>` or `accounts/<id>/tokens/<token>`: one token.
    Token {
        account: Option<String>,
        token: String,
    },
}

const CATALOGUE: &str = "permission_groups";

impl ScopePath {
    /// The account this path lies in, if any (the account list lies in none).
    pub fn account(&self) -> Option<&str> {
        match self {
            ScopePath::AccountTokens(a) => Some(a),
            ScopePath::Catalogue(a) | ScopePath::Token { account: a, .. } => a.as_deref(),
            ScopePath::UserTokens | ScopePath::Accounts => None,
        }
    }

    /// The path lies in the user's own tokens.
    pub fn is_user(&self) -> bool {
        match self {
            ScopePath::UserTokens => true,
            ScopePath::Catalogue(a) | ScopePath::Token { account: a, .. } => a.is_none(),
            ScopePath::AccountTokens(_) | ScopePath::Accounts => false,
        }
    }
}

impl fmt::Display for ScopePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let owner = |a: &Option<String>| match a {
            None => "user".to_string(),
            Some(a) => format!("accounts/{a}"),
        };
        match self {
            ScopePath::UserTokens => f.write_str("user/tokens"),
            ScopePath::Accounts => f.write_str("accounts"),
            ScopePath::AccountTokens(a) => write!(f, "accounts/{a}/tokens"),
            ScopePath::Catalogue(a) => write!(f, "{}/tokens/{CATALOGUE}", owner(a)),
            ScopePath::Token { account, token } => {
                write!(f, "{}/tokens/{token}", owner(account))
            }
        }
    }
}

/// A scope path that is none of the forms [`ScopePath`] names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a scope path (expected user/tokens, accounts, accounts/<id>/tokens, <owner>/tokens/permission_groups or <owner>/tokens/<token id>)")]
pub struct ScopePathError(pub String);

impl FromStr for ScopePath {
    type Err = ScopePathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ScopePathError(s.to_string());
        let parts: Vec<&str> = s.split('/').collect();
        // A segment is never empty and never holds a control character.
        if parts
            .iter()
            .any(|p| p.is_empty() || p.chars().any(char::is_control))
        {
            return Err(err());
        }
        let (account, rest) = match parts.as_slice() {
            ["accounts"] => return Ok(ScopePath::Accounts),
            ["user", rest @ ..] => (None, rest),
            ["accounts", id, rest @ ..] => (Some(id.to_string()), rest),
            _ => return Err(err()),
        };
        match (account, rest) {
            (None, ["tokens"]) => Ok(ScopePath::UserTokens),
            (Some(a), ["tokens"]) => Ok(ScopePath::AccountTokens(a)),
            (a, ["tokens", CATALOGUE]) => Ok(ScopePath::Catalogue(a)),
            (account, ["tokens", token]) => Ok(ScopePath::Token {
                account,
                token: token.to_string(),
            }),
            _ => Err(err()),
        }
    }
}

/// Ordered as their text, so reports list scopes as they always have.
impl Ord for ScopePath {
    fn cmp(&self, other: &Self) -> Ordering {
        self.to_string().cmp(&other.to_string())
    }
}

impl PartialOrd for ScopePath {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for ScopePath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScopePath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An account a run reads: its id and, when the account listing showed it, its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTarget {
    pub id: String,
    pub name: Option<String>,
}

/// Which accounts a run reads: every account the listing showed, or — with `--account` —
/// exactly the accounts asked for, even those the listing did not show (a silent skip would
/// look like a clean account), named from the listing where it has them. Scan and doctor
/// both decide with this, so doctor probes what a scan will read.
pub fn account_targets(listed: &[AccountTarget], wanted: &[String]) -> Vec<AccountTarget> {
    if wanted.is_empty() {
        return listed.to_vec();
    }
    wanted
        .iter()
        .map(|id| AccountTarget {
            id: id.clone(),
            name: listed
                .iter()
                .find(|a| &a.id == id)
                .and_then(|a| a.name.clone()),
        })
        .collect()
}

/// What `--scope` and `--account` keep of an inventory read from a snapshot, so that it
/// matches what a live scan with the same flags would have read.
#[derive(Debug, Clone, Copy)]
pub struct Narrowing<'a> {
    pub scope: Scope,
    /// `--account` ids; empty for every account.
    pub accounts: &'a [String],
}

impl Narrowing<'_> {
    /// Keep the user's tokens?
    pub fn keeps_user(&self) -> bool {
        self.scope.covers_user()
    }

    /// Keep account `id`?
    pub fn keeps_account(&self, id: &str) -> bool {
        self.scope.covers_accounts()
            && (self.accounts.is_empty() || self.accounts.iter().any(|a| a == id))
    }

    /// Keep a scope recorded as not evaluated?
    pub fn keeps_path(&self, path: &ScopePath) -> bool {
        if path.is_user() {
            return self.keeps_user();
        }
        match path.account() {
            Some(a) => self.keeps_account(a),
            // The account list: only relevant when accounts are scanned at all.
            None => self.scope.covers_accounts(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "023e105f4ecef8ad9ca31a8372d0c353";
    const T: &str = "ed17574386854bf78a67040be0a770b0";

    fn all_forms() -> Vec<ScopePath> {
        vec![
            ScopePath::UserTokens,
            ScopePath::Accounts,
            ScopePath::AccountTokens(A.into()),
            ScopePath::Catalogue(None),
            ScopePath::Catalogue(Some(A.into())),
            ScopePath::Token {
                account: None,
                token: T.into(),
            },
            ScopePath::Token {
                account: Some(A.into()),
                token: T.into(),
            },
        ]
    }

    #[test]
    fn every_form_prints_as_its_api_path_and_parses_back() {
        let texts: Vec<String> = all_forms().iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "user/tokens".to_string(),
                "accounts".into(),
                format!("accounts/{A}/tokens"),
                "user/tokens/permission_groups".into(),
                format!("accounts/{A}/tokens/permission_groups"),
                format!("user/tokens/{T}"),
                format!("accounts/{A}/tokens/{T}"),
            ]
        );
        for p in all_forms() {
            assert_eq!(p.to_string().parse::<ScopePath>(), Ok(p.clone()));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<ScopePath>(&json).unwrap(), p);
        }
    }

    #[test]
    fn anything_else_is_refused_naming_the_text() {
        for bad in [
            "",
            "user",
            "tokens",
            "user/",
            "accounts/",
            "accounts//tokens",
            "user/tokens/a/b",
            "accounts/a/b",
            "accounts/a/tokens/t/x",
            "zones/z/tokens",
            "user/tokens/a\nb",
        ] {
            let e = bad.parse::<ScopePath>().unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn paths_order_as_their_text() {
        let mut paths = all_forms();
        paths.sort();
        let mut texts: Vec<String> = all_forms().iter().map(ToString::to_string).collect();
        texts.sort();
        assert_eq!(
            paths.iter().map(ToString::to_string).collect::<Vec<_>>(),
            texts
        );
    }

    #[test]
    fn owners_name_their_paths() {
        let user = Owner::User { id: None };
        let acc = Owner::Account {
            id: A.into(),
            name: Some("Example".into()),
        };
        assert_eq!(user.tokens_path(), ScopePath::UserTokens);
        assert_eq!(acc.tokens_path(), ScopePath::AccountTokens(A.into()));
        assert_eq!(
            acc.token_path(T).to_string(),
            format!("accounts/{A}/tokens/{T}")
        );
        assert_eq!(
            user.catalogue_path().to_string(),
            "user/tokens/permission_groups"
        );
        assert!(user.token_path(T).is_user());
        assert_eq!(acc.catalogue_path().account(), Some(A));
    }

    #[test]
    fn asked_for_accounts_are_read_even_when_not_listed() {
        let listed = vec![
            AccountTarget {
                id: "a".into(),
                name: Some("A".into()),
            },
            AccountTarget {
                id: "b".into(),
                name: None,
            },
        ];
        assert_eq!(account_targets(&listed, &[]), listed);
        assert_eq!(
            account_targets(&listed, &["a".into(), "z".into()]),
            vec![
                AccountTarget {
                    id: "a".into(),
                    name: Some("A".into())
                },
                AccountTarget {
                    id: "z".into(),
                    name: None
                },
            ]
        );
        assert!(account_targets(&[], &[]).is_empty());
    }

    #[test]
    fn narrowing_keeps_what_a_live_scan_would_read() {
        let ids = vec![A.to_string()];
        let user_only = Narrowing {
            scope: Scope::User,
            accounts: &[],
        };
        let one_account = Narrowing {
            scope: Scope::All,
            accounts: &ids,
        };
        let accounts_only = Narrowing {
            scope: Scope::Accounts,
            accounts: &[],
        };
        let other = ScopePath::AccountTokens("other".into());
        assert!(user_only.keeps_path(&ScopePath::UserTokens));
        assert!(!user_only.keeps_path(&ScopePath::Accounts));
        assert!(!user_only.keeps_path(&other));
        assert!(one_account.keeps_path(&ScopePath::Catalogue(Some(A.into()))));
        assert!(!one_account.keeps_path(&other));
        assert!(one_account.keeps_path(&ScopePath::Accounts));
        assert!(one_account.keeps_path(&ScopePath::UserTokens));
        assert!(!accounts_only.keeps_path(&ScopePath::Catalogue(None)));
        assert!(accounts_only.keeps_path(&other));
    }
}
