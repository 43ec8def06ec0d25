//! The one integration-test binary: the CLI end to end, against snapshots and against the
//! stateful Cloudflare emulator.
// Test and benchmark code may unwrap, panic and print: a failure should say where and why
// (clippy.toml covers #[test] functions; this covers the helpers around them).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod baseline;
mod ci;
mod cli;
mod dashboard;
mod doctor;
mod example;
mod exemptions;
mod exit_codes;
mod explain;
mod export;
mod fail_closed;
mod fuzz;
mod history;
mod hostile_rules;
mod injection;
mod live;
mod portability;
mod remediate;
mod resilience;
mod rule_packs;
mod rules;
mod support;
mod synthetic;
mod terraform;
