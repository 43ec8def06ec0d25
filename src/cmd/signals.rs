//! SIGINT and SIGTERM while `--apply` changes tokens (docs/architecture.md §8, issue 12).
//! A cancelled CI job or a Ctrl-C must not lose a secret: the first signal asks the run to
//! stop ([`Stop`]) — the current action finishes its critical step (a roll or create already
//! sent is answered and escrowed, a delivery under way is completed or fails into the
//! escrow), the journal says `interrupted`, no further action starts, and the run exits 3.
//! A second signal exits at once (3): every secret made so far is already in its escrow
//! file, and `tokenwarden recover` finishes the rest.
//!
//! The handlers are installed only once the run is about to change something; until then
//! a signal ends the process as usual, with nothing to lose.

use std::io;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tokenwarden::exit::Exit;
use tokenwarden::remediate::Stop;

use super::session::Ui;

/// Watch for SIGINT/SIGTERM from now until the process ends; returns the [`Stop`] the first
/// one sets.
pub fn watch(ui: Ui) -> io::Result<Stop> {
    let stop = Stop::default();
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let flag = stop.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let name = if signal == SIGINT { "SIGINT" } else { "SIGTERM" };
                if flag.request_first() {
                    ui.say(&format!(
                        "received {name}: finishing the current action's critical step (its new secret escrowed or delivered), then stopping; a second signal exits at once"
                    ));
                } else {
                    ui.say(&format!(
                        "received {name} again: exiting at once; any new secret is in its escrow file beside the journal — run `tokenwarden recover` to finish"
                    ));
                    std::process::exit(i32::from(Exit::Runtime.code()));
                }
            }
        })?;
    Ok(stop)
}
