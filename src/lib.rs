//! tokenwarden: govern Cloudflare API tokens.
//!
//! collect (API or snapshot) → enrich (facts in Rust) → evaluate (regorus, `rules/`) →
//! govern (policy: exemptions, severity, gate) → report (table, JSON, SARIF, Markdown).
//! See DESIGN.md for the contracts each module implements.

pub mod atomic;
pub mod baseline;
pub mod clock;
pub mod cloudflare;
pub mod coverage;
pub mod doctor;
pub mod engine;
pub mod enrich;
pub mod exit;
pub mod explain;
pub mod finding;
pub mod inventory;
pub mod policy;
pub mod reach;
pub mod remediate;
pub mod report;
pub mod scan;
pub mod scope;
pub mod secret;
pub mod stale;
