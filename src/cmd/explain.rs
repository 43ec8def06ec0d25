//! `tokenwarden explain TOKEN_ID`: the exact input document, config data and every rule's
//! result for one token (exit 3 when it could not be fully evaluated); `explain --all
//! --format jsonl`: the same for every token, one line each, so anyone can re-run the
//! rules on the whole estate with OPA (docs/writing-rules.md).

use std::io::Write as _;

use tokenwarden::exit::Exit;
use tokenwarden::explain;
use tokenwarden::inventory::TokenRef;

use super::args::{ExplainArgs, ExplainFormat};
use super::error::{usage, Error};
use super::session::{prepare, print, Session, Stdout};
use super::terraform;

pub fn run(args: &ExplainArgs, session: &Session) -> Result<Exit, Error> {
    let now = session.clock.now();
    let mut prepared = prepare(&args.eval, now)?;
    let rule_ids: Vec<String> = prepared.evaluator.rules().map(|r| r.id.clone()).collect();
    let tf = terraform::load(
        &args.terraform,
        &args.source,
        &mut prepared.policy,
        &rule_ids,
        now,
    )?;
    let (inv, sources) = match tf {
        Some(loaded) => (loaded.inventory, Some(loaded.sources)),
        None => (session.inventory(&args.source, now)?, None),
    };
    let Some(token_id) = args.token_id.as_deref() else {
        return all(args, session, &inv, &prepared, now);
    };
    // With --terraform, the token is named by its resource address.
    let token_id = match &sources {
        Some(s) if !tokenwarden::id::is_id(token_id) => match s.find_address(token_id) {
            Some(id) => id,
            None => {
                let mut known: Vec<&str> =
                    s.resources.values().map(|r| r.address.as_str()).collect();
                known.sort_unstable();
                return Err(usage(format!(
                    "no token resource {token_id} in --terraform (resources: {})",
                    known.join(", ")
                )));
            }
        },
        None if !tokenwarden::id::is_id(token_id) => {
            return Err(usage(format!(
                "{token_id} is a Terraform resource address: add --terraform PATH"
            )));
        }
        _ => token_id,
    };
    if args.format == ExplainFormat::Jsonl {
        return Err(usage("--format jsonl goes with --all (one line per token)"));
    }
    let owners = inv.owners();
    let found = owners.iter().find_map(|o| {
        o.tokens
            .iter()
            .find(|t| t.id() == token_id)
            .map(|t| TokenRef {
                owner: &o.owner,
                token: t,
                catalogue: o.catalogue,
            })
    });
    let Some(token) = found else {
        let hint = if inv.not_evaluated.is_empty() {
            String::new()
        } else {
            format!(" ({} scope(s) could not be read)", inv.not_evaluated.len())
        };
        return Err(usage(format!(
            "token {token_id} not found in the inventory{hint}"
        )));
    };
    let mut e = explain::explain(
        token,
        &prepared.rules,
        &prepared.evaluator,
        &prepared.policy,
        now,
        inv.scanner_token_id.as_deref(),
    );
    let resource = sources.as_ref().and_then(|s| s.get(token_id));
    if let Some(r) = resource {
        // As in a scan: a finding an unknown value could cause is not reported.
        e.findings.retain(|f| !r.hides(&f.rule_id));
        for v in &mut e.rules {
            if r.hides(&v.id) {
                v.findings.clear();
                v.fired = false;
            }
        }
    }
    let text = match (args.format, resource) {
        (ExplainFormat::Json | ExplainFormat::Jsonl, None) => {
            serde_json::to_string_pretty(&e).unwrap_or_default()
        }
        (ExplainFormat::Json | ExplainFormat::Jsonl, Some(r)) => {
            let mut doc = serde_json::to_value(&e).unwrap_or_default();
            if let serde_json::Value::Object(o) = &mut doc {
                o.insert(
                    "terraform".into(),
                    serde_json::to_value(r).unwrap_or_default(),
                );
            }
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        }
        (ExplainFormat::Table, None) => explain::render_table(token, &e),
        (ExplainFormat::Table, Some(r)) => {
            let mut head = format!("{} ({}:{}, {})\n", r.address, r.file, r.line, r.source);
            for l in tokenwarden::report::terraform::uncertainty_lines(r) {
                head.push_str(&format!("  {l}\n"));
            }
            format!("{head}\n{}", explain::render_table(token, &e))
        }
    };
    print(&format!("{text}\n"))?;
    Ok(if e.failed() { Exit::Runtime } else { Exit::Ok })
}

/// `explain --all --format jsonl`: every token, one line each; exit 3 when any token (or
/// a scope of the inventory) could not be evaluated.
fn all(
    args: &ExplainArgs,
    session: &Session,
    inv: &tokenwarden::inventory::Inventory,
    prepared: &super::session::Prepared,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Exit, Error> {
    if args.format != ExplainFormat::Jsonl {
        return Err(usage(
            "--all writes one JSON line per token: add --format jsonl",
        ));
    }
    let mut out = std::io::BufWriter::new(Stdout::default());
    let summary =
        tokenwarden::export::write_jsonl(inv, &prepared.evaluator, &prepared.policy, now, &mut out)
            .and_then(|s| out.flush().map(|()| s).map_err(Into::into))
            .map_err(|e| Error::Output {
                what: "the export",
                target: "stdout".into(),
                source: std::io::Error::other(e.to_string()),
            })?;
    for n in &inv.not_evaluated {
        session
            .ui
            .warn(&format!("not evaluated: {}: {}", n.scope, n.reason));
    }
    Ok(if summary.failed > 0 || !inv.not_evaluated.is_empty() {
        Exit::Runtime
    } else {
        Exit::Ok
    })
}
