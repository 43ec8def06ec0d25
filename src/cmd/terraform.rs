//! `--terraform PATH…` for `scan` and `explain` (docs/terraform.md): read the catalogue
//! (`--permission-groups`, else `--snapshot`'s), load the Terraform inventory, and merge
//! the inline suppressions into the policy's exemptions, checked like them.

use tokenwarden::inventory::Inventory;
use tokenwarden::policy::GovernancePolicy;
use tokenwarden::scan::Report;
use tokenwarden::scope::ScopePath;
use tokenwarden::terraform::{self, Loaded, Options, SourceMap};

use super::args::{SourceArgs, TerraformArgs};
use super::error::{usage, Error};

/// The Terraform inventory, or `None` without `--terraform`. Inline suppressions join
/// `policy`'s exemptions; one naming a rule that is not loaded, or expiring beyond
/// `[limits] max_exemption_days`, is an error naming its file and line (exit 2).
pub fn load(
    args: &TerraformArgs,
    source: &SourceArgs,
    policy: &mut GovernancePolicy,
    rule_ids: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Loaded>, Error> {
    if args.terraform.is_empty() {
        return Ok(None);
    }
    if !source.accounts.is_empty() {
        return Err(usage("--account does not apply to --terraform"));
    }
    let base = std::env::current_dir().map_err(|e| usage(format!("current directory: {e}")))?;
    let catalogue = match (&args.permission_groups, &source.snapshot) {
        (Some(path), _) => Some(terraform::read_catalogue(path, &base)?),
        (None, Some(path)) => {
            let inv = Inventory::read(path)?;
            inv.user
                .as_ref()
                .and_then(|u| u.permission_groups.clone())
                .or_else(|| {
                    inv.accounts
                        .iter()
                        .find_map(|a| a.permission_groups.clone())
                })
        }
        (None, None) => None,
    };
    let loaded = terraform::load(
        &args.terraform,
        &Options {
            now,
            catalogue: catalogue.as_deref(),
            base: &base,
        },
    )?;
    for e in &loaded.exemptions {
        if e.rule.value != "*" && !rule_ids.contains(&e.rule.value) {
            return Err(usage(format!(
                "{}:{}: tokenwarden:ignore[{}]: no such rule (see `tokenwarden rules list`)",
                e.source, e.line, e.rule.value
            )));
        }
    }
    policy.exemptions.extend(loaded.exemptions.iter().cloned());
    policy.check_exemption_horizon(now)?;
    Ok(Some(loaded))
}

/// A Terraform scan's report: named `terraform` (its SARIF automation id, so code
/// scanning keeps it apart from live scans), and every token not evaluated named by its
/// resource address, file and line.
pub fn annotate(report: &mut Report, sources: &SourceMap) {
    report.scope = "terraform".into();
    // An inline suppression names its token by the resource address people wrote.
    for e in &mut report.stale_exemptions {
        if let Some(r) = sources.get(&e.token) {
            e.token = r.address.clone();
        }
    }
    for n in &mut report.not_evaluated {
        if let ScopePath::Token { token, .. } = &n.scope {
            if let Some(r) = sources.get(token) {
                if !n.reason.contains(&r.address) {
                    n.reason = format!("{}{}", sources.prefix(token).unwrap_or_default(), n.reason);
                }
            }
        }
    }
}
