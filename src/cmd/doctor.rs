//! `tokenwarden doctor`: the credential's pre-flight — verify, expiry, IP condition, every
//! scope a scan reads, the permissions remediation needs.

use tokenwarden::doctor;
use tokenwarden::exit::Exit;

use super::args::{DoctorArgs, ListFormat};
use super::error::Error;
use super::session::{print, scope_of, Session};

pub fn run(args: &DoctorArgs, session: &Session) -> Result<Exit, Error> {
    let (client, cred) = session.client()?;
    let opts = doctor::Options {
        scope: scope_of(args.scope),
        accounts: args.accounts.clone(),
        now: session.clock.now(),
    };
    let rt = session.runtime()?;
    let d = rt.block_on(doctor::diagnose(&client, &cred, &opts));
    let text = match args.format {
        ListFormat::Json => {
            serde_json::to_string_pretty(&doctor::to_json(&d, args.remediation)).unwrap_or_default()
        }
        ListFormat::Table => doctor::render_table(&d, args.remediation),
    };
    print(&format!("{}\n", text.trim_end()))?;
    Ok(d.exit(args.remediation))
}
