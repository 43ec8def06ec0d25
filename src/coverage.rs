//! `rules test --coverage`: which lines of each rule file the rule tests reached, from
//! regorus' coverage (a line counts when an expression on it was evaluated; a line where
//! only some expressions were is *not* covered, as regorus itself shows it).
//!
//! regorus only reports files that some test reached. For a file no test reached, the
//! lines that could be covered are learned by evaluating its `deny` once on an empty input
//! in a scratch engine: regorus lists every expression line of a reached file as either
//! covered or not, so that run tells which lines exist, and all of them count as missed.
//!
//! The shared library (`rules/lib/`) is measured with the built-in pack, whose tests
//! include the library's own; a custom pack alone is measured on its own files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::engine::{self, RuleError, RuleSet, TestResult};

/// Coverage of one rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCoverage {
    pub file: String,
    /// Lines holding an expression (1-based).
    pub lines: BTreeSet<u32>,
    /// Of those, the lines no test reached.
    pub missed: BTreeSet<u32>,
    text: String,
}

impl FileCoverage {
    pub fn covered(&self) -> usize {
        self.lines.len() - self.missed.len()
    }

    /// 100 for a file without expressions.
    pub fn percent(&self) -> f64 {
        if self.lines.is_empty() {
            100.0
        } else {
            self.covered() as f64 * 100.0 / self.lines.len() as f64
        }
    }

    fn line_text(&self, line: u32) -> &str {
        self.text
            .lines()
            .nth(line.saturating_sub(1) as usize)
            .unwrap_or("")
    }
}

type Lines = BTreeMap<String, (BTreeSet<u32>, BTreeSet<u32>)>;

/// (covered, not covered) line sets per file of a regorus report.
fn by_file(report: regorus::coverage::Report) -> Lines {
    report
        .files
        .into_iter()
        .map(|f| (f.path, (f.covered, f.not_covered)))
        .collect()
}

/// Run the set's tests with coverage: the results, and the coverage of each rule file
/// (test files are not measured; the library is, with the built-in pack), in file order.
pub fn run(set: &RuleSet) -> Result<(Vec<TestResult>, Vec<FileCoverage>), RuleError> {
    let (results, report) = engine::run_tests_with_coverage(set)?;
    let library: &[engine::RegoFile] = if set.has_builtin_rules() {
        &set.library
    } else {
        &[]
    };
    let reached = by_file(report);
    let unreached: Vec<_> = set
        .rules
        .iter()
        .filter(|(_, f)| !reached.contains_key(&f.path))
        .collect();
    let probed = if unreached.is_empty() {
        Lines::new()
    } else {
        let mut probe = engine::rules_engine(set)?;
        probe.set_enable_coverage(true);
        probe.set_input(regorus::Value::new_object());
        for (meta, _) in &unreached {
            // Only the lines it touches matter; its result (or error) does not.
            let _ = probe.eval_rule(format!("data.{}.deny", meta.package));
        }
        by_file(
            probe
                .get_coverage_report()
                .map_err(|e| RuleError::Coverage(e.to_string()))?,
        )
    };
    let measured = set.rules.iter().map(|(_, f)| f).chain(library);
    let mut files: Vec<FileCoverage> = measured
        .map(|f| {
            let (lines, missed) = match reached.get(&f.path) {
                Some((covered, not_covered)) => {
                    let lines: BTreeSet<u32> = covered.union(not_covered).copied().collect();
                    (lines, not_covered.clone())
                }
                None => {
                    let lines: BTreeSet<u32> = probed
                        .get(&f.path)
                        .map(|(c, n)| c.union(n).copied().collect())
                        .unwrap_or_default();
                    (lines.clone(), lines)
                }
            };
            FileCoverage {
                file: f.path.clone(),
                lines,
                missed,
                text: f.text.clone(),
            }
        })
        .collect();
    files.sort_by(|a, b| a.file.cmp(&b.file));
    Ok((results, files))
}

/// The report: a percentage per file, the missed lines with their text, and a total.
pub fn render(files: &[FileCoverage]) -> String {
    let mut s = String::from("coverage:\n");
    for f in files {
        let _ = writeln!(
            s,
            "  {:>5.1}%  {} ({}/{} lines)",
            f.percent(),
            f.file,
            f.covered(),
            f.lines.len()
        );
        for line in &f.missed {
            let _ = writeln!(
                s,
                "          not reached {}:{line}: {}",
                f.file,
                f.line_text(*line).trim()
            );
        }
    }
    let total: usize = files.iter().map(|f| f.lines.len()).sum();
    let covered: usize = files.iter().map(FileCoverage::covered).sum();
    let pct = if total == 0 {
        100.0
    } else {
        covered as f64 * 100.0 / total as f64
    };
    let _ = writeln!(s, "  {pct:>5.1}%  total ({covered}/{total} lines)");
    s
}
