//! Report writers. Each takes the finished [`Report`] and an `impl Write`; none decides
//! anything (the exit code is computed once, in `scan`). No writer ever sees a secret:
//! reports are built from findings, which carry token ids, names and evidence only.

pub mod json;
pub mod markdown;
pub mod sarif;
pub mod table;
pub mod terraform;

use std::io::{self, Write};

use crate::finding::Finding;
use crate::scan::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Sarif,
    Markdown,
}

pub fn write(format: Format, report: &Report, out: &mut dyn Write, color: bool) -> io::Result<()> {
    match format {
        Format::Table => table::write(report, out, color),
        Format::Json => json::write(report, out),
        Format::Sarif => sarif::write(report, out),
        Format::Markdown => markdown::write(report, out),
    }
}

/// How a token is named in human reports: its name, else its id.
pub fn token_label(f: &Finding) -> &str {
    f.token_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(&f.token_id)
}
