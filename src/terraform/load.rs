//! Reading `--terraform` paths into an [`Inventory`] and a [`SourceMap`]
//! (docs/terraform.md): `.tf` directories statically or plans, one synthetic owner per
//! provider-side owner, inline suppressions as exemptions of their tokens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use super::{
    config, derived_id, ignore, plan, resource, Field, Loaded, Options, Resource, SourceMap,
    TerraformError, INLINE_CONTACT,
};
use crate::inventory::{AccountInventory, Inventory, NotEvaluated, RawToken, UserInventory};
use crate::policy::{Exemption, Located, TokenMatch};
use crate::scope::Owner;

/// A path as reports show it: relative to `base` (or, outside it, to the enclosing git
/// repository), never absolute and never with `..`.
pub fn display_path(path: &Path, base: &Path) -> String {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    let rel = abs
        .strip_prefix(&base)
        .ok()
        .map(Path::to_path_buf)
        .or_else(|| {
            abs.ancestors()
                .skip(1)
                .find(|a| a.join(".git").exists())
                .and_then(|root| abs.strip_prefix(root).ok().map(Path::to_path_buf))
        });
    let shown = rel.unwrap_or_else(|| {
        abs.file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| path.to_path_buf())
    });
    shown
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Read a permission-group catalogue: the API's answer (`{"result": [...]}`) or its list.
pub fn read_catalogue(path: &Path, base: &Path) -> Result<Vec<Json>, TerraformError> {
    let file = display_path(path, base);
    let text = std::fs::read_to_string(path).map_err(|source| TerraformError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let doc: Json = serde_json::from_str(&text).map_err(|e| TerraformError::Catalogue {
        file: file.clone(),
        message: format!("not valid JSON at line {}: {e}", e.line()),
    })?;
    let list = match &doc {
        Json::Array(a) => a,
        Json::Object(o) => match o.get("result") {
            Some(Json::Array(a)) => a,
            _ => {
                return Err(TerraformError::Catalogue {
                    file,
                    message: "expected a list of permission groups or {\"result\": [...]}".into(),
                })
            }
        },
        _ => {
            return Err(TerraformError::Catalogue {
                file,
                message: "expected a list of permission groups or {\"result\": [...]}".into(),
            })
        }
    };
    for (i, g) in list.iter().enumerate() {
        if g.get("id").and_then(Json::as_str).is_none() {
            return Err(TerraformError::Catalogue {
                file,
                message: format!("[{i}].id: missing or not a string"),
            });
        }
    }
    Ok(list.clone())
}

/// Read every `--terraform PATH`: directories statically, `.json` files as plans. With a
/// plan, directories only locate its resources (and hold their inline suppressions).
pub fn load(paths: &[PathBuf], opts: &Options<'_>) -> Result<Loaded, TerraformError> {
    let display = |p: &Path| display_path(p, opts.base);
    let (plans, dirs): (Vec<&PathBuf>, Vec<&PathBuf>) =
        paths.iter().partition(|p| plan::looks_like_plan(p));
    for p in &dirs {
        if !p.exists() {
            return Err(TerraformError::Input {
                path: (*p).clone(),
                message: "no such file or directory".into(),
            });
        }
        if p.is_file() && p.extension().is_none_or(|e| e != "tf") {
            return Err(TerraformError::Input {
                path: (*p).clone(),
                message: "expected a directory of .tf files, a .tf file, or a plan in JSON (terraform show -json)".into(),
            });
        }
    }
    let dirs: Vec<PathBuf> = dirs.into_iter().cloned().collect();
    let cfg = config::read(&dirs, &display)?;
    // Inline suppressions, by the block they are in.
    let mut ignores: BTreeMap<String, Vec<ignore::Ignore>> = BTreeMap::new();
    for (i, file) in cfg.files.iter().enumerate() {
        for ig in ignore::find(file)? {
            match ignore::block_of(&ig, i, &cfg.blocks) {
                Some(b) => ignores.entry(b.block_address.clone()).or_default().push(ig),
                None => {
                    return Err(TerraformError::Config {
                        file: ig.file,
                        line: ig.line,
                        message: "this suppression is not on or above a cloudflare_api_token or cloudflare_account_token resource".into(),
                    })
                }
            }
        }
    }
    let mut out = Collector {
        now: opts.now,
        catalogue: opts.catalogue,
        ..Default::default()
    };
    if plans.is_empty() {
        let names = resource::Names {
            by_id: BTreeMap::new(),
            catalogue: opts.catalogue,
        };
        for b in &cfg.blocks {
            let mapped = resource::map(
                &derived_id("resource", &b.address),
                &b.address,
                &b.resource_type,
                &b.values,
                &names,
                opts.now,
            );
            out.add(
                b.address.clone(),
                b.block_address.clone(),
                b.resource_type.clone(),
                "static".into(),
                cfg.files[b.file].display.clone(),
                b.line,
                b.lines.clone(),
                b.notes.clone(),
                mapped,
            );
        }
    } else {
        for p in plans {
            let shown = display(p);
            let plan = plan::read(p, &shown)?;
            let names = resource::Names {
                by_id: plan.names.clone(),
                catalogue: opts.catalogue,
            };
            for t in &plan.tokens {
                let mapped = resource::map(
                    &derived_id("resource", &t.address),
                    &t.address,
                    &t.resource_type,
                    &t.values,
                    &names,
                    opts.now,
                );
                // The configuration's block, when the directory was given too.
                let block = cfg
                    .blocks
                    .iter()
                    .find(|b| b.address == t.address)
                    .or_else(|| {
                        cfg.blocks
                            .iter()
                            .find(|b| b.block_address == t.block_address)
                    });
                let (file, line, lines) = match block {
                    Some(b) => (cfg.files[b.file].display.clone(), b.line, b.lines.clone()),
                    None => (shown.clone(), t.line, BTreeMap::new()),
                };
                out.add(
                    t.address.clone(),
                    t.block_address.clone(),
                    t.resource_type.clone(),
                    format!("plan:{}", t.action),
                    file,
                    line,
                    lines,
                    Vec::new(),
                    mapped,
                );
            }
        }
    }
    let Collector {
        user,
        accounts,
        not_evaluated,
        sources,
        by_block,
        ..
    } = out;
    let mut exemptions = Vec::new();
    for (block, list) in &ignores {
        for ig in list {
            let ids: Vec<&String> = by_block.get(block).into_iter().flatten().collect();
            for id in ids {
                for rule in &ig.rules {
                    exemptions.push(Exemption {
                        rule: Located {
                            value: rule.clone(),
                            line: ig.line,
                        },
                        token: TokenMatch::Id(id.clone()),
                        account: None,
                        reason: ig.reason.clone(),
                        contact: format!("{INLINE_CONTACT}{}", ig.file),
                        expires: ig.until,
                        source: ig.file.clone(),
                        line: ig.line,
                    });
                }
            }
        }
    }
    let mut inventory = Inventory::new();
    inventory.collected_at = Some(opts.now);
    if !user.is_empty() {
        inventory.user = Some(UserInventory {
            id: None,
            tokens: user,
            permission_groups: opts.catalogue.map(<[Json]>::to_vec),
        });
    }
    for (id, (name, tokens)) in accounts {
        inventory.accounts.push(AccountInventory {
            id,
            name: Some(name),
            tokens,
            permission_groups: opts.catalogue.map(<[Json]>::to_vec),
        });
    }
    inventory.not_evaluated = not_evaluated;
    Ok(Loaded {
        inventory,
        sources,
        exemptions,
    })
}

#[derive(Default)]
struct Collector<'a> {
    now: DateTime<Utc>,
    catalogue: Option<&'a [Json]>,
    user: Vec<RawToken>,
    accounts: BTreeMap<String, (String, Vec<RawToken>)>,
    not_evaluated: Vec<NotEvaluated>,
    sources: SourceMap,
    by_block: BTreeMap<String, Vec<String>>,
}

impl Collector<'_> {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        address: String,
        block_address: String,
        resource_type: String,
        source: String,
        file: String,
        line: usize,
        lines: BTreeMap<String, usize>,
        notes: Vec<String>,
        mapped: resource::Mapped,
    ) {
        let _ = (self.now, self.catalogue);
        let id = mapped
            .token
            .get("id")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        let owner = match &mapped.account {
            None => Owner::User { id: None },
            Some(Ok(account)) if crate::id::is_id(account) => Owner::Account {
                id: account.clone(),
                name: None,
            },
            Some(Ok(text)) | Some(Err(text)) => Owner::Account {
                id: derived_id("account", text),
                name: Some(text.clone()),
            },
        };
        let token = match RawToken::from_value(&mapped.token, &address) {
            Ok(t) => t,
            Err((path, message)) => {
                self.not_evaluated.push(NotEvaluated::new(
                    owner.token_path(&id),
                    format!("{address}: {path}: {message}"),
                ));
                return;
            }
        };
        if mapped.unknown_fields.contains(&Field::Policies) {
            self.not_evaluated.push(NotEvaluated::new(
                owner.token_path(&id),
                format!(
                    "{address} ({file}:{line}): its policies are not known until apply, so what the token grants cannot be evaluated"
                ),
            ));
        } else if mapped.unknown_groups > 0 {
            self.not_evaluated.push(NotEvaluated::new(
                owner.token_path(&id),
                format!(
                    "{address} ({file}:{line}): {} permission group{} not known until apply, so rules that match groups by name cannot see {}",
                    mapped.unknown_groups,
                    if mapped.unknown_groups == 1 { " is" } else { "s are" },
                    if mapped.unknown_groups == 1 { "it" } else { "them" },
                ),
            ));
        }
        match &owner {
            Owner::User { .. } => self.user.push(token),
            Owner::Account { id: account, name } => {
                let label = match name {
                    Some(expr) => format!("terraform account {expr}"),
                    None => "terraform".to_string(),
                };
                self.accounts
                    .entry(account.clone())
                    .or_insert_with(|| (label, Vec::new()))
                    .1
                    .push(token);
            }
        }
        self.by_block
            .entry(block_address)
            .or_default()
            .push(id.clone());
        self.sources.resources.insert(
            id,
            Resource {
                address,
                resource_type,
                source,
                file,
                line,
                unknowns: mapped.unknowns,
                unresolved_groups: mapped.unresolved_groups,
                notes,
                lines,
                unknown_fields: mapped.unknown_fields,
            },
        );
    }
}
