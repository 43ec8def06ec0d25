//! Text from outside (token names chosen by whoever may create a token, API error messages,
//! custom rules' messages) made safe for human formats (issue 12): on a terminal no
//! control or bidirectional-override character reaches the screen raw, so nothing can hide
//! a column, move the cursor or forge a line; in Markdown nothing renders as an image, a
//! link, a mention or an HTML tag. JSON and SARIF carry the exact string instead.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Unicode characters that reorder text on screen ("Trojan Source", CVE-2021-42574).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Characters that must not reach a terminal raw: C0 and C1 controls, DEL, and the
/// bidirectional controls.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

fn escape_char(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{1b}' => out.push_str("\\e"),
        c if (c as u32) < 0x100 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// One field of terminal output: every unsafe character spelled out (`\e`, `\n`, `\x9b`,
/// `\u{202e}`), so the field stays on its line and in its column. Safe text is borrowed.
pub fn terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe_char(c) {
            escape_char(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A text of several lines for a terminal (a message, a rule file's source): unsafe
/// characters spelled out, but its line breaks and tabs kept (a line break inside a quoted
/// outside string was already escaped by [`terminal`] or Debug quoting).
pub fn terminal_lines(s: &str) -> Cow<'_, str> {
    let unsafe_here = |c: char| c != '\n' && c != '\t' && is_unsafe_char(c);
    if !s.chars().any(unsafe_here) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_here(c) {
            escape_char(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether Markdown might render `s` as more than its text even with `<` and `>` written
/// as entities: an image or a link (`](`), a bare autolink (`://`, `www.`), a mention
/// (`@`), an issue reference (`#`), an entity of its own (`&`, which GitHub decodes before
/// it looks for mentions), a code span, or a control character that would break the row.
fn renders_as_more_than_text(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    s.chars()
        .any(|c| is_unsafe_char(c) || matches!(c, '@' | '#' | '`' | '&'))
        || lower.contains("](")
        || lower.contains("://")
        || lower.contains("www.")
}

/// Text for a Markdown table cell. Plain text stays as it is (with `\` and `|` escaped);
/// anything that could render as more than text goes into an inline code span, where
/// GitHub renders no link, image, mention, reference, emoji or HTML, with `|` escaped for
/// the table and control characters spelled out.
pub fn markdown_cell(s: &str) -> String {
    if !renders_as_more_than_text(s) {
        return s
            .replace('\\', "\\\\")
            .replace('|', "\\|")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
    }
    let body = terminal(s).replace('|', "\\|");
    // A fence longer than any run of backticks inside, padded when the text starts or
    // ends with one (CommonMark code spans).
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_text_is_left_alone() {
        for s in [
            "ci-deploy-workers",
            "Zone Read (all zones)",
            "naïve – ünïcödé ✓",
            "",
        ] {
            assert!(matches!(terminal(s), Cow::Borrowed(_)), "{s}");
        }
        assert_eq!(
            markdown_cell("ci-deploy-workers (replaces e7e7e7e7, 2026-11-22)"),
            "ci-deploy-workers (replaces e7e7e7e7, 2026-11-22)"
        );
    }

    #[test]
    fn control_and_bidi_characters_are_spelled_out() {
        assert_eq!(terminal("a\u{1b}[8mhidden"), "a\\e[8mhidden");
        assert_eq!(
            terminal("x\r\nSummary: 0 findings"),
            "x\\r\\nSummary: 0 findings"
        );
        assert_eq!(terminal("\u{9b}31m"), "\\x9b31m");
        assert_eq!(terminal("\u{7f}"), "\\x7f");
        assert_eq!(terminal("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(terminal("\u{1b}]8;;http://x\u{7}"), "\\e]8;;http://x\\x07");
        assert_eq!(terminal_lines("one\n\ttwo\u{1b}\r"), "one\n\ttwo\\e\\r");
    }

    #[test]
    fn markdown_never_renders_outside_text() {
        assert_eq!(
            markdown_cell("![img](https://x.test/p.png)"),
            "`![img](https://x.test/p.png)`"
        );
        assert_eq!(markdown_cell("@octocat"), "`@octocat`");
        assert_eq!(
            markdown_cell("[click](javascript:x)"),
            "`[click](javascript:x)`"
        );
        assert_eq!(markdown_cell("a|b"), "a\\|b");
        assert_eq!(markdown_cell("@a|b"), "`@a\\|b`");
        assert_eq!(markdown_cell("<img src=x>"), "&lt;img src=x&gt;");
        assert_eq!(markdown_cell("<https://x.test>"), "`<https://x.test>`");
        assert_eq!(markdown_cell("x\ny"), "`x\\ny`");
        assert_eq!(
            markdown_cell("see www.example.com"),
            "`see www.example.com`"
        );
        assert_eq!(markdown_cell("https://x.test"), "`https://x.test`");
        assert_eq!(markdown_cell("a`b"), "``a`b``");
        assert_eq!(markdown_cell("`x`"), "`` `x` ``");
        assert_eq!(markdown_cell("#1 fix"), "`#1 fix`");
        assert_eq!(markdown_cell("&#64;octocat"), "`&#64;octocat`");
        // Plain text, even with brackets and parentheses, stays as it was.
        assert_eq!(
            markdown_cell("grants (DNS Write) in policies[0], policies[2]"),
            "grants (DNS Write) in policies[0], policies[2]"
        );
        assert_eq!(markdown_cell("a\\b|c"), "a\\\\b\\|c");
    }
}
