//! The portability lint (issue 13): a rule pack must mean under OPA what it means under
//! regorus, so that the rules' promise, "standard OPA built-ins, the same results under
//! OPA", holds for every pack, built-in or custom. Every file of a pack (rules, their tests,
//! and the shared library) is parsed when the pack is loaded and checked for
//!
//! - a rule or function whose name is an OPA built-in: OPA then calls the rule instead of
//!   the built-in in that package, including the built-ins behind the operators (a rule
//!   `minus` changes what `a - b` means); or whose name is the first part of a built-in's
//!   name (a rule `time` hides `time.now_ns` from that package);
//! - a call to a built-in OPA does not have: an extension only regorus has, a built-in OPA
//!   rejects in Rego v1 as deprecated, or a name neither has.
//!
//! Each problem names its file and line and comes with a hint; loading fails with all of
//! them (exit 2). OPA's catalogue is in [`super::opa_builtins`], taken from the OPA that
//! `scripts/opa-parity.sh` runs. The files are parsed with regorus's parser, the same one
//! that compiles them; a file it cannot parse is left to the compiler to report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use regorus::unstable::{Expr, Literal, Module, Parser, Query, Ref, Rule, RuleHead, Source};
use regorus::Value;

use super::opa_builtins::{OPA_BUILTINS, OPA_DEPRECATED, OPA_VERSION};
use super::RegoFile;

/// One portability problem.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub file: String,
    pub line: u32,
    pub message: String,
    pub hint: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}\n  hint: {}",
            self.file, self.line, self.message, self.hint
        )
    }
}

/// Every problem, one after the other.
pub fn render(problems: &[Problem]) -> String {
    let shown: Vec<String> = problems.iter().map(Problem::to_string).collect();
    shown.join("\n")
}

/// The operator each operator built-in stands for.
fn operator(name: &str) -> Option<&'static str> {
    Some(match name {
        "minus" => "-",
        "plus" => "+",
        "mul" => "*",
        "div" => "/",
        "rem" => "%",
        "eq" => "=",
        "assign" => ":=",
        "equal" => "==",
        "neq" => "!=",
        "lt" => "<",
        "gt" => ">",
        "lte" => "<=",
        "gte" => ">=",
        "and" => "&",
        "or" => "|",
        "internal.member_2" | "internal.member_3" => "in",
        _ => return None,
    })
}

/// What to write instead of a deprecated built-in (OPA's policy reference).
fn replacement(name: &str) -> &'static str {
    match name {
        "any" => "`some x in xs; x` (or `true in xs`)",
        "all" => "`every x in xs { x }`",
        "re_match" => "`regex.match`",
        "set_diff" => "the `-` operator on sets",
        "net.cidr_overlap" => "`net.cidr_contains`",
        _ => "`is_*` checks and explicit conversions",
    }
}

/// OPA built-ins whose answer does not follow from the input (issue 12): the wall clock,
/// randomness, the runtime's environment, the network. A rule that used them could differ
/// from run to run, or leak data; they are load-time errors in every pack.
fn nondeterministic(name: &str) -> Option<&'static str> {
    Some(match name {
        "time.now_ns" => "reads the wall clock",
        "opa.runtime" => "reads the runtime's environment",
        "rand.intn" => "is random",
        "uuid.rfc4122" => "is random",
        "http.send" | "net.lookup_ip_addr" => "reaches the network",
        "io.jwt.decode_verify"
        | "crypto.x509.parse_and_verify_certificates"
        | "crypto.x509.parse_and_verify_certificates_with_options" => {
            "checks validity against the wall clock"
        }
        _ => return None,
    })
}

fn is_opa_builtin(name: &str) -> bool {
    OPA_BUILTINS.binary_search(&name).is_ok()
}

/// First parts of dotted built-in names: `time`, `object`, `strings`, …
fn namespaces() -> BTreeSet<&'static str> {
    OPA_BUILTINS
        .iter()
        .filter_map(|n| n.split_once('.').map(|(first, _)| first))
        .collect()
}

/// A parsed file and what it defines.
struct Parsed<'a> {
    file: &'a RegoFile,
    module: Module,
    package: String,
}

/// Check every file; problems sorted by file and line.
pub fn check(files: &[&RegoFile]) -> Vec<Problem> {
    let parsed: Vec<Parsed<'_>> = files.iter().filter_map(|f| parse(f)).collect();
    // Rule names per package, across files (a package may span several).
    let mut defined: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for p in &parsed {
        let names = defined.entry(p.package.as_str()).or_default();
        for rule in &p.module.policy {
            if let Some((name, _)) = rule_name(rule) {
                names.insert(name);
            }
        }
    }
    let namespaces = namespaces();
    let mut problems = Vec::new();
    for p in &parsed {
        let empty = BTreeSet::new();
        let local = defined.get(p.package.as_str()).unwrap_or(&empty);
        let mut ctx = FileCheck {
            file: p.file,
            package: &p.package,
            local,
            aliases: import_aliases(&p.module),
            problems: &mut problems,
        };
        for rule in &p.module.policy {
            ctx.shadowing(rule, &namespaces);
            visit_rule(rule, &mut |e| ctx.call(e));
        }
    }
    recursion(&parsed, &defined, &mut problems);
    problems.sort();
    problems.dedup();
    problems
}

/// One function or rule of a package: where its head is, and the local names it calls.
type CallNode = (String, u32, BTreeSet<String>);

/// Functions and rules of a package that call themselves, directly or through each other.
/// OPA rejects recursion at compile time (`rego_recursion_error`); regorus would recurse
/// until the stack overflows and the scanner aborts (issue 12). Each cycle is reported once,
/// at the head of its first member.
fn recursion(
    parsed: &[Parsed<'_>],
    defined: &BTreeMap<&str, BTreeSet<String>>,
    problems: &mut Vec<Problem>,
) {
    let mut graph: BTreeMap<&str, BTreeMap<String, CallNode>> = BTreeMap::new();
    let empty = BTreeSet::new();
    for p in parsed {
        let local = defined.get(p.package.as_str()).unwrap_or(&empty);
        let nodes = graph.entry(p.package.as_str()).or_default();
        for rule in &p.module.policy {
            let Some((name, line)) = rule_name(rule) else {
                continue;
            };
            let node = nodes
                .entry(name)
                .or_insert_with(|| (p.file.path.clone(), line, BTreeSet::new()));
            visit_rule(rule, &mut |e| {
                if let Expr::Call { fcn, .. } = e {
                    if let Some(first) = path_of(fcn).and_then(|p| p.into_iter().next()) {
                        if local.contains(&first) {
                            node.2.insert(first);
                        }
                    }
                }
            });
        }
    }
    for nodes in graph.values() {
        let mut reported: BTreeSet<String> = BTreeSet::new();
        for start in nodes.keys() {
            if reported.contains(start) {
                continue;
            }
            // Depth-first search for a path from `start` back to itself.
            let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
            let mut seen: BTreeSet<String> = BTreeSet::new();
            let mut cycle = None;
            while let Some((at, path)) = stack.pop() {
                let Some((_, _, calls)) = nodes.get(&at) else {
                    continue;
                };
                for next in calls {
                    if next == start {
                        cycle = Some(path.clone());
                        break;
                    }
                    if seen.insert(next.clone()) {
                        let mut longer = path.clone();
                        longer.push(next.clone());
                        stack.push((next.clone(), longer));
                    }
                }
                if cycle.is_some() {
                    break;
                }
            }
            let Some(cycle) = cycle else {
                continue;
            };
            let Some((file, line, _)) = nodes.get(start) else {
                continue;
            };
            let mut shown = cycle.clone();
            shown.push(start.clone());
            problems.push(Problem {
                file: file.clone(),
                line: *line,
                message: format!(
                    "`{start}` is recursive ({}): OPA rejects recursion, and it would never end",
                    shown.join(" → ")
                ),
                hint: "Rego rules and functions may not call themselves, directly or through each other; iterate over data instead (comprehensions, `walk`)".to_string(),
            });
            reported.extend(cycle);
        }
    }
}

fn parse(file: &RegoFile) -> Option<Parsed<'_>> {
    let source = Source::from_contents(file.path.clone(), file.text.clone()).ok()?;
    let mut parser = Parser::new(&source).ok()?;
    parser.enable_rego_v1().ok()?;
    let module = parser.parse().ok()?;
    let package = path_of(&module.package.refr)?.join(".");
    Some(Parsed {
        file,
        module,
        package,
    })
}

/// The static path of a reference: `a.b["c"]` is `[a, b, c]`.
fn path_of(e: &Expr) -> Option<Vec<String>> {
    match e {
        Expr::Var { value, .. } => Some(vec![string(value)?]),
        Expr::RefDot {
            refr,
            field: (_, v),
            ..
        } => {
            let mut p = path_of(refr)?;
            p.push(string(v)?);
            Some(p)
        }
        Expr::RefBrack { refr, index, .. } => {
            let mut p = path_of(refr)?;
            match index.as_ref() {
                Expr::String { value, .. } | Expr::RawString { value, .. } => {
                    p.push(string(value)?)
                }
                _ => return Some(p),
            }
            Some(p)
        }
        _ => None,
    }
}

fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_string()),
        _ => None,
    }
}

/// The reference a rule's head defines (`deny`, `fmt_days`, `a.b.c`).
fn head_ref(rule: &Rule) -> &Ref<Expr> {
    match rule {
        Rule::Spec { head, .. } => match head {
            RuleHead::Compr { refr, .. }
            | RuleHead::Set { refr, .. }
            | RuleHead::Func { refr, .. } => refr,
        },
        Rule::Default { refr, .. } => refr,
    }
}

/// A rule's name as OPA resolves it inside the package (the first part of a ref head),
/// with the line of its head.
fn rule_name(rule: &Rule) -> Option<(String, u32)> {
    let refr = head_ref(rule);
    let line = refr.span().line;
    path_of(refr).and_then(|p| p.into_iter().next().map(|n| (n, line)))
}

/// The full dotted name of a rule head (`object.get` for `object.get(x) := …`).
fn head_path(rule: &Rule) -> Option<String> {
    path_of(head_ref(rule)).map(|p| p.join("."))
}

/// Names a call can start with that refer to other packages: imports' aliases.
fn import_aliases(module: &Module) -> BTreeSet<String> {
    module
        .imports
        .iter()
        .filter_map(|i| match &i.r#as {
            Some(span) => Some(span.text().to_string()),
            None => path_of(&i.refr).and_then(|p| p.last().cloned()),
        })
        .collect()
}

struct FileCheck<'a, 'p> {
    file: &'a RegoFile,
    package: &'a str,
    local: &'a BTreeSet<String>,
    aliases: BTreeSet<String>,
    problems: &'p mut Vec<Problem>,
}

impl FileCheck<'_, '_> {
    fn problem(&mut self, line: u32, message: String, hint: String) {
        self.problems.push(Problem {
            file: self.file.path.clone(),
            line,
            message,
            hint,
        });
    }

    fn shadowing(&mut self, rule: &Rule, namespaces: &BTreeSet<&str>) {
        let Some((name, line)) = rule_name(rule) else {
            return;
        };
        let full = head_path(rule).unwrap_or_else(|| name.clone());
        let kind = match rule {
            Rule::Spec {
                head: RuleHead::Func { .. },
                ..
            } => "function",
            _ => "rule",
        };
        let package = self.package;
        let builtin = [full.as_str(), name.as_str()]
            .into_iter()
            .find(|n| is_opa_builtin(n));
        if let Some(builtin) = builtin {
            let (what, uses) = match operator(builtin) {
                Some(op) => (
                    format!("`{builtin}`, OPA's built-in behind the `{op}` operator"),
                    format!("every `{op}`"),
                ),
                None => (
                    format!("OPA's built-in `{builtin}`"),
                    format!("every call to `{builtin}`"),
                ),
            };
            self.problem(
                line,
                format!("{kind} `{full}` shadows {what}"),
                format!("under OPA {uses} in package {package} calls this {kind} instead of the built-in; rename it"),
            );
        } else if namespaces.contains(name.as_str()) {
            self.problem(
                line,
                format!("{kind} `{full}` shadows OPA's built-ins `{name}.*`"),
                format!("under OPA a call to a `{name}.…` built-in in package {package} resolves to this {kind} instead; rename it"),
            );
        }
    }

    fn call(&mut self, e: &Expr) {
        let Expr::Call { fcn, span, .. } = e else {
            return;
        };
        let Some(path) = path_of(fcn) else {
            return;
        };
        let first = path[0].as_str();
        // A function of this package, of another one through `data.…`, or of an import.
        if first == "data" || self.local.contains(first) || self.aliases.contains(first) {
            return;
        }
        let name = path.join(".");
        let line = span.line;
        if let Some(why) = nondeterministic(&name) {
            self.problem(
                line,
                format!("`{name}` {why}: a rule's result must depend on its input and data only"),
                "rules run offline and reproducibly: the clock is `input.now` (and the facts computed from it, e.g. `input.facts.days_until_expiry`)".to_string(),
            );
            return;
        }
        if is_opa_builtin(&name) {
            return;
        }
        if OPA_DEPRECATED.binary_search(&name.as_str()).is_ok() {
            self.problem(
                line,
                format!("`{name}` is deprecated: OPA rejects it in Rego v1"),
                format!("use {} instead", replacement(&name)),
            );
        } else if regorus::unstable::BUILTINS.contains_key(name.as_str()) {
            self.problem(
                line,
                format!("`{name}` is a regorus extension that OPA {OPA_VERSION} does not have"),
                "rules must use only OPA's standard built-ins (https://www.openpolicyagent.org/docs/policy-reference/builtins); write it in Rego instead".to_string(),
            );
        } else {
            self.problem(
                line,
                format!("`{name}` is not an OPA {OPA_VERSION} built-in, nor a function of this pack"),
                "check the spelling against OPA's built-ins (https://www.openpolicyagent.org/docs/policy-reference/builtins), or define the function in the pack".to_string(),
            );
        }
    }
}

// --- walking the syntax tree ---------------------------------------------------------

fn visit_rule(rule: &Rule, f: &mut impl FnMut(&Expr)) {
    match rule {
        Rule::Spec { head, bodies, .. } => {
            let (refr, args, key, assign): (_, &[Ref<Expr>], _, _) = match head {
                RuleHead::Compr { refr, assign, .. } => (refr, &[], None, assign.as_ref()),
                RuleHead::Set { refr, key, .. } => (refr, &[], key.as_ref(), None),
                RuleHead::Func {
                    refr, args, assign, ..
                } => (refr, args, None, assign.as_ref()),
            };
            let values = assign
                .into_iter()
                .chain(bodies.iter().filter_map(|b| b.assign.as_ref()));
            visit_all(
                [refr]
                    .into_iter()
                    .chain(args)
                    .chain(key)
                    .chain(values.map(|a| &a.value)),
                f,
            );
            for body in bodies {
                visit_query(&body.query, f);
            }
        }
        Rule::Default {
            refr, args, value, ..
        } => visit_all([refr].into_iter().chain(args).chain([value]), f),
    }
}

fn visit_query(q: &Query, f: &mut impl FnMut(&Expr)) {
    for stmt in &q.stmts {
        match &stmt.literal {
            Literal::SomeVars { .. } => {}
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => visit_all(key.iter().chain([value, collection]), f),
            Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => visit_expr(expr, f),
            Literal::Every { domain, query, .. } => {
                visit_expr(domain, f);
                visit_query(query, f);
            }
        }
        for w in &stmt.with_mods {
            visit_expr(&w.refr, f);
            visit_expr(&w.r#as, f);
        }
    }
}

fn visit_expr(e: &Expr, f: &mut impl FnMut(&Expr)) {
    f(e);
    match e {
        Expr::String { .. }
        | Expr::RawString { .. }
        | Expr::Number { .. }
        | Expr::Bool { .. }
        | Expr::Null { .. }
        | Expr::Var { .. } => {}
        Expr::Array { items, .. } | Expr::Set { items, .. } => visit_all(items, f),
        Expr::Object { fields, .. } => {
            for (_, k, v) in fields {
                visit_expr(k, f);
                visit_expr(v, f);
            }
        }
        Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
            visit_expr(term, f);
            visit_query(query, f);
        }
        Expr::ObjectCompr {
            key, value, query, ..
        } => {
            visit_expr(key, f);
            visit_expr(value, f);
            visit_query(query, f);
        }
        Expr::Call { fcn, params, .. } => visit_all([fcn].into_iter().chain(params), f),
        Expr::UnaryExpr { expr, .. } => visit_expr(expr, f),
        Expr::RefDot { refr, .. } => visit_expr(refr, f),
        Expr::RefBrack { refr, index, .. } => {
            visit_expr(refr, f);
            visit_expr(index, f);
        }
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => {
            visit_expr(lhs, f);
            visit_expr(rhs, f);
        }
        Expr::Membership {
            key,
            value,
            collection,
            ..
        } => visit_all(key.iter().chain([value, collection]), f),
    }
}

fn visit_all<'a>(exprs: impl IntoIterator<Item = &'a Ref<Expr>>, f: &mut impl FnMut(&Expr)) {
    for e in exprs {
        visit_expr(e, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_sorted_for_binary_search() {
        assert!(OPA_BUILTINS.windows(2).all(|w| w[0] < w[1]));
        assert!(OPA_DEPRECATED.windows(2).all(|w| w[0] < w[1]));
        assert!(is_opa_builtin("minus") && is_opa_builtin("object.get"));
        // The regorus-only extension the integration tests call.
        assert!(regorus::unstable::BUILTINS.contains_key("__builtin_sets.union"));
        assert!(!is_opa_builtin("__builtin_sets.union"));
    }

    #[test]
    fn the_builtin_pack_and_the_library_are_portable() {
        let set = crate::engine::RuleSet::builtin().unwrap();
        let files: Vec<&RegoFile> = set
            .rules
            .iter()
            .map(|(_, f)| f)
            .chain(&set.tests)
            .chain(&set.library)
            .collect();
        assert_eq!(files.len(), 32);
        assert_eq!(check(&files), Vec::new());
    }
}
