//! Inline suppressions (docs/terraform.md, "Inline suppressions"), as tfsec, Checkov and
//! zizmor users expect: `# tokenwarden:ignore[RULE,…] reason until YYYY-MM-DD` (or `//`)
//! on a line of a token resource, or on the lines just above it. They become exemptions of
//! the token (so governance, `exempted_by`, SARIF suppressions and the stale-exemption
//! report treat them exactly like `[[exemptions]]`); a malformed one is an error naming
//! the file and line.

use chrono::NaiveDate;

use super::config::{Block, SourceFile};
use super::TerraformError;

const MARKER: &str = "tokenwarden:ignore";

/// One suppression comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    pub rules: Vec<String>,
    pub reason: String,
    pub until: NaiveDate,
    pub file: String,
    pub line: usize,
    /// The line it applies to: its own, or the next line with code.
    pub target: usize,
}

/// Where a comment starts on a line (`#` or `//` outside a string), if anywhere.
fn comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'#' if !in_string => return Some(i),
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Every suppression comment of a file.
pub fn find(file: &SourceFile) -> Result<Vec<Ignore>, TerraformError> {
    let lines: Vec<&str> = file.text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(start) = comment_start(line) else {
            continue;
        };
        let comment = &line[start..];
        let Some(at) = comment.find(MARKER) else {
            continue;
        };
        let number = i + 1;
        let bad = |message: String| TerraformError::Config {
            file: file.display.clone(),
            line: number,
            message,
        };
        let rest = &comment[at + MARKER.len()..];
        let Some(rest) = rest.strip_prefix('[') else {
            return Err(bad(format!(
                "malformed suppression: expected `{MARKER}[RULE] reason until YYYY-MM-DD`"
            )));
        };
        let Some((list, rest)) = rest.split_once(']') else {
            return Err(bad(
                "malformed suppression: missing `]` after the rule ids".into()
            ));
        };
        let rules: Vec<String> = list
            .split(',')
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect();
        if rules.is_empty() {
            return Err(bad(
                "malformed suppression: no rule id between `[` and `]`".into()
            ));
        }
        let rest = rest.trim();
        let Some((reason, date)) = rest.rsplit_once(" until ") else {
            return Err(bad(format!(
                "malformed suppression: expected a reason and `until YYYY-MM-DD` after [{list}]"
            )));
        };
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(bad("malformed suppression: the reason is empty".into()));
        }
        let until = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").map_err(|_| {
            bad(format!(
                "malformed suppression: `until {}` is not a date (YYYY-MM-DD)",
                date.trim()
            ))
        })?;
        // On a line with code it applies to that line; on a comment line, to the next line
        // with code (comment lines in between are skipped).
        let target = if line[..start].trim().is_empty() {
            lines
                .iter()
                .enumerate()
                .skip(i + 1)
                .find(|(_, l)| {
                    let t = l.trim();
                    !t.is_empty() && comment_start(l) != Some(l.len() - l.trim_start().len())
                })
                .map_or(number, |(j, _)| j + 1)
        } else {
            number
        };
        out.push(Ignore {
            rules,
            reason: reason.to_string(),
            until,
            file: file.display.clone(),
            line: number,
            target,
        });
    }
    Ok(out)
}

/// The token block a suppression applies to: the one whose lines hold its target line.
pub fn block_of<'b>(ignore: &Ignore, file: usize, blocks: &'b [Block]) -> Option<&'b Block> {
    blocks
        .iter()
        .find(|b| b.file == file && b.line <= ignore.target && ignore.target <= b.end_line)
}
