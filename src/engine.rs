//! The regorus wrapper: load rule files (built-in and `--rules DIR`) with the shared Rego
//! library (`rules/lib/`, `package tokenwarden.lib`), parse and validate their
//! `# METADATA`, compile once, evaluate per token on a clone of the prepared engine, and
//! run the `test_*` rules of `*_test.rego` files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::finding::{Action, Severity};

mod lint;
mod metadata;
mod opa_builtins;

pub use lint::Problem as PortabilityProblem;
use metadata::id_line;
pub use metadata::parse_metadata;

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
    /// The portability lint: what would not mean the same under OPA (issue 13).
    #[error("{}", lint::render(.0))]
    Portability(Vec<lint::Problem>),
}

/// The rules of one run (built-ins and/or custom packs), their test files, and the shared
/// library every pack is loaded with.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub rules: Vec<(RuleMeta, RegoFile)>,
    pub tests: Vec<RegoFile>,
    /// The shared Rego library (`rules/lib/`, `package tokenwarden.lib`): not rules (no
    /// metadata, no `deny`), loaded into every engine before the rules so that any rule,
    /// built-in or custom, may `import data.tokenwarden.lib`.
    pub library: Vec<RegoFile>,
}

/// An empty set: no rules, no tests, and the shared library.
impl Default for RuleSet {
    fn default() -> Self {
        RuleSet {
            rules: Vec::new(),
            tests: Vec::new(),
            library: builtin_files(builtin::BUILTIN_LIBRARY_FILES)
                .into_iter()
                .filter(|f| !is_test_file(&f.path))
                .collect(),
        }
    }
}

fn builtin_files(files: &[(&str, &str)]) -> Vec<RegoFile> {
    files
        .iter()
        .map(|(path, text)| RegoFile {
            path: (*path).to_string(),
            text: (*text).to_string(),
            origin: Origin::Builtin,
        })
        .collect()
}

fn is_test_file(path: &str) -> bool {
    path.ends_with("_test.rego")
}

impl RuleSet {
    /// The compiled-in default pack, with the library's own tests.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        let mut files = builtin_files(builtin::BUILTIN_RULE_FILES);
        files.extend(
            builtin_files(builtin::BUILTIN_LIBRARY_FILES)
                .into_iter()
                .filter(|f| is_test_file(&f.path)),
        );
        let mut set = RuleSet::default();
        set.add_files(files)?;
        Ok(set)
    }

    /// Whether the built-in pack is part of the set (then the library's own tests run,
    /// and `rules test --coverage` measures the library too).
    pub fn has_builtin_rules(&self) -> bool {
        self.rules.iter().any(|(m, _)| m.origin == Origin::Builtin)
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

    /// Add a pack's files: its rules (metadata checked, ids unique across packs) and its
    /// tests, after the portability lint passed on all of them and on the library.
    fn add_files(&mut self, files: Vec<RegoFile>) -> Result<(), RuleError> {
        // Before anything parses them: deep nesting stalls regorus's parser.
        for f in &files {
            if let Some(line) = nesting::too_deep(&f.text) {
                return Err(RuleError::Metadata {
                    file: f.path.clone(),
                    line,
                    message: format!(
                        "brackets nest more than {} deep; flatten the expression (the parser's time doubles with every level)",
                        nesting::MAX_NESTING
                    ),
                });
            }
        }
        let problems = lint::check(&files.iter().chain(&self.library).collect::<Vec<_>>());
        for f in files {
            if is_test_file(&f.path) {
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
        if !problems.is_empty() {
            return Err(RuleError::Portability(problems));
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

mod evaluator;
mod nesting;
pub use evaluator::{Backend, EvalError, Evaluator, RuleOutput, Worker};

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

/// An engine with the library and every rule of `set` loaded (no data, no input).
pub(crate) fn rules_engine(set: &RuleSet) -> Result<regorus::Engine, RuleError> {
    let mut engine = regorus::Engine::new();
    add_library(&mut engine, set)?;
    for (_, file) in &set.rules {
        add_policy(&mut engine, file)?;
    }
    Ok(engine)
}

/// The shared library, loaded before any rule.
fn add_library(engine: &mut regorus::Engine, set: &RuleSet) -> Result<(), RuleError> {
    for file in &set.library {
        add_policy(engine, file)?;
    }
    Ok(())
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
