//! `tokenwarden explain TOKEN_ID`: the exact input document, config data and every rule's
//! result for one token (exit 3 when it could not be fully evaluated).

use tokenwarden::exit::Exit;
use tokenwarden::explain;
use tokenwarden::inventory::TokenRef;

use super::args::{ExplainArgs, ListFormat};
use super::error::{usage, Error};
use super::session::{prepare, print, Session};

pub fn run(args: &ExplainArgs, session: &Session) -> Result<Exit, Error> {
    let now = session.clock.now();
    let prepared = prepare(&args.eval, now)?;
    let inv = session.inventory(&args.source, now)?;
    let owners = inv.owners();
    let found = owners.iter().find_map(|o| {
        o.tokens
            .iter()
            .find(|t| t.id() == args.token_id)
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
            "token {} not found in the inventory{hint}",
            args.token_id
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
        ListFormat::Json => serde_json::to_string_pretty(&e).unwrap_or_default(),
        ListFormat::Table => explain::render_table(token, &e),
    };
    print(&format!("{text}\n"))?;
    Ok(if e.failed() { Exit::Runtime } else { Exit::Ok })
}
