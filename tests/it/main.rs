//! The one integration-test binary: the CLI end to end, against snapshots and against the
//! stateful Cloudflare emulator.

mod cli;
mod emulator;
mod emulator_tests;
mod example;
mod live;
mod remediate;
mod rules;
mod support;
