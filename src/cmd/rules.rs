//! `tokenwarden rules list | show | test`: the rule pack, one rule's metadata and source,
//! and the rule tests (PASS/FAIL/ERROR per test, with `--coverage` per rule file).

use std::fmt::Write as _;
use std::io::Write;

use serde_json::{json, Value};
use tokenwarden::coverage;
use tokenwarden::engine::{self, RuleSet, TestOutcome};
use tokenwarden::exit::Exit;
use tokenwarden::text::{terminal as t, terminal_lines};

use super::args::{ListFormat, RuleSourceArgs, RulesCommand};
use super::error::{usage, Error};
use super::session::{print, rule_set, Session, Stdout};

pub fn run(cmd: RulesCommand, session: &Session) -> Result<Exit, Error> {
    let ui = session.ui;
    match cmd {
        RulesCommand::List { rules, format } => {
            let set = source_rules(&rules)?;
            let metas = set.metas();
            let mut out = std::io::BufWriter::new(Stdout::default());
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
                                t(&m.id),
                                m.severity.as_str(),
                                m.remediation.as_str(),
                                t(&m.origin.label()),
                                t(&m.title)
                            )
                        });
                    }
                    r
                }
            };
            res.and_then(|()| out.flush())
                .map_err(|source| Error::Output {
                    what: "the rule list",
                    target: "stdout".into(),
                    source,
                })?;
            Ok(Exit::Ok)
        }
        RulesCommand::Show { id, rules } => {
            let set = source_rules(&rules)?;
            let Some((m, file)) = set.get(&id) else {
                return Err(usage(format!(
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
                let _ = writeln!(s, "see: {r}");
            }
            s.push_str("\n---\n");
            s.push_str(&file.text);
            // A custom pack's metadata and source are outside text too.
            print(&terminal_lines(&s))?;
            Ok(Exit::Ok)
        }
        RulesCommand::Test {
            dirs,
            no_default_rules,
            coverage,
        } => {
            let set = rule_set(&dirs, no_default_rules)?;
            if set.tests.is_empty() {
                return Err(usage("no *_test.rego files to run"));
            }
            let (results, files) = if coverage {
                coverage::run(&set).map(|(r, f)| (r, Some(f)))
            } else {
                engine::run_tests(&set).map(|r| (r, None))
            }?;
            let mut text = String::new();
            let (mut passed, mut failed) = (0, 0);
            for r in &results {
                match &r.outcome {
                    TestOutcome::Pass => {
                        passed += 1;
                        if ui.verbosity >= 0 {
                            let _ = writeln!(text, "PASS  {}: {}", t(&r.file), t(&r.name));
                        }
                    }
                    TestOutcome::Fail => {
                        failed += 1;
                        let _ = writeln!(text, "FAIL  {}: {}", t(&r.file), t(&r.name));
                    }
                    TestOutcome::Error(e) => {
                        failed += 1;
                        let _ = writeln!(
                            text,
                            "ERROR {}: {}: {}",
                            t(&r.file),
                            t(&r.name),
                            t(&e.to_string())
                        );
                    }
                }
            }
            if let Some(files) = files {
                text.push_str(&coverage::render(&files));
            }
            let _ = writeln!(text, "{passed} passed, {failed} failed");
            print(&text)?;
            Ok(if failed == 0 {
                Exit::Ok
            } else {
                Exit::Findings
            })
        }
    }
}

fn source_rules(r: &RuleSourceArgs) -> Result<RuleSet, Error> {
    rule_set(&r.rules, r.no_default_rules)
}
