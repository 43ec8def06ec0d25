//! What a scan actually looked at: which owners (and tokens) were read in full. Absence
//! only means something inside that reach: a baseline finding is *absent* (fixed) and an
//! exemption *matched nothing* only where the scan could have seen them. A scope narrowed
//! away (`--scope`, `--account`) or not evaluated (403, a token that failed) proves nothing.

use std::collections::BTreeSet;

use crate::inventory::{Inventory, Owner};
use crate::scope::{Scope, ScopePath};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// The user's tokens were listed in full.
    user: bool,
    /// Accounts whose tokens were listed in full.
    accounts: BTreeSet<String>,
    /// Every account the credential can see was scanned (no `--account` narrowing, and
    /// the account listing itself was read).
    all_accounts: bool,
    /// Scopes (and single tokens) not evaluated.
    not_evaluated: Vec<ScopePath>,
}

impl Reach {
    /// The reach of a scan of `inventory` (already narrowed to `scope` and `accounts`).
    pub fn of(inventory: &Inventory, scope: Scope, accounts: &[String]) -> Reach {
        let not_evaluated: Vec<ScopePath> = inventory
            .not_evaluated
            .iter()
            .map(|n| n.scope.clone())
            .collect();
        let failed = |path: &ScopePath| not_evaluated.contains(path);
        let user =
            scope.covers_user() && inventory.user.is_some() && !failed(&ScopePath::UserTokens);
        let read_accounts = inventory
            .accounts
            .iter()
            .filter(|a| !failed(&ScopePath::AccountTokens(a.id.clone())))
            .map(|a| a.id.clone())
            .collect();
        Reach {
            user,
            accounts: read_accounts,
            all_accounts: scope.covers_accounts()
                && accounts.is_empty()
                && !failed(&ScopePath::Accounts),
            not_evaluated,
        }
    }

    /// The same reach with `paths` (tokens that could not be evaluated) outside it too.
    pub fn also_not_evaluated(mut self, paths: impl IntoIterator<Item = ScopePath>) -> Reach {
        self.not_evaluated.extend(paths);
        self
    }

    /// Every token of `owner` was listed.
    pub fn covers_owner(&self, owner: &Owner) -> bool {
        match owner {
            Owner::User { .. } => self.user,
            Owner::Account { id, .. } => self.covers_account(id),
        }
    }

    pub fn covers_account(&self, id: &str) -> bool {
        self.accounts.contains(id)
    }

    /// `token_id` of `owner` was listed and evaluated: had a finding been there, the scan
    /// would have seen it. Not when the owner's catalogue could not be read: then a finding
    /// that needs it (an unknown group, a group named only by id) could not have been seen.
    pub fn covers_token(&self, owner: &Owner, token_id: &str) -> bool {
        self.covers_owner(owner)
            && !self.not_evaluated.contains(&owner.token_path(token_id))
            && !self.not_evaluated.contains(&owner.catalogue_path())
    }

    /// Every owner the credential can see was read and every token evaluated.
    pub fn covers_everything(&self) -> bool {
        self.user && self.all_accounts && self.not_evaluated.is_empty()
    }

    /// Account `id` and every token in it were read and evaluated.
    pub fn covers_account_fully(&self, id: &str) -> bool {
        self.covers_account(id) && !self.not_evaluated.iter().any(|s| s.account() == Some(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{AccountInventory, NotEvaluated, UserInventory};

    fn inventory(not_evaluated: &[&str]) -> Inventory {
        let mut inv = Inventory::new();
        inv.user = Some(UserInventory::default());
        for id in ["a", "b"] {
            inv.accounts.push(AccountInventory {
                id: id.into(),
                ..Default::default()
            });
        }
        inv.not_evaluated = not_evaluated
            .iter()
            .map(|s| NotEvaluated::new(s.parse().unwrap(), "403"))
            .collect();
        inv
    }

    fn account(id: &str) -> Owner {
        Owner::Account {
            id: id.into(),
            name: None,
        }
    }

    #[test]
    fn a_complete_scan_covers_everything() {
        let r = Reach::of(&inventory(&[]), Scope::All, &[]);
        assert!(r.covers_everything());
        assert!(r.covers_token(&Owner::User { id: None }, "t"));
        assert!(r.covers_token(&account("a"), "t"));
        assert!(!r.covers_token(&account("zzz"), "t"), "an account not read");
    }

    #[test]
    fn not_evaluated_scopes_and_tokens_are_outside_the_reach() {
        let r = Reach::of(
            &inventory(&["accounts/b/tokens", "user/tokens/t1"]),
            Scope::All,
            &[],
        );
        assert!(!r.covers_everything());
        assert!(!r.covers_owner(&account("b")));
        assert!(r.covers_account_fully("a"));
        assert!(!r.covers_token(&Owner::User { id: None }, "t1"));
        assert!(r.covers_token(&Owner::User { id: None }, "t2"));
        let r = Reach::of(&inventory(&["accounts/a/tokens/t9"]), Scope::All, &[]);
        assert!(r.covers_account("a") && !r.covers_account_fully("a"));
        let r = Reach::of(&inventory(&["accounts"]), Scope::All, &[]);
        assert!(!r.covers_everything(), "the account list itself failed");
    }

    /// Issue 12: without the catalogue, an unknown-group finding could not have been seen.
    #[test]
    fn a_catalogue_not_read_takes_its_owners_tokens_out_of_the_reach() {
        let r = Reach::of(
            &inventory(&["accounts/a/tokens/permission_groups"]),
            Scope::All,
            &[],
        );
        assert!(r.covers_owner(&account("a")), "the tokens were listed");
        assert!(!r.covers_token(&account("a"), "t"));
        assert!(!r.covers_account_fully("a"));
        assert!(r.covers_token(&account("b"), "t"));
        let r = Reach::of(&inventory(&[]), Scope::All, &[])
            .also_not_evaluated(["accounts/b/tokens/t7".parse().unwrap()]);
        assert!(!r.covers_token(&account("b"), "t7") && r.covers_token(&account("b"), "t8"));
        assert!(!r.covers_everything());
    }

    #[test]
    fn narrowing_limits_the_reach() {
        let r = Reach::of(&inventory(&[]), Scope::All, &["a".to_string()]);
        assert!(!r.covers_everything() && r.covers_account_fully("a"));
        let r = Reach::of(&inventory(&[]), Scope::Accounts, &[]);
        assert!(!r.covers_owner(&Owner::User { id: None }));
        let mut inv = inventory(&[]);
        inv.accounts.clear();
        let r = Reach::of(&inv, Scope::User, &[]);
        assert!(!r.covers_everything() && !r.covers_account("a"));
    }
}
