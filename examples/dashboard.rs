//! Renders a dashboard from a `DashboardData` JSON file (issue 15, part 5), for the README's
//! screenshot (`scripts/dashboard-screenshot.sh`) and for trying a design change without
//! a history database: `cargo run --example dashboard -- tests/fixtures/dashboard/data.json > d.html`.

use std::io::Write as _;

use anyhow::Context as _;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .context("usage: dashboard DATA.json > dashboard.html")?;
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let data: tokenwarden::dashboard::DashboardData =
        serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?;
    std::io::stdout().write_all(tokenwarden::dashboard::render(&data).as_bytes())?;
    Ok(())
}
