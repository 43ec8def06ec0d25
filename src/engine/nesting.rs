//! A bound on how deeply brackets nest in a rule file, checked before anything parses it.
//!
//! regorus's parser tries a comprehension at every `[` and `{` and backtracks when it is
//! not one, so its time doubles with each level: 20 nested arrays take a second, 30 take
//! a quarter of an hour. A hostile or generated rule file must not be able to stall a scan
//! at load (issue 12), so a file nested deeper than [`MAX_NESTING`] is refused with its
//! line, before regorus (or the portability lint, which also parses) sees it.

/// The deepest `[`/`{` nesting a rule file may have. Real rules stay far below it (the
/// built-in pack's deepest is 6); at this depth the parser's backtracking is still instant.
pub const MAX_NESTING: usize = 12;

/// The first place where `text` nests `[`/`{` deeper than [`MAX_NESTING`]: (line, depth).
/// Strings (`"…"` with escapes, `` `…` `` raw) and `#` comments are skipped.
pub fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut line = 1usize;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        // An unterminated string is the parser's to report.
                        '\n' => {
                            line += 1;
                            break;
                        }
                        _ => {}
                    }
                }
            }
            '`' => {
                for c in chars.by_ref() {
                    match c {
                        '`' => break,
                        '\n' => line += 1,
                        _ => {}
                    }
                }
            }
            '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(line);
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(n: usize) -> String {
        format!("package p\n\nx := {}1{}\n", "[".repeat(n), "]".repeat(n))
    }

    #[test]
    fn nesting_up_to_the_bound_passes_and_one_more_is_refused_with_its_line() {
        assert_eq!(too_deep(&nested(MAX_NESTING)), None);
        assert_eq!(too_deep(&nested(MAX_NESTING + 1)), Some(3));
        let mixed = format!(
            "package p\n# {}\n\ny := {}\n",
            "[".repeat(50),
            "{\"a\": [".repeat(7)
        );
        assert_eq!(too_deep(&mixed), Some(4));
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let s = format!(
            "package p\n# {c}\nx := \"{c}\\\"{c}\"\ny := `{c}\n{c}`\nz := [1]\n",
            c = "[{".repeat(40)
        );
        assert_eq!(too_deep(&s), None);
    }

    #[test]
    fn the_built_in_pack_is_well_inside_the_bound() {
        // Opening half the bound first leaves the other half for the file itself.
        let headroom = "[".repeat(MAX_NESTING / 2);
        let files = crate::engine::builtin::BUILTIN_RULE_FILES
            .iter()
            .chain(crate::engine::builtin::BUILTIN_LIBRARY_FILES);
        for (path, text) in files {
            assert_eq!(too_deep(&format!("{headroom}{text}")), None, "{path}");
        }
    }
}
