//! The regorus wrapper: load rule files (built-in and `--rules DIR`), parse and validate
//! their `# METADATA`, compile once, evaluate per token on a clone of the prepared
//! engine, and run the `test_*` rules of `*_test.rego` files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::finding::{Action, Severity};

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));
}

/// Where a rule file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Builtin,
    Dir(PathBuf),
}

impl Origin {
    pub fn label(&self) -> String {
        match self {
            Origin::Builtin => "built-in".to_string(),
            Origin::Dir(d) => d.display().to_string(),
        }
    }
}

/// One `.rego` file.
#[derive(Debug, Clone)]
pub struct RegoFile {
    /// The path shown in messages: `rules/<file>` for built-ins, the real path otherwise.
    pub path: String,
    pub text: String,
    pub origin: Origin,
}

/// A rule's metadata, from its `# METADATA` block.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleMeta {
    pub id: String,
    pub title: String,
    pub description: String,
    pub related_resources: Vec<String>,
    pub severity: Severity,
    pub remediation: Action,
    pub tags: Vec<String>,
    /// `tokenwarden.rules.<id_with_underscores>`
    pub package: String,
    pub file: String,
    pub origin: Origin,
}

impl RuleMeta {
    pub fn help_uri(&self) -> Option<&str> {
        self.related_resources.first().map(String::as_str)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("cannot read rules from {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Metadata {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{second}:{second_line}: rule id {id:?} is already defined at {first}:{first_line} (rule ids must be unique across every pack)")]
    DuplicateId {
        id: String,
        first: String,
        first_line: usize,
        second: String,
        second_line: usize,
    },
    #[error("{file}: {message}")]
    Compile { file: String, message: String },
    #[error("cannot compute rule coverage: {0}")]
    Coverage(String),
}

/// The rules of one run (built-ins and/or custom packs) and their test files.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<(RuleMeta, RegoFile)>,
    pub tests: Vec<RegoFile>,
}

impl RuleSet {
    /// The compiled-in default pack.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        let files = builtin::BUILTIN_RULE_FILES
            .iter()
            .map(|(path, text)| RegoFile {
                path: (*path).to_string(),
                text: (*text).to_string(),
                origin: Origin::Builtin,
            })
            .collect();
        let mut set = RuleSet::default();
        set.add_files(files)?;
        Ok(set)
    }

    /// Add every `*.rego` file of a directory (sorted by name); `*_test.rego` are tests.
    pub fn add_dir(&mut self, dir: &Path) -> Result<(), RuleError> {
        let io = |source| RuleError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rego") && p.is_file())
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no .rego files in this directory",
            )));
        }
        let mut files = Vec::new();
        for p in paths {
            let text = std::fs::read_to_string(&p).map_err(|source| RuleError::Io {
                path: p.clone(),
                source,
            })?;
            files.push(RegoFile {
                path: p.display().to_string(),
                text,
                origin: Origin::Dir(dir.to_path_buf()),
            });
        }
        self.add_files(files)
    }

    fn add_files(&mut self, files: Vec<RegoFile>) -> Result<(), RuleError> {
        for f in files {
            if f.path.ends_with("_test.rego") {
                self.tests.push(f);
                continue;
            }
            let meta = parse_metadata(&f)?;
            if let Some((first, first_file)) = self.rules.iter().find(|(m, _)| m.id == meta.id) {
                return Err(RuleError::DuplicateId {
                    first_line: id_line(&first_file.text),
                    second_line: id_line(&f.text),
                    id: meta.id,
                    first: first.file.clone(),
                    second: f.path,
                });
            }
            self.rules.push((meta, f));
        }
        Ok(())
    }

    pub fn ids(&self) -> BTreeSet<String> {
        self.rules.iter().map(|(m, _)| m.id.clone()).collect()
    }

    pub fn get(&self, id: &str) -> Option<&(RuleMeta, RegoFile)> {
        self.rules.iter().find(|(m, _)| m.id == id)
    }

    pub fn metas(&self) -> Vec<RuleMeta> {
        let mut v: Vec<RuleMeta> = self.rules.iter().map(|(m, _)| m.clone()).collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RelatedResource {
    Url(String),
    Ref {
        #[serde(rename = "ref")]
        href: String,
    },
}

/// OPA's annotation keys; anything else (say, `severity:` outside `custom:`) is an error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    title: Option<String>,
    description: Option<String>,
    related_resources: Option<Vec<RelatedResource>>,
    custom: Option<RawCustom>,
    // Accepted (they are OPA's) but not used by tokenwarden.
    #[serde(rename = "scope")]
    _scope: Option<serde::de::IgnoredAny>,
    #[serde(rename = "authors")]
    _authors: Option<serde::de::IgnoredAny>,
    #[serde(rename = "organizations")]
    _organizations: Option<serde::de::IgnoredAny>,
    #[serde(rename = "schemas")]
    _schemas: Option<serde::de::IgnoredAny>,
    #[serde(rename = "entrypoint")]
    _entrypoint: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct RawCustom {
    id: Option<String>,
    severity: Option<String>,
    remediation: Option<String>,
    tags: Option<Vec<String>>,
}

fn is_kebab_id(id: &str) -> bool {
    !id.is_empty()
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The 1-based line of `key:` inside the METADATA block (after `custom:` for custom keys),
/// so an error points at the key itself.
fn key_line(lines: &[&str], start: usize, end: usize, key: &str, in_custom: bool) -> Option<usize> {
    let content = |l: &str| l.trim_start().trim_start_matches('#').trim().to_string();
    let from = if in_custom {
        (start..end).find(|&i| content(lines[i]).starts_with("custom:"))?
    } else {
        start
    };
    (from..end)
        .find(|&i| content(lines[i]).starts_with(&format!("{key}:")))
        .map(|i| i + 1)
}

/// The line of a rule file's `custom.id` (1 when there is none): for duplicate-id errors.
fn id_line(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    key_line(&lines, 0, lines.len(), "id", true).unwrap_or(1)
}

/// Parse the OPA `# METADATA` block (package scope) that opens a rule file; regorus does
/// not expose annotations, so tokenwarden reads them itself.
pub fn parse_metadata(file: &RegoFile) -> Result<RuleMeta, RuleError> {
    let err = |line: usize, message: String| RuleError::Metadata {
        file: file.path.clone(),
        line,
        message,
    };
    let lines: Vec<&str> = file.text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == "# METADATA")
        .ok_or_else(|| {
            err(
                1,
                "no `# METADATA` block: every rule file opens with one".into(),
            )
        })?;
    let mut yaml = String::new();
    let mut end = start + 1;
    while end < lines.len() && lines[end].trim_start().starts_with('#') {
        let l = lines[end].trim_start().trim_start_matches('#');
        yaml.push_str(l.strip_prefix(' ').unwrap_or(l));
        yaml.push('\n');
        end += 1;
    }
    let block_line = start + 2;
    let at = |key: &str, in_custom: bool| {
        key_line(&lines, start, end, key, in_custom).unwrap_or(block_line)
    };
    let raw: RawMeta = yaml_serde::from_str(&yaml).map_err(|e| {
        let line = e
            .location()
            .map_or(block_line, |l| block_line + l.line().saturating_sub(1));
        err(line, format!("METADATA is not valid YAML: {e}"))
    })?;
    let custom = raw.custom.ok_or_else(|| {
        err(
            block_line,
            "METADATA has no `custom:` section (id, severity)".into(),
        )
    })?;
    let custom_line = at("custom", false);
    let id = custom
        .id
        .ok_or_else(|| err(custom_line, "METADATA custom.id is missing".into()))?;
    if !is_kebab_id(&id) {
        return Err(err(
            at("id", true),
            format!("rule id {id:?} is not kebab-case (e.g. token-no-expiry)"),
        ));
    }
    let severity = custom
        .severity
        .ok_or_else(|| {
            err(
                custom_line,
                format!("rule {id}: METADATA custom.severity is missing"),
            )
        })?
        .parse::<Severity>()
        .map_err(|e| {
            err(
                at("severity", true),
                format!("rule {id}: custom.severity: {e}"),
            )
        })?;
    let remediation = match custom.remediation {
        None => Action::None,
        Some(r) => r.parse::<Action>().map_err(|e| {
            err(
                at("remediation", true),
                format!("rule {id}: custom.remediation: {e}"),
            )
        })?,
    };
    let title = raw
        .title
        .ok_or_else(|| err(block_line, format!("rule {id}: METADATA title is missing")))?;
    let expected = format!("tokenwarden.rules.{}", id.replace('-', "_"));
    let (pkg_line, package) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| {
            l.trim()
                .strip_prefix("package ")
                .map(|p| (i + 1, p.trim().to_string()))
        })
        .ok_or_else(|| err(end + 1, "no `package` declaration".into()))?;
    if package != expected {
        return Err(err(
            pkg_line,
            format!("package {package} does not match rule id {id}: expected `package {expected}`"),
        ));
    }
    Ok(RuleMeta {
        id,
        title,
        description: raw.description.unwrap_or_default().trim().to_string(),
        related_resources: raw
            .related_resources
            .unwrap_or_default()
            .into_iter()
            .map(|r| match r {
                RelatedResource::Url(u) => u,
                RelatedResource::Ref { href } => href,
            })
            .collect(),
        severity,
        remediation,
        tags: custom.tags.unwrap_or_default(),
        package,
        file: file.path.clone(),
        origin: file.origin.clone(),
    })
}

/// Parse one file into the engine; a syntax error names the file (regorus adds the line).
fn add_policy(engine: &mut regorus::Engine, file: &RegoFile) -> Result<String, RuleError> {
    engine
        .add_policy(file.path.clone(), file.text.clone())
        .map_err(|e| RuleError::Compile {
            file: file.path.clone(),
            // regorus' message opens with a newline before its `--> file:line:col` marker.
            message: format!("does not compile:\n{}", e.to_string().trim_start()),
        })
}

/// What one rule returned for one token.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOutput {
    pub message: String,
    pub evidence: Value,
    pub severity: Option<Severity>,
}

/// An evaluation that failed for one token and one rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule_id}: {message}")]
pub struct EvalError {
    pub rule_id: String,
    pub message: String,
}

/// The prepared engine: rules compiled once with the config data; cloned per token.
#[derive(Clone)]
pub struct Evaluator {
    engine: regorus::Engine,
    rules: Vec<(RuleMeta, String)>,
}

impl Evaluator {
    /// Compile `rules` (minus `disabled`) with `config` as `data.tokenwarden.config`.
    /// A rule that does not compile is an error naming its file and line.
    pub fn new(set: &RuleSet, config: &Value, disabled: &[String]) -> Result<Self, RuleError> {
        let mut engine = regorus::Engine::new();
        engine.set_strict_builtin_errors(false);
        let mut rules = Vec::new();
        for (meta, file) in &set.rules {
            if disabled.contains(&meta.id) {
                continue;
            }
            add_policy(&mut engine, file)?;
            rules.push((meta.clone(), format!("data.{}.deny", meta.package)));
        }
        let data = serde_json::json!({"tokenwarden": {"config": config}});
        engine
            .add_data(regorus::Value::from(data))
            .map_err(|e| RuleError::Compile {
                file: "data.tokenwarden.config".into(),
                message: e.to_string(),
            })?;
        // Evaluate every rule once on an empty input: this prepares the engine (so the
        // clones do not) and turns a rule without `deny`, or one that does not compile,
        // into a load-time error rather than an error on every token.
        let mut probe = engine.clone();
        probe.set_input(regorus::Value::new_object());
        for (meta, path) in &rules {
            probe
                .eval_rule(path.clone())
                .map_err(|e| RuleError::Compile {
                    file: meta.file.clone(),
                    message: format!(
                        "rule {} must define `deny contains finding if {{ … }}`: {e}",
                        meta.id
                    ),
                })?;
        }
        Ok(Evaluator {
            engine: probe,
            rules,
        })
    }

    pub fn rules(&self) -> impl Iterator<Item = &RuleMeta> {
        self.rules.iter().map(|(m, _)| m)
    }

    /// Evaluate every rule on one input document. Each rule's result stands alone: one
    /// failing rule does not hide the others.
    pub fn evaluate(&self, input: &Value) -> Vec<(&RuleMeta, Result<Vec<RuleOutput>, EvalError>)> {
        let mut engine = self.engine.clone();
        engine.set_input(regorus::Value::from(input.clone()));
        self.rules
            .iter()
            .map(|(meta, path)| {
                let result = engine
                    .eval_rule(path.clone())
                    .map_err(|e| EvalError {
                        rule_id: meta.id.clone(),
                        message: e.to_string(),
                    })
                    .and_then(|v| outputs(&meta.id, v));
                (meta, result)
            })
            .collect()
    }
}

fn outputs(rule_id: &str, v: regorus::Value) -> Result<Vec<RuleOutput>, EvalError> {
    let bad = |message: String| EvalError {
        rule_id: rule_id.to_string(),
        message,
    };
    if v == regorus::Value::Undefined {
        return Ok(Vec::new());
    }
    let json = serde_json::to_value(&v).map_err(|e| bad(format!("result is not JSON: {e}")))?;
    let items = match json {
        Value::Array(items) => items,
        other => {
            return Err(bad(format!(
                "`deny` must be a set of findings, got {other}"
            )))
        }
    };
    items
        .into_iter()
        .map(|item| {
            let Value::Object(mut obj) = item else {
                return Err(bad(format!(
                    "a finding must be an object {{\"msg\": …}}, got {item}"
                )));
            };
            let message = match obj.remove("msg") {
                Some(Value::String(s)) => s,
                other => {
                    return Err(bad(format!(
                        "a finding needs a string `msg`, got {other:?}"
                    )))
                }
            };
            let evidence = match obj.remove("evidence") {
                None | Some(Value::Null) => Value::Object(Default::default()),
                Some(e @ Value::Object(_)) => e,
                Some(other) => {
                    return Err(bad(format!("`evidence` must be an object, got {other}")))
                }
            };
            let severity = match obj.remove("severity") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.parse::<Severity>().map_err(bad)?),
                Some(other) => {
                    return Err(bad(format!("`severity` must be a string, got {other}")))
                }
            };
            Ok(RuleOutput {
                message,
                evidence,
                severity,
            })
        })
        .collect()
}

/// The outcome of one `test_*` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    Pass,
    Fail,
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    pub file: String,
    pub name: String,
    pub outcome: TestOutcome,
}

/// Run every `test_*` rule of the set's test files against all its rules, as `opa test`
/// would (no data is preloaded: tests set `data.tokenwarden.config` with `with`).
pub fn run_tests(set: &RuleSet) -> Result<Vec<TestResult>, RuleError> {
    let mut engine = rules_engine(set)?;
    run_tests_on(&mut engine, set)
}

/// [`run_tests`] with regorus' line coverage gathered over every test.
pub fn run_tests_with_coverage(
    set: &RuleSet,
) -> Result<(Vec<TestResult>, regorus::coverage::Report), RuleError> {
    let mut engine = rules_engine(set)?;
    engine.set_enable_coverage(true);
    let results = run_tests_on(&mut engine, set)?;
    let report = engine
        .get_coverage_report()
        .map_err(|e| RuleError::Coverage(e.to_string()))?;
    Ok((results, report))
}

/// An engine with every rule of `set` loaded (no data, no input).
pub(crate) fn rules_engine(set: &RuleSet) -> Result<regorus::Engine, RuleError> {
    let mut engine = regorus::Engine::new();
    for (_, file) in &set.rules {
        add_policy(&mut engine, file)?;
    }
    Ok(engine)
}

fn run_tests_on(engine: &mut regorus::Engine, set: &RuleSet) -> Result<Vec<TestResult>, RuleError> {
    let mut tests: BTreeMap<(String, String), String> = BTreeMap::new();
    for file in &set.tests {
        let package = add_policy(engine, file)?;
        for name in test_names(&file.text) {
            tests.insert(
                (file.path.clone(), name.clone()),
                format!("{package}.{name}"),
            );
        }
    }
    Ok(tests
        .into_iter()
        .map(|((file, name), path)| {
            let outcome = match engine.eval_rule(path) {
                Ok(regorus::Value::Bool(true)) => TestOutcome::Pass,
                Ok(_) => TestOutcome::Fail,
                Err(e) => TestOutcome::Error(e.to_string()),
            };
            TestResult {
                file,
                name,
                outcome,
            }
        })
        .collect())
}

/// Names of the `test_*` rules a file defines (each name once, however many bodies).
fn test_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with("test_"))
        .map(|l| {
            l.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .collect()
}

#[cfg(test)]
mod tests;
