//! `tokenwarden roll|replace|disable|enable TOKEN_ID [--account ID]`: one action on one
//! token the operator names. The token is read first (that read is the "scan" the
//! protocols compare against); the guardrails are the same as for `remediate`, except that
//! `--apply` itself is the confirmation.

use tokenwarden::cloudflare::{tokens, ApiError, Client, Credential};
use tokenwarden::exit::Exit;
use tokenwarden::inventory::Owner;
use tokenwarden::policy::GovernancePolicy;
use tokenwarden::remediate::plan::{self, Op};
use tokenwarden::remediate::render::{Document, Mode};

use super::args::TokenActionArgs;
use super::error::{usage, Error};
use super::remediate::{emit, execute, finish, parse_sink, ready, rows, Result};
use super::session::Session;

/// The id of the token the client runs with, if it is a token that could be `owner`'s.
async fn own_token_id(
    client: &Client,
    cred: &Credential,
    owner: &Owner,
) -> std::result::Result<Option<String>, ApiError> {
    if !matches!(cred, Credential::Token(_)) {
        return Ok(None);
    }
    let user = Owner::User { id: None };
    match tokens::verify(client, &user).await {
        Ok(id) => return Ok(id),
        Err(e) if !e.kind.is_forbidden() => return Err(e),
        Err(_) => {}
    }
    if owner == &user {
        return Ok(None);
    }
    match tokens::verify(client, owner).await {
        Ok(id) => Ok(id),
        Err(e) if e.kind.is_forbidden() => Ok(None),
        Err(e) => Err(e),
    }
}

/// `tokenwarden roll|replace|disable|enable TOKEN_ID`.
pub fn run(op: Op, args: &TokenActionArgs, session: &Session) -> Result<Exit> {
    let (ui, clock) = (session.ui, session.clock);
    let opts = &args.apply;
    if !tokens::is_valid_id(&args.token_id) {
        return Err(usage(format!("{:?} is not a token id", args.token_id)));
    }
    if let Some(a) = args.account.as_deref().filter(|a| !tokens::is_valid_id(a)) {
        return Err(usage(format!("--account {a:?} is not an account id")));
    }
    let sink = parse_sink(opts)?;
    let policy = match &args.policy {
        Some(p) => GovernancePolicy::load(p),
        None => GovernancePolicy::builtin(),
    }?;
    let (client, cred) = session.client()?;
    let owner = match &args.account {
        Some(id) => Owner::Account {
            id: id.clone(),
            name: None,
        },
        None => Owner::User { id: None },
    };
    let rt = session.runtime()?;
    let now = clock.now();
    let token = rt
        .block_on(tokens::get(&client, &owner, &args.token_id))
        .map_err(|e| {
            if tokens::is_not_found(&e) {
                usage(format!(
                    "token {} is not a token of the {} (an account-owned token needs --account ID)",
                    args.token_id,
                    owner.label()
                ))
            } else {
                Error::Api(e)
            }
        })?;
    let is_self = match rt.block_on(own_token_id(&client, &cred, &owner)) {
        Ok(id) => id.as_deref() == Some(args.token_id.as_str()),
        Err(_) if opts.include_self => false,
        Err(e) => {
            return Err(Error::Undecided(format!(
                "cannot tell whether token {} is the one tokenwarden runs with ({e}); pass --include-self to act anyway. Nothing was changed",
                args.token_id
            )))
        }
    };
    if let Some(guard) = plan::guard(op, &token, is_self, opts.include_self, now) {
        if guard.is_refusal() {
            return Err(Error::Refused(format!(
                "refusing to {op} token {}: {guard}",
                args.token_id
            )));
        }
    }
    let plan = plan::single(op, owner, &token, is_self, opts.include_self, now);
    let run = plan.items.len();
    let doc = Document {
        mode: if opts.apply {
            Mode::Apply
        } else {
            Mode::DryRun
        },
        now,
        max_actions: 1,
        rows: rows(&plan.items, run, None),
        skipped: &plan.skipped,
        not_evaluated: &[],
        exit_code: Exit::Ok.code(),
        interrupted: false,
    };
    if !opts.apply || run == 0 {
        emit(&doc, opts.format, sink.as_ref())?;
        return Ok(Exit::Ok);
    }
    let journal = ready(
        &plan.items,
        opts,
        sink.as_ref(),
        clock,
        policy.thresholds.max_lifetime_days,
    )?;
    let executed = execute(
        &rt,
        &client,
        &plan.items,
        journal,
        sink.as_ref(),
        policy.thresholds.max_lifetime_days,
        ui,
    )?;
    finish(&plan, &executed, &[], now, 1, opts, sink.as_ref())
}
