//! `tokenwarden rules list | show | test`: the rule pack, one rule's metadata and source,
//! and the rule tests (PASS/FAIL/ERROR per test, with `--coverage` per rule file).

use std::io::Write;

use serde_json::{json, Value};

use super::{rule_set, Failure, Outcome, Ui};
use crate::cli::{ListFormat, RuleSourceArgs, RulesCommand};
use crate::coverage;
use crate::engine::{self, RuleSet, TestOutcome};
use crate::scan::exit;

pub(super) fn rules_cmd(cmd: RulesCommand, ui: Ui) -> Outcome {
    match cmd {
        RulesCommand::List { rules, format } => {
            let set = source_rules(&rules)?;
            let metas = set.metas();
            let mut out = std::io::stdout().lock();
            let res = match format {
                ListFormat::Json => {
                    let v: Vec<Value> = metas
                        .iter()
                        .map(|m| {
                            json!({"id": m.id, "title": m.title, "severity": m.severity, "remediation": m.remediation,
                                   "tags": m.tags, "origin": m.origin.label(), "file": m.file, "description": m.description,
                                   "related_resources": m.related_resources})
                        })
                        .collect();
                    serde_json::to_writer_pretty(&mut out, &v)
                        .map_err(std::io::Error::from)
                        .and_then(|_| writeln!(out))
                }
                ListFormat::Table => {
                    let w = metas.iter().map(|m| m.id.len()).max().unwrap_or(2).max(2);
                    let mut r = writeln!(
                        out,
                        "{:<w$}  {:<8}  {:<7}  {:<8}  TITLE",
                        "ID", "SEVERITY", "ACTION", "ORIGIN"
                    );
                    for m in &metas {
                        r = r.and_then(|_| {
                            writeln!(
                                out,
                                "{:<w$}  {:<8}  {:<7}  {:<8}  {}",
                                m.id,
                                m.severity.as_str(),
                                m.remediation.as_str(),
                                m.origin.label(),
                                m.title
                            )
                        });
                    }
                    r
                }
            };
            res.map_err(|e| Failure::runtime(format!("cannot write to stdout: {e}")))?;
            Ok(exit::OK)
        }
        RulesCommand::Show { id, rules } => {
            let set = source_rules(&rules)?;
            let Some((m, file)) = set.get(&id) else {
                return Err(Failure::usage(format!(
                    "no rule {id:?}; `tokenwarden rules list` shows the ids"
                )));
            };
            let mut s = format!(
                "{}: {}\n\nseverity:    {}\nremediation: {}\ntags:        {}\norigin:      {}\nfile:        {}\n\n{}\n",
                m.id,
                m.title,
                m.severity,
                m.remediation.as_str(),
                m.tags.join(", "),
                m.origin.label(),
                m.file,
                m.description
            );
            for r in &m.related_resources {
                s.push_str(&format!("see: {r}\n"));
            }
            s.push_str("\n---\n");
            s.push_str(&file.text);
            print!("{s}");
            Ok(exit::OK)
        }
        RulesCommand::Test {
            dirs,
            no_default_rules,
            coverage,
        } => {
            let set = rule_set(&dirs, no_default_rules)?;
            if set.tests.is_empty() {
                return Err(Failure::usage("no *_test.rego files to run"));
            }
            let (results, files) = if coverage {
                coverage::run(&set).map(|(r, f)| (r, Some(f)))
            } else {
                engine::run_tests(&set).map(|r| (r, None))
            }
            .map_err(|e| Failure::usage(e.to_string()))?;
            let (mut passed, mut failed) = (0, 0);
            for r in &results {
                match &r.outcome {
                    TestOutcome::Pass => {
                        passed += 1;
                        if ui.verbosity >= 0 {
                            println!("PASS  {}: {}", r.file, r.name);
                        }
                    }
                    TestOutcome::Fail => {
                        failed += 1;
                        println!("FAIL  {}: {}", r.file, r.name);
                    }
                    TestOutcome::Error(e) => {
                        failed += 1;
                        println!("ERROR {}: {}: {e}", r.file, r.name);
                    }
                }
            }
            if let Some(files) = files {
                print!("{}", coverage::render(&files));
            }
            println!("{passed} passed, {failed} failed");
            Ok(if failed == 0 {
                exit::OK
            } else {
                exit::FINDINGS
            })
        }
    }
}

fn source_rules(r: &RuleSourceArgs) -> Result<RuleSet, Failure> {
    rule_set(&r.rules, r.no_default_rules)
}
