//! The one integration-test binary: the CLI end to end, against snapshots and against the
//! stateful Cloudflare emulator.

mod baseline;
mod ci;
mod cli;
mod doctor;
mod emulator;
mod emulator_tests;
mod example;
mod exemptions;
mod explain;
mod export;
mod live;
mod portability;
mod remediate;
mod resilience;
mod rule_packs;
mod rules;
mod support;
// The benchmark's estate generator, tested here so that CI covers it.
#[path = "../../benches/scale/synth.rs"]
mod synth;
mod synthetic;
