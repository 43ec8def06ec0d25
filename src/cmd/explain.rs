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

pub fn run(args: &ExplainArgs, session: &Session) -> Result<Exit, Error> {
    let now = session.clock.now();
    let prepared = prepare(&args.eval, now)?;
    let inv = session.inventory(&args.source, now)?;
    let Some(token_id) = args.token_id.as_deref() else {
        return all(args, session, &inv, &prepared, now);
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
    let e = explain::explain(
        token,
        &prepared.rules,
        &prepared.evaluator,
        &prepared.policy,
        now,
        inv.scanner_token_id.as_deref(),
    );
    let text = match args.format {
        ExplainFormat::Json | ExplainFormat::Jsonl => {
            serde_json::to_string_pretty(&e).unwrap_or_default()
        }
        ExplainFormat::Table => explain::render_table(token, &e),
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
