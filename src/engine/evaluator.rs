//! Evaluating the compiled rules on one token's input document.
//!
//! The rules are compiled once. Two backends give the same results (a test holds them to
//! it on every token of the example and on synthetic variants): regorus's bytecode VM
//! (RVM), about four times faster, used by default; and the tree-walking interpreter, used
//! when a custom rule uses something the VM compiler does not support, or on request
//! (`--engine interpreter`). Each worker thread has its own VM or interpreter clone.

use std::sync::Arc;

use regorus::Value;

use super::{add_library, add_policy, RuleError, RuleMeta, RuleSet};
use crate::finding::{Evidence, Severity};

/// What one rule returned for one token.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOutput {
    pub message: String,
    pub evidence: Evidence,
    pub severity: Option<Severity>,
}

/// The most one rule may take on one token by default (on the interpreter, which runs
/// custom packs; the policy's `[limits] rule_time_limit_ms` changes it). The built-in rules
/// take microseconds.
pub const RULE_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How far interpreted rule evaluation may grow the process heap by default (the policy's
/// `[limits] rule_memory_limit_mb` changes it).
pub const RULE_MEMORY_LIMIT: u64 = 1024 * 1024 * 1024;

fn timer(limit: std::time::Duration) -> regorus::utils::limits::ExecutionTimerConfig {
    regorus::utils::limits::ExecutionTimerConfig {
        limit,
        check_interval: std::num::NonZeroU32::MIN.saturating_add(255),
    }
}

/// An evaluation that failed for one token and one rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule_id}: {message}")]
pub struct EvalError {
    pub rule_id: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Vm,
    Interpreter,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Vm => "vm",
            Backend::Interpreter => "interpreter",
        }
    }
}

/// The prepared rules: compiled once with the config data.
#[derive(Clone)]
pub struct Evaluator {
    engine: regorus::Engine,
    rules: Vec<(RuleMeta, String)>,
    vm: Option<(regorus::CompiledPolicy, Arc<regorus::rvm::Program>)>,
    data: regorus::Value,
    /// Why the VM is not used, when it was wanted.
    pub fallback_reason: Option<String>,
    /// How far interpreted rule evaluation may grow the process heap, in bytes.
    memory_limit: u64,
    /// Set once the ceiling is armed (by the first interpreter worker).
    ceiling: Arc<std::sync::OnceLock<u64>>,
}

/// One thread's evaluator: a VM or an interpreter clone, reused token after token.
pub struct Worker<'a> {
    ev: &'a Evaluator,
    state: WorkerState,
}

enum WorkerState {
    Vm(Box<regorus::rvm::RegoVM>),
    Interpreter(Box<regorus::Engine>),
}

impl Evaluator {
    /// Compile `rules` (minus `disabled`) with `config` as `data.tokenwarden.config`, for
    /// the VM backend (falling back to the interpreter if the VM cannot compile them).
    pub fn new(
        set: &RuleSet,
        config: &serde_json::Value,
        disabled: &[String],
    ) -> Result<Self, RuleError> {
        Self::with_backend(set, config, disabled, Backend::Vm)
    }

    /// A rule that does not compile is an error naming its file and line.
    pub fn with_backend(
        set: &RuleSet,
        config: &serde_json::Value,
        disabled: &[String],
        backend: Backend,
    ) -> Result<Self, RuleError> {
        let mut engine = regorus::Engine::new();
        // A built-in that fails (`1/0`, `to_number("abc")`, a wrong type) is an error of that
        // rule on that token — the token is reported as not evaluated — never a silent "no
        // finding": a rule must not be able to fake a clean scan (issue 12). OPA, too, stops
        // on a built-in's type error.
        engine.set_strict_builtin_errors(true);
        // A runaway rule is stopped, not waited for: each evaluation of a rule on a token has
        // a wall-clock budget (checked cooperatively as the interpreter works), and running
        // out of it is an error of that rule on that token (issue 12).
        engine.set_execution_timer_config(timer(RULE_TIME_LIMIT));
        add_library(&mut engine, set)?;
        let mut rules = Vec::new();
        for (meta, file) in &set.rules {
            if disabled.contains(&meta.id) {
                continue;
            }
            add_policy(&mut engine, file)?;
            rules.push((meta.clone(), format!("data.{}.deny", meta.package)));
        }
        let data = regorus::Value::from(serde_json::json!({"tokenwarden": {"config": config}}));
        engine
            .add_data(data.clone())
            .map_err(|e| RuleError::Compile {
                file: "data.tokenwarden.config".into(),
                message: e.to_string(),
            })?;
        // Evaluate every rule once on an empty input: this prepares the engine (so the
        // clones do not) and turns a rule without `deny`, or one that does not compile,
        // into a load-time error rather than an error on every token.
        engine.set_input(regorus::Value::new_object());
        for (meta, path) in &rules {
            engine
                .eval_rule(path.clone())
                .map_err(|e| RuleError::Compile {
                    file: meta.file.clone(),
                    message: format!(
                        "rule {} does not evaluate on an empty input (it must define `deny contains finding if {{ … }}`, and must not fail whatever the input): {e}",
                        meta.id
                    ),
                })?;
        }
        let mut ev = Evaluator {
            engine,
            rules,
            vm: None,
            data,
            fallback_reason: None,
            memory_limit: RULE_MEMORY_LIMIT,
            ceiling: Arc::default(),
        };
        let custom = set
            .rules
            .iter()
            .any(|(meta, _)| !matches!(meta.origin, super::Origin::Builtin));
        if backend == Backend::Vm && custom {
            // regorus's VM skips a rule body whose built-in fails, strict or not, so a
            // custom rule that errors would pass silently there. The built-in pack never
            // errors (its tests and the OPA parity check hold it to that); a custom pack
            // runs on the interpreter, which reports the error.
            ev.fallback_reason = Some(
                "custom rules run on the interpreter, which reports a rule that fails as an error (the VM would skip it)".into(),
            );
        } else if backend == Backend::Vm && !ev.rules.is_empty() {
            match ev.compile_vm() {
                Ok(vm) => ev.vm = Some(vm),
                Err(e) => ev.fallback_reason = Some(e),
            }
        }
        Ok(ev)
    }

    fn compile_vm(
        &mut self,
    ) -> Result<(regorus::CompiledPolicy, Arc<regorus::rvm::Program>), String> {
        let first: regorus::Rc<str> = self.rules[0].1.as_str().into();
        let compiled = self
            .engine
            .clone()
            .compile_with_entrypoint(&first)
            .map_err(|e| e.to_string())?;
        let entries: Vec<&str> = self.rules.iter().map(|(_, p)| p.as_str()).collect();
        let program =
            regorus::languages::rego::compiler::Compiler::compile_from_policy(&compiled, &entries)
                .map_err(|e| e.to_string())?;
        // The VM must answer exactly as the interpreter did on the probe input.
        let vm = (compiled, program);
        let mut w = Worker::vm(self, &vm).map_err(|e| e.to_string())?;
        let by_vm = w.evaluate_raw(Value::new_object());
        let by_interp = self.interpreter_worker().evaluate_raw(Value::new_object());
        if by_vm != by_interp {
            return Err("the VM and the interpreter disagree on an empty input".into());
        }
        Ok(vm)
    }

    pub fn backend(&self) -> Backend {
        if self.vm.is_some() {
            Backend::Vm
        } else {
            Backend::Interpreter
        }
    }

    pub fn rules(&self) -> impl Iterator<Item = &RuleMeta> {
        self.rules.iter().map(|(m, _)| m)
    }

    /// A worker for one thread.
    pub fn worker(&self) -> Worker<'_> {
        if let Some(vm) = &self.vm {
            if let Ok(w) = Worker::vm(self, vm) {
                return w;
            }
        }
        self.arm_memory_ceiling();
        self.interpreter_worker()
    }

    /// The wall-clock budget of one rule on one token; set it before any worker exists.
    pub fn set_rule_time_limit(&mut self, limit: std::time::Duration) {
        self.engine.set_execution_timer_config(timer(limit));
    }

    /// How far interpreted rule evaluation may grow the process heap, in bytes; set it
    /// before any worker exists.
    pub fn set_rule_memory_limit(&mut self, bytes: u64) {
        self.memory_limit = bytes;
    }

    /// The heap ceiling interpreted rules run under, once armed: the live bytes when the
    /// first interpreter worker was made, plus the memory limit.
    pub fn memory_ceiling(&self) -> Option<u64> {
        self.ceiling.get().copied()
    }

    /// A runaway rule is stopped when the heap would pass the ceiling, not when the machine
    /// runs out of memory (issue 12): regorus's interpreter checks the live-byte count of its
    /// allocator as it builds values, and going over is an error of that rule on that token.
    /// The ceiling is process-wide (regorus keeps one), armed once from the heap in use when
    /// evaluation starts, so it covers what every worker allocates together. The built-in
    /// pack on the VM is not put under it: the VM drops a rule body's errors, so a ceiling
    /// there could turn into a missing finding instead of an error (docs/architecture.md §5).
    fn arm_memory_ceiling(&self) {
        self.ceiling.get_or_init(|| {
            let live = regorus_mimalloc::global_allocation_stats_snapshot().allocated;
            let ceiling = live.saturating_add(self.memory_limit);
            regorus::set_global_memory_limit(Some(ceiling));
            ceiling
        });
    }

    fn interpreter_worker(&self) -> Worker<'_> {
        Worker {
            ev: self,
            state: WorkerState::Interpreter(Box::new(self.engine.clone())),
        }
    }

    /// Evaluate one input document (a worker made for the occasion).
    pub fn evaluate(&self, input: Value) -> Vec<(&RuleMeta, Result<Vec<RuleOutput>, EvalError>)> {
        self.worker().evaluate(input)
    }
}

impl<'a> Worker<'a> {
    fn vm(
        ev: &'a Evaluator,
        (compiled, program): &(regorus::CompiledPolicy, Arc<regorus::rvm::Program>),
    ) -> Result<Worker<'a>, String> {
        let mut vm = regorus::rvm::RegoVM::new_with_policy(compiled.clone());
        vm.load_program(program.clone());
        vm.set_data(ev.data.clone()).map_err(|e| e.to_string())?;
        Ok(Worker {
            ev,
            state: WorkerState::Vm(Box::new(vm)),
        })
    }

    /// Every rule's raw result (the probe at load time compares the two backends).
    fn evaluate_raw(&mut self, input: Value) -> Vec<Result<Value, String>> {
        self.set_input(input);
        (0..self.ev.rules.len()).map(|i| self.run(i)).collect()
    }

    fn set_input(&mut self, input: Value) {
        match &mut self.state {
            WorkerState::Vm(vm) => vm.set_input(input),
            WorkerState::Interpreter(engine) => engine.set_input(input),
        }
    }

    /// Rule `i` on the input set last.
    fn run(&mut self, i: usize) -> Result<Value, String> {
        match &mut self.state {
            WorkerState::Vm(vm) => vm
                .execute_entry_point_by_index(i)
                .map_err(|e| e.to_string()),
            WorkerState::Interpreter(engine) => match self.ev.rules.get(i) {
                Some((_, path)) => engine.eval_rule(path.clone()).map_err(|e| e.to_string()),
                None => Err(format!("no rule {i}")),
            },
        }
    }

    /// Evaluate every rule on one input document. Each rule's result stands alone: one
    /// failing rule does not hide the others.
    pub fn evaluate(
        &mut self,
        input: Value,
    ) -> Vec<(&'a RuleMeta, Result<Vec<RuleOutput>, EvalError>)> {
        let ev = self.ev;
        self.set_input(input);
        ev.rules
            .iter()
            .enumerate()
            .map(|(i, (meta, _))| {
                let result = self
                    .run(i)
                    .map_err(|message| EvalError {
                        rule_id: meta.id.clone(),
                        message,
                    })
                    .and_then(|v| outputs(&meta.id, v));
                (meta, result)
            })
            .collect()
    }
}

fn outputs(rule_id: &str, v: Value) -> Result<Vec<RuleOutput>, EvalError> {
    let bad = |message: String| EvalError {
        rule_id: rule_id.to_string(),
        message,
    };
    let items = match &v {
        Value::Undefined => return Ok(Vec::new()),
        Value::Set(s) => s.iter().collect::<Vec<_>>(),
        Value::Array(a) => a.iter().collect(),
        other => {
            return Err(bad(format!(
                "`deny` must be a set of findings, got {other}"
            )))
        }
    };
    let (msg, evidence, severity) = (
        Value::from("msg"),
        Value::from("evidence"),
        Value::from("severity"),
    );
    items
        .into_iter()
        .map(|item| {
            let Value::Object(obj) = item else {
                return Err(bad(format!(
                    "a finding must be an object {{\"msg\": …}}, got {item}"
                )));
            };
            let message = match obj.get(&msg) {
                Some(Value::String(s)) => s.to_string(),
                other => {
                    return Err(bad(format!(
                        "a finding needs a string `msg`, got {}",
                        shown(other)
                    )))
                }
            };
            let evidence = match obj.get(&evidence) {
                None | Some(Value::Null) => Evidence::empty(),
                Some(e @ Value::Object(_)) => Evidence::from_json(e)
                    .map_err(|err| bad(format!("`evidence` is not JSON: {err}")))?,
                Some(other) => {
                    return Err(bad(format!("`evidence` must be an object, got {other}")))
                }
            };
            let severity = match obj.get(&severity) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => {
                    Some(s.parse::<Severity>().map_err(|e| bad(e.to_string()))?)
                }
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

/// A member for an error message: `None` when absent, as `Option`'s `Debug` showed it.
fn shown(v: Option<&Value>) -> String {
    match v {
        None => "None".to_string(),
        Some(v) => format!("Some({v})"),
    }
}
