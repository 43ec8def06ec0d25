//! `tokenwarden snapshot`: collect the inventory and keep it as a snapshot file (audit
//! evidence, offline scans). Exit 3 when any scope could not be collected.

use tokenwarden::exit::Exit;

use super::args::{SnapshotArgs, SourceArgs};
use super::error::Error;
use super::session::{check_writable, Session};

pub fn run(args: &SnapshotArgs, session: &Session) -> Result<Exit, Error> {
    let ui = session.ui;
    check_writable("--output", &args.output)?;
    let source = SourceArgs {
        snapshot: None,
        scope: args.scope,
        accounts: args.accounts.clone(),
    };
    let inv = session.inventory(&source, session.clock.now())?;
    inv.write(&args.output)?;
    ui.info(&format!(
        "wrote {} tokens of {} owners to {}",
        inv.token_count(),
        inv.owners().len(),
        args.output.display()
    ));
    for n in &inv.not_evaluated {
        ui.warn(&format!("not collected: {}: {}", n.scope, n.reason));
    }
    Ok(if inv.not_evaluated.is_empty() {
        Exit::Ok
    } else {
        Exit::Runtime
    })
}
