//! The Terraform collector (docs/terraform.md, issue 14): `cloudflare_api_token` and
//! `cloudflare_account_token` resources read from `.tf` directories (statically, with
//! hcl-edit) or from `terraform show -json` plans become the same [`Inventory`] the API
//! and a snapshot give — one synthetic owner per provider-side owner, each resource a token
//! object as the API would return it when created at `now` — so enrich, evaluate, govern and
//! report are shared, not copied. Beside it, a [`SourceMap`] keeps what only Terraform has:
//! each token's resource address, file and lines, its unknown values and unresolved
//! permission groups; and inline suppressions become exemptions.

mod block;
pub mod config;
mod eval;
pub mod ignore;
mod load;
pub mod plan;
pub mod resource;
pub mod value;

pub use load::{display_path, load, read_catalogue};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::finding::{Finding, RawFinding};
use crate::inventory::Inventory;
use crate::policy::Exemption;

/// How an inline suppression's exemption names who answers for it (its file follows).
pub const INLINE_CONTACT: &str = "inline suppression in ";

/// A Terraform input that cannot be read: exit 2, nothing evaluated.
#[derive(Debug, thiserror::Error)]
pub enum TerraformError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: does not parse: {message}")]
    Parse {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}: {message}")]
    Config {
        file: String,
        line: usize,
        message: String,
    },
    #[error("plan {file}: at {json_path}: {message}")]
    Plan {
        file: String,
        json_path: String,
        message: String,
    },
    #[error("permission-group catalogue {file}: {message}")]
    Catalogue { file: String, message: String },
    #[error("--terraform {path}: {message}")]
    Input { path: PathBuf, message: String },
}

/// A part of a token that an unknown value touches; the rules that would read its absence
/// as a finding do not report on it (docs/terraform.md, "What is known").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Expiry,
    NotBefore,
    Condition,
    Resources,
    Groups,
    Policies,
}

impl Field {
    /// The built-in rules whose finding an unknown in this field could cause.
    fn rules(self) -> &'static [&'static str] {
        match self {
            Field::Expiry => &[
                "token-no-expiry",
                "token-lifetime-too-long",
                "token-expiring-soon",
                "token-inactive-lingering",
            ],
            Field::NotBefore => &["token-lifetime-too-long", "token-inactive-lingering"],
            Field::Condition => &["token-no-ip-restriction"],
            // Unknown resources and groups are left out of the token: they can only hide
            // findings (and an unknown group makes the token not evaluated), never cause one.
            Field::Resources | Field::Groups => &[],
            Field::Policies => &["token-too-many-permission-groups"],
        }
    }
}

/// What Terraform says about one token, by token id.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Resource {
    pub address: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    /// `static` (a `.tf` file) or `plan:<action>`.
    pub source: String,
    /// Repository-relative path of the file the token is located in.
    pub file: String,
    pub line: usize,
    /// What is not known before apply, as `field: expression`.
    pub unknowns: Vec<String>,
    pub unresolved_groups: Vec<String>,
    /// E.g. an unknown for_each evaluated once.
    pub notes: Vec<String>,
    #[serde(skip)]
    pub lines: BTreeMap<String, usize>,
    #[serde(skip)]
    pub unknown_fields: BTreeSet<Field>,
}

impl Resource {
    /// Whether an unknown value could be why `rule` fired.
    pub fn hides(&self, rule: &str) -> bool {
        self.unknown_fields
            .iter()
            .any(|f| f.rules().contains(&rule))
    }

    /// The attribute a rule's finding is about: its line, else the resource block's.
    pub fn line_for(&self, rule: &str, evidence: &Json) -> usize {
        let policy = evidence
            .get("policy_indexes")
            .and_then(Json::as_array)
            .and_then(|a| a.first())
            .and_then(Json::as_u64)
            .or_else(|| evidence.get("policy_index").and_then(Json::as_u64))
            .unwrap_or(0);
        let keys: Vec<String> = match rule {
            "token-no-expiry"
            | "token-lifetime-too-long"
            | "token-expiring-soon"
            | "token-inactive-lingering" => vec!["expires_on".into()],
            "token-no-ip-restriction"
            | "token-ip-range-too-broad"
            | "token-invalid-ip-condition" => vec!["condition".into()],
            "token-all-accounts" | "token-all-zones" => vec![
                format!("policies[{policy}].resources"),
                format!("policies[{policy}]"),
                "policies".into(),
            ],
            "token-can-manage-tokens"
            | "token-sensitive-write"
            | "token-too-many-permission-groups"
            | "token-unknown-permission-group" => vec![
                format!("policies[{policy}].permission_groups"),
                format!("policies[{policy}]"),
                "policies".into(),
            ],
            _ => Vec::new(),
        };
        keys.iter()
            .find_map(|k| self.lines.get(k).copied())
            .unwrap_or(self.line)
    }
}

/// Token id → its Terraform resource.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SourceMap {
    pub resources: BTreeMap<String, Resource>,
}

impl SourceMap {
    pub fn get(&self, token_id: &str) -> Option<&Resource> {
        self.resources.get(token_id)
    }

    /// `(file, line, address)` of a finding.
    pub fn locate(&self, f: &Finding) -> Option<(&str, usize, &str)> {
        let r = self.get(&f.token_id)?;
        Some((
            &r.file,
            r.line_for(&f.rule_id, &f.evidence.value()),
            &r.address,
        ))
    }

    /// Whether a raw finding fired only because of an unknown value (it is dropped).
    pub fn hides(&self, f: &RawFinding) -> bool {
        self.get(&f.token_id).is_some_and(|r| r.hides(&f.rule_id))
    }

    /// The token id of a resource address (an instance, or a block evaluated once).
    pub fn find_address(&self, address: &str) -> Option<&str> {
        self.resources
            .iter()
            .find(|(_, r)| r.address == address)
            .map(|(id, _)| id.as_str())
    }

    /// "address (file:line): " for a token's not-evaluated reason.
    pub fn prefix(&self, token_id: &str) -> Option<String> {
        self.get(token_id)
            .map(|r| format!("{} ({}:{}): ", r.address, r.file, r.line))
    }
}

/// A stable 32-hex id (a Cloudflare id's shape) for `kind` + `text`: tokens by resource
/// address, so fingerprints are stable per address and rule; groups by name.
pub fn derived_id(kind: &str, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"tokenwarden/terraform\0");
    h.update(kind.as_bytes());
    h.update(b"\0");
    h.update(text.as_bytes());
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What `scan --terraform` read.
#[derive(Debug, Default)]
pub struct Loaded {
    pub inventory: Inventory,
    pub sources: SourceMap,
    /// Inline suppressions, as exemptions of their tokens.
    pub exemptions: Vec<Exemption>,
}

/// How to read Terraform.
pub struct Options<'a> {
    pub now: DateTime<Utc>,
    /// The permission-group catalogue, when one was read.
    pub catalogue: Option<&'a [Json]>,
    /// Paths are shown relative to this directory (the repository root, normally the
    /// current directory).
    pub base: &'a Path,
}

#[cfg(test)]
mod tests;
