//! `tokenwarden explain` and `tokenwarden doctor`: the commands that look closely at one
//! token, or at the credential itself.

use super::{client, inventory, prepare_with_rules, runtime, scope_of, Conn, Failure, Outcome, Ui};
use crate::cli::{DoctorArgs, ExplainArgs, ListFormat};
use crate::clock::Clock;
use crate::inventory::TokenRef;
use crate::scan::exit;
use crate::{doctor, explain};

pub(super) fn explain_cmd(args: &ExplainArgs, conn: Conn<'_>, clock: Clock, ui: Ui) -> Outcome {
    let (policy, set, evaluator, now) = prepare_with_rules(&args.eval, clock)?;
    let inv = inventory(&args.source, conn, now, ui)?;
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
        return Err(Failure::usage(format!(
            "token {} not found in the inventory{hint}",
            args.token_id
        )));
    };
    let e = explain::explain(
        token,
        &set,
        &evaluator,
        &policy,
        now,
        inv.scanner_token_id.as_deref(),
    );
    let text = match args.format {
        ListFormat::Json => serde_json::to_string_pretty(&e.doc).unwrap_or_default(),
        ListFormat::Table => explain::render_table(token, &e.doc),
    };
    println!("{text}");
    Ok(if e.failed { exit::RUNTIME } else { exit::OK })
}

pub(super) fn doctor_cmd(args: &DoctorArgs, conn: Conn<'_>, clock: Clock) -> Outcome {
    let now = clock.now();
    let (client, cred) = client(conn)?;
    let opts = doctor::Options {
        scope: scope_of(args.scope),
        accounts: args.accounts.clone(),
        now,
    };
    let rt = runtime()?;
    let d = rt.block_on(doctor::diagnose(&client, &cred, &opts));
    let text = match args.format {
        ListFormat::Json => {
            serde_json::to_string_pretty(&doctor::to_json(&d, args.remediation)).unwrap_or_default()
        }
        ListFormat::Table => doctor::render_table(&d, args.remediation),
    };
    println!("{}", text.trim_end());
    Ok(d.exit_code(args.remediation))
}
