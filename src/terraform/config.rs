//! Reading `.tf` directories without Terraform (docs/terraform.md): every `.tf` file parsed
//! with hcl-edit (a file that does not parse is an error naming the file and line), modules
//! called with a local `source` evaluated with their inputs under `module.NAME.`, other
//! directories read as roots with `terraform.tfvars` and `*.auto.tfvars`, and every
//! `cloudflare_api_token` / `cloudflare_account_token` block evaluated into a [`Block`]:
//! its address, its values, and the line of each attribute.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::structure::{Attribute, Body, Structure};
use hcl_edit::template::Element;
use hcl_edit::Span;

use super::value::{url_decode, Value};
use super::TerraformError;

/// The two token resources (provider v4 has the first only).
pub const TOKEN_TYPES: [&str; 2] = ["cloudflare_api_token", "cloudflare_account_token"];

const GROUPS_V4: &str = "cloudflare_api_token_permission_groups";
const GROUPS_V5: [&str; 2] = [
    "cloudflare_api_token_permission_groups_list",
    "cloudflare_account_api_token_permission_groups_list",
];

/// How deep locals may refer to locals, and modules call modules.
const MAX_DEPTH: usize = 32;

/// One source file: its text, the path reports show, and where its lines start.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// Repository-relative (to the current directory, else the enclosing git repository).
    pub display: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: PathBuf, display: String, text: String) -> SourceFile {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            path,
            display,
            text,
            line_starts,
        }
    }

    /// The 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    fn line_of_span(&self, s: &impl Span) -> usize {
        s.span().map_or(1, |r| self.line_of(r.start))
    }

    fn slice(&self, s: &impl Span) -> String {
        s.span()
            .and_then(|r| self.text.get(r))
            .map_or_else(|| "(expression)".to_string(), |t| t.trim().to_string())
    }
}

/// A token resource block, evaluated once per instance.
#[derive(Debug, Clone)]
pub struct Block {
    /// `module.a.cloudflare_api_token.x["k"]`.
    pub address: String,
    /// The address without the instance key: what inline suppressions are attached to.
    pub block_address: String,
    pub resource_type: String,
    pub file: usize,
    pub line: usize,
    /// The last line of the block (inline suppressions inside it apply to it).
    pub end_line: usize,
    /// Attribute path (`expires_on`, `policies[0].resources`, …) → line.
    pub lines: BTreeMap<String, usize>,
    /// Top-level attributes and blocks as values: v4 `policy` blocks as a list under
    /// `policy`, `condition { request_ip { … } }` as nested objects.
    pub values: BTreeMap<String, Value>,
    /// Why the instance stands for several (an unknown `for_each`/`count`).
    pub notes: Vec<String>,
    /// Whether the configuration uses v4 `policy {}` blocks.
    pub v4: bool,
}

/// Everything read from the `.tf` directories.
#[derive(Debug, Default)]
pub struct Config {
    pub files: Vec<SourceFile>,
    pub blocks: Vec<Block>,
}

/// Read every directory under `roots` (recursively, skipping hidden directories such as
/// `.terraform`) and evaluate every token block.
pub fn read(
    roots: &[PathBuf],
    display: &dyn Fn(&Path) -> String,
) -> Result<Config, TerraformError> {
    let mut dirs: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    let mut files = Vec::new();
    let mut bodies: Vec<Body> = Vec::new();
    for root in roots {
        let mut found = Vec::new();
        walk(root, &mut found)?;
        found.sort();
        for path in found {
            let text = std::fs::read_to_string(&path).map_err(|source| TerraformError::Read {
                path: path.clone(),
                source,
            })?;
            let file = SourceFile::new(path.clone(), display(&path), text);
            let body =
                hcl_edit::parser::parse_body(&file.text).map_err(|e| TerraformError::Parse {
                    file: file.display.clone(),
                    line: e.location().line(),
                    column: e.location().column(),
                    message: e.message().to_string(),
                })?;
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            if dirs
                .values()
                .flatten()
                .any(|&i| files_path(&files, i) == path)
            {
                continue;
            }
            dirs.entry(normalize(&dir)).or_default().push(files.len());
            files.push(file);
            bodies.push(body);
        }
    }
    // Directories another directory calls with a local `source` are modules: they are
    // evaluated through the call, with its inputs, not on their own.
    let mut called = BTreeSet::new();
    for (dir, ids) in &dirs {
        for &i in ids {
            for b in bodies[i].blocks().filter(|b| b.ident.as_str() == "module") {
                if let Some(source) = local_source(b.body.get_attribute("source")) {
                    called.insert(normalize(&dir.join(source)));
                }
            }
        }
    }
    let mut blocks = Vec::new();
    let ctx = Loader {
        files: &files,
        bodies: &bodies,
        dirs: &dirs,
    };
    for dir in dirs.keys().filter(|d| !called.contains(*d)) {
        let vars = tfvars(dir, display)?;
        ctx.module(dir, "", vars, &mut blocks, 0)?;
    }
    Ok(Config { files, blocks })
}

fn files_path(files: &[SourceFile], i: usize) -> &Path {
    &files[i].path
}

fn walk(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), TerraformError> {
    let meta = std::fs::metadata(path).map_err(|source| TerraformError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let entries = std::fs::read_dir(path).map_err(|source| TerraformError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| TerraformError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            walk(&p, out)?;
        } else if name.ends_with(".tf") {
            out.push(p);
        }
    }
    Ok(())
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn local_source(attr: Option<&Attribute>) -> Option<String> {
    match &attr?.value {
        Expression::String(s) if s.starts_with("./") || s.starts_with("../") => {
            Some(s.value().clone())
        }
        _ => None,
    }
}

/// `terraform.tfvars`, then `*.auto.tfvars` in name order (later wins), as Terraform
/// loads them for a root module; `.json` variants too.
fn tfvars(
    dir: &Path,
    display: &dyn Fn(&Path) -> String,
) -> Result<BTreeMap<String, Value>, TerraformError> {
    let mut vars = BTreeMap::new();
    let mut auto: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        n.ends_with(".auto.tfvars") || n.ends_with(".auto.tfvars.json")
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    auto.sort();
    let mut order = vec![
        dir.join("terraform.tfvars"),
        dir.join("terraform.tfvars.json"),
    ];
    order.extend(auto);
    for path in order.into_iter().filter(|p| p.is_file()) {
        let text = std::fs::read_to_string(&path).map_err(|source| TerraformError::Read {
            path: path.clone(),
            source,
        })?;
        if path.extension().is_some_and(|e| e == "json") {
            let json: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| TerraformError::Parse {
                    file: display(&path),
                    line: e.line(),
                    column: e.column(),
                    message: e.to_string(),
                })?;
            if let serde_json::Value::Object(o) = json {
                for (k, v) in o {
                    vars.insert(k, Value::from_json(&v));
                }
            }
            continue;
        }
        let file = SourceFile::new(path.clone(), display(&path), text);
        let body = hcl_edit::parser::parse_body(&file.text).map_err(|e| TerraformError::Parse {
            file: file.display.clone(),
            line: e.location().line(),
            column: e.location().column(),
            message: e.message().to_string(),
        })?;
        let empty = Module::default();
        let ev = Eval {
            m: &empty,
            file: &file,
            each: None,
            count: None,
            depth: 0,
            iter: None,
        };
        for attr in body.attributes() {
            vars.insert(attr.key.as_str().to_string(), ev.eval(&attr.value));
        }
    }
    Ok(vars)
}

struct Loader<'a> {
    files: &'a [SourceFile],
    bodies: &'a [Body],
    dirs: &'a BTreeMap<PathBuf, Vec<usize>>,
}

/// One module instance's names.
#[derive(Default)]
struct Module<'a> {
    files: Vec<&'a SourceFile>,
    vars: BTreeMap<String, Value>,
    locals: BTreeMap<String, (usize, &'a Expression)>,
    data: BTreeMap<(String, String), (usize, &'a Body)>,
}

impl<'a> Loader<'a> {
    fn module(
        &self,
        dir: &Path,
        prefix: &str,
        inputs: BTreeMap<String, Value>,
        out: &mut Vec<Block>,
        depth: usize,
    ) -> Result<(), TerraformError> {
        let Some(ids) = self.dirs.get(dir) else {
            return Ok(());
        };
        let mut m = Module::default();
        for (k, &i) in ids.iter().enumerate() {
            m.files.push(&self.files[i]);
            for s in self.bodies[i].iter() {
                let Structure::Block(b) = s else { continue };
                let labels: Vec<&str> = b.labels.iter().map(|l| l.as_str()).collect();
                match (b.ident.as_str(), labels.as_slice()) {
                    ("variable", [name]) => {
                        let value = match inputs.get(*name) {
                            Some(v) => v.clone(),
                            None => match b.body.get_attribute("default") {
                                Some(d) => Eval {
                                    m: &Module::default(),
                                    file: &self.files[i],
                                    each: None,
                                    count: None,
                                    depth: 0,
                                    iter: None,
                                }
                                .eval(&d.value),
                                None => Value::Unknown(format!("var.{name}")),
                            },
                        };
                        m.vars.insert((*name).to_string(), value);
                    }
                    ("locals", []) => {
                        for a in b.body.attributes() {
                            m.locals.insert(a.key.as_str().to_string(), (k, &a.value));
                        }
                    }
                    ("data", [ty, name]) => {
                        m.data
                            .insert(((*ty).to_string(), (*name).to_string()), (k, &b.body));
                    }
                    _ => {}
                }
            }
        }
        // Inputs a module call gives without a `variable` block are ignored, as Terraform
        // would refuse them; variables without a value are unknown.
        for &i in ids {
            let file = &self.files[i];
            for s in self.bodies[i].iter() {
                let Structure::Block(b) = s else { continue };
                let labels: Vec<&str> = b.labels.iter().map(|l| l.as_str()).collect();
                match (b.ident.as_str(), labels.as_slice()) {
                    ("resource", [ty, name]) if TOKEN_TYPES.contains(ty) => {
                        let base = format!("{prefix}{ty}.{name}");
                        let ev = Eval {
                            m: &m,
                            file,
                            each: None,
                            count: None,
                            depth: 0,
                            iter: None,
                        };
                        for (key, each, count, notes) in instances(&ev, &b.body) {
                            let ev = Eval {
                                m: &m,
                                file,
                                each: each.clone(),
                                count,
                                depth: 0,
                                iter: None,
                            };
                            let address = match &key {
                                Some(k) => format!("{base}[{k}]"),
                                None => base.clone(),
                            };
                            let mut block = token_block(&ev, &b.body);
                            block.address = address;
                            block.block_address = base.clone();
                            block.resource_type = (*ty).to_string();
                            block.line = file.line_of_span(b);
                            block.end_line = b
                                .span()
                                .map_or(block.line, |r| file.line_of(r.end.saturating_sub(1)));
                            block.notes = notes;
                            block.file = i;
                            out.push(block);
                        }
                    }
                    ("module", [name]) => {
                        let Some(source) = local_source(b.body.get_attribute("source")) else {
                            continue;
                        };
                        if depth >= MAX_DEPTH {
                            return Err(TerraformError::Config {
                                file: file.display.clone(),
                                line: file.line_of_span(b),
                                message: format!("module {name}: modules nest more than {MAX_DEPTH} deep (a cycle?)"),
                            });
                        }
                        let ev = Eval {
                            m: &m,
                            file,
                            each: None,
                            count: None,
                            depth: 0,
                            iter: None,
                        };
                        let inputs = b
                            .body
                            .attributes()
                            .filter(|a| {
                                !matches!(
                                    a.key.as_str(),
                                    "source"
                                        | "version"
                                        | "providers"
                                        | "for_each"
                                        | "count"
                                        | "depends_on"
                                )
                            })
                            .map(|a| (a.key.as_str().to_string(), ev.eval(&a.value)))
                            .collect();
                        let child = normalize(&dir.join(&source));
                        self.module(
                            &child,
                            &format!("{prefix}module.{name}."),
                            inputs,
                            out,
                            depth + 1,
                        )?;
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

type Instance = (
    Option<String>,
    Option<(Value, Value)>,
    Option<i64>,
    Vec<String>,
);

/// The instances of a resource block: one per key of a known `for_each` or index of a
/// known `count`; one standing for all when the collection is unknown (issue 14, part 3).
fn instances(ev: &Eval<'_>, body: &Body) -> Vec<Instance> {
    if let Some(fe) = body.get_attribute("for_each") {
        let text = ev.file.slice(&fe.value);
        return match ev.eval(&fe.value) {
            Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| {
                    let key = serde_json::to_string(&k).unwrap_or_default();
                    (Some(key), Some((Value::str(k), v)), None, Vec::new())
                })
                .collect(),
            Value::List(items) if items.iter().all(|i| i.as_str().is_some()) => items
                .into_iter()
                .map(|v| {
                    let k = v.as_str().unwrap_or_default().to_string();
                    let key = serde_json::to_string(&k).unwrap_or_default();
                    (Some(key), Some((Value::str(k), v)), None, Vec::new())
                })
                .collect(),
            _ => vec![(
                None,
                Some((
                    Value::Unknown("each.key".into()),
                    Value::Unknown("each.value".into()),
                )),
                None,
                vec![format!(
                    "for_each = {text} is not known: evaluated once for every instance"
                )],
            )],
        };
    }
    if let Some(c) = body.get_attribute("count") {
        let text = ev.file.slice(&c.value);
        return match ev.eval(&c.value) {
            Value::Number(n) if n.as_u64().is_some() => (0..n.as_u64().unwrap_or(0).min(1000))
                .map(|i| (Some(i.to_string()), None, i64::try_from(i).ok(), Vec::new()))
                .collect(),
            _ => vec![(
                None,
                None,
                None,
                vec![format!(
                    "count = {text} is not known: evaluated once for every instance"
                )],
            )],
        };
    }
    vec![(None, None, None, Vec::new())]
}

/// Evaluate a token block: its attributes, v4 `policy` blocks and `condition` blocks.
fn token_block(ev: &Eval<'_>, body: &Body) -> Block {
    let file = ev.file;
    let mut values = BTreeMap::new();
    let mut lines = BTreeMap::new();
    let mut v4 = false;
    let mut policies = Vec::new();
    let mut unknown_policies: Option<String> = None;
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                let key = a.key.as_str();
                if matches!(
                    key,
                    "for_each" | "count" | "depends_on" | "lifecycle" | "provider"
                ) {
                    continue;
                }
                lines.insert(key.to_string(), file.line_of_span(a));
                if key == "policies" {
                    if let Expression::Array(items) = &a.value {
                        for (i, item) in items.iter().enumerate() {
                            let at = format!("policies[{i}]");
                            lines.insert(at.clone(), file.line_of_span(item));
                            if let Expression::Object(o) = item {
                                for (k, v) in o.iter() {
                                    if let Some(name) = object_key_name(k) {
                                        lines.insert(
                                            format!("{at}.{name}"),
                                            file.line_of_span(k).min(file.line_of_span(v.expr())),
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
                values.insert(key.to_string(), ev.eval(&a.value));
            }
            Structure::Block(b) => match b.ident.as_str() {
                "policy" => {
                    v4 = true;
                    let i = policies.len();
                    let at = format!("policies[{i}]");
                    lines.insert(at.clone(), file.line_of_span(b));
                    for a in b.body.attributes() {
                        lines.insert(format!("{at}.{}", a.key.as_str()), file.line_of_span(a));
                    }
                    policies.push(block_value(ev, &b.body));
                }
                "condition" => {
                    lines.insert("condition".into(), file.line_of_span(b));
                    values.insert("condition".into(), block_value(ev, &b.body));
                }
                // `dynamic "policy" { for_each = …; content { … } }`: one block per element
                // of a known collection; over an unknown one, what the token grants is
                // unknown (and the token is not evaluated).
                "dynamic" => {
                    let Some(label) = b.labels.first().map(|l| l.as_str().to_string()) else {
                        continue;
                    };
                    if label != "policy" && label != "condition" {
                        continue;
                    }
                    let line = file.line_of_span(b);
                    let iterator = match b.body.get_attribute("iterator").map(|a| &a.value) {
                        Some(Expression::Variable(v)) => v.as_str().to_string(),
                        _ => label.clone(),
                    };
                    let content = b.body.get_blocks("content").next();
                    let elements = b.body.get_attribute("for_each").map(|a| ev.eval(&a.value));
                    let items: Option<Vec<(Value, Value)>> = match elements {
                        Some(Value::Object(map)) => {
                            Some(map.into_iter().map(|(k, v)| (Value::str(k), v)).collect())
                        }
                        Some(Value::List(list)) => Some(
                            list.into_iter()
                                .enumerate()
                                .map(|(i, v)| (Value::Number(i.into()), v))
                                .collect(),
                        ),
                        _ => None,
                    };
                    let (Some(items), Some(content)) = (items, content) else {
                        let what =
                            format!("dynamic \"{label}\" over a collection not known before apply");
                        if label == "policy" {
                            v4 = true;
                            lines.entry("policies".into()).or_insert(line);
                            unknown_policies = Some(what);
                        } else {
                            lines.insert("condition".into(), line);
                            values.insert("condition".into(), Value::Unknown(what));
                        }
                        continue;
                    };
                    for (k, v) in items {
                        let inner = Eval {
                            m: ev.m,
                            file: ev.file,
                            each: ev.each.clone(),
                            count: ev.count,
                            depth: ev.depth,
                            iter: Some((iterator.clone(), k, v)),
                        };
                        let value = block_value(&inner, &content.body);
                        if label == "policy" {
                            v4 = true;
                            let at = format!("policies[{}]", policies.len());
                            lines.insert(at.clone(), line);
                            for a in content.body.attributes() {
                                lines.insert(
                                    format!("{at}.{}", a.key.as_str()),
                                    file.line_of_span(a),
                                );
                            }
                            policies.push(value);
                        } else {
                            lines.insert("condition".into(), line);
                            values.insert("condition".into(), value);
                        }
                    }
                }
                _ => {}
            },
        }
    }
    if let Some(what) = unknown_policies {
        values.insert("policies".into(), Value::Unknown(what));
    } else if v4 {
        values.insert("policies".into(), Value::List(policies));
        if let Some(&l) = lines.get("policies[0]") {
            lines.entry("policies".into()).or_insert(l);
        }
    }
    Block {
        address: String::new(),
        block_address: String::new(),
        resource_type: String::new(),
        file: 0,
        line: 0,
        end_line: 0,
        lines,
        values,
        notes: Vec::new(),
        v4,
    }
}

/// A nested block as an object (its sub-blocks as objects too, the last one winning: the
/// token blocks' sub-blocks — `request_ip` — occur at most once).
fn block_value(ev: &Eval<'_>, body: &Body) -> Value {
    let mut map = BTreeMap::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                map.insert(a.key.as_str().to_string(), ev.eval(&a.value));
            }
            Structure::Block(b) => {
                map.insert(b.ident.as_str().to_string(), block_value(ev, &b.body));
            }
        }
    }
    Value::Object(map)
}

fn object_key_name(k: &ObjectKey) -> Option<String> {
    match k {
        ObjectKey::Ident(i) => Some(i.as_str().to_string()),
        ObjectKey::Expression(Expression::String(s)) => Some(s.value().clone()),
        ObjectKey::Expression(Expression::Variable(v)) => Some(v.as_str().to_string()),
        _ => None,
    }
}

/// Evaluates expressions of one module instance, in one file, for one resource instance.
struct Eval<'a> {
    m: &'a Module<'a>,
    file: &'a SourceFile,
    each: Option<(Value, Value)>,
    count: Option<i64>,
    depth: usize,
    /// A `dynamic` block's iterator: its name, key and value.
    iter: Option<(String, Value, Value)>,
}

impl Eval<'_> {
    fn unknown(&self, e: &impl Span) -> Value {
        Value::Unknown(self.file.slice(e))
    }

    fn eval(&self, e: &Expression) -> Value {
        match e {
            Expression::Null(_) => Value::Null,
            Expression::Bool(b) => Value::Bool(*b.value()),
            Expression::Number(n) => n
                .value()
                .as_f64()
                .and_then(|f| {
                    n.value()
                        .as_i64()
                        .map(serde_json::Number::from)
                        .or_else(|| serde_json::Number::from_f64(f))
                })
                .map_or_else(|| self.unknown(e), Value::Number),
            Expression::String(s) => Value::str(s.value().clone()),
            Expression::Array(a) => Value::List(a.iter().map(|x| self.eval(x)).collect()),
            Expression::Object(o) => {
                let mut map = BTreeMap::new();
                for (k, v) in o.iter() {
                    let key = match k {
                        ObjectKey::Ident(i) => Value::str(i.as_str()),
                        ObjectKey::Expression(Expression::Variable(v)) => Value::str(v.as_str()),
                        ObjectKey::Expression(x) => self.eval(x),
                    };
                    match key {
                        Value::Str(k, _) => {
                            map.insert(k, self.eval(v.expr()));
                        }
                        _ => return self.unknown(e),
                    }
                }
                Value::Object(map)
            }
            Expression::StringTemplate(t) => {
                let mut text = String::new();
                let mut partial = Vec::new();
                for el in t.iter() {
                    match el {
                        Element::Literal(l) => text.push_str(l.value()),
                        Element::Interpolation(i) => match self.eval(&i.expr).interpolated() {
                            Some((s, p)) => {
                                text.push_str(&s);
                                partial.extend(p);
                            }
                            None => {
                                let inner = self.file.slice(&i.expr);
                                text.push_str(&format!("${{{inner}}}"));
                                partial.push(inner);
                            }
                        },
                        Element::Directive(_) => return self.unknown(e),
                    }
                }
                Value::Str(text, partial)
            }
            Expression::HeredocTemplate(_) => self.unknown(e),
            Expression::Parenthesis(p) => self.eval(p.inner()),
            Expression::Variable(v) => match v.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => self.unknown(e),
            },
            Expression::Conditional(c) => match self.eval(&c.cond_expr) {
                Value::Bool(true) => self.eval(&c.true_expr),
                Value::Bool(false) => self.eval(&c.false_expr),
                _ => self.unknown(e),
            },
            Expression::FuncCall(f) => self.call(f, e),
            Expression::Traversal(t) => self.traverse(t, e),
            Expression::BinaryOp(op) => {
                use hcl_edit::expr::BinaryOperator as B;
                let (l, r) = (self.eval(&op.lhs_expr), self.eval(&op.rhs_expr));
                if l.is_unknown() || r.is_unknown() {
                    return self.unknown(e);
                }
                match op.operator.value() {
                    B::Eq => Value::Bool(l == r),
                    B::NotEq => Value::Bool(l != r),
                    B::And | B::Or => match (l, r) {
                        (Value::Bool(a), Value::Bool(b)) => {
                            Value::Bool(if matches!(op.operator.value(), B::And) {
                                a && b
                            } else {
                                a || b
                            })
                        }
                        _ => self.unknown(e),
                    },
                    _ => self.unknown(e),
                }
            }
            Expression::UnaryOp(_) | Expression::ForExpr(_) => self.unknown(e),
        }
    }

    fn call(&self, f: &hcl_edit::expr::FuncCall, e: &Expression) -> Value {
        let args: Vec<Value> = f.args.iter().map(|a| self.eval(a)).collect();
        if !f.name.namespace.is_empty() {
            return self.unknown(e);
        }
        match (f.name.name.as_str(), args.as_slice()) {
            ("jsonencode", [v]) => {
                let mut unknowns = Vec::new();
                match v.to_json(&mut unknowns) {
                    Some(j) => Value::Str(serde_json::to_string(&j).unwrap_or_default(), unknowns),
                    None => self.unknown(e),
                }
            }
            ("jsondecode", [Value::Str(s, p)]) if p.is_empty() => {
                serde_json::from_str(s).map_or_else(|_| self.unknown(e), |j| Value::from_json(&j))
            }
            ("tolist" | "toset" | "tomap" | "tostring" | "nonsensitive" | "sensitive", [v]) => {
                v.clone()
            }
            ("concat", _) => {
                let mut out = Vec::new();
                for a in &args {
                    match a {
                        Value::List(items) => out.extend(items.iter().cloned()),
                        _ => return self.unknown(e),
                    }
                }
                Value::List(out)
            }
            ("merge", _) => {
                let mut out = BTreeMap::new();
                for a in &args {
                    match a {
                        Value::Object(m) => out.extend(m.clone()),
                        Value::Null => {}
                        _ => return self.unknown(e),
                    }
                }
                Value::Object(out)
            }
            ("lookup", [m, k, rest @ ..]) => match (m, k.as_str()) {
                (Value::Object(map), Some(key)) => map
                    .get(key)
                    .cloned()
                    .or_else(|| rest.first().cloned())
                    .unwrap_or_else(|| self.unknown(e)),
                (Value::GroupScope(_), Some(_)) => m.index(k, &self.file.slice(e)),
                _ => self.unknown(e),
            },
            ("urldecode", [Value::Str(s, p)]) if p.is_empty() => Value::str(url_decode(s)),
            _ => self.unknown(e),
        }
    }

    fn traverse(&self, t: &hcl_edit::expr::Traversal, e: &Expression) -> Value {
        let text = self.file.slice(e);
        let ops: Vec<&TraversalOperator> = t.operators.iter().map(|o| o.value()).collect();
        let attr = |i: usize| match ops.get(i) {
            Some(TraversalOperator::GetAttr(a)) => Some(a.as_str().to_string()),
            _ => None,
        };
        let (mut value, used) = match &t.expr {
            Expression::Variable(v) => match v.as_str() {
                "var" => match attr(0) {
                    Some(n) => (
                        self.m
                            .vars
                            .get(&n)
                            .cloned()
                            .unwrap_or_else(|| Value::Unknown(format!("var.{n}"))),
                        1,
                    ),
                    None => return Value::Unknown(text),
                },
                "local" => match attr(0) {
                    Some(n) => (self.local(&n), 1),
                    None => return Value::Unknown(text),
                },
                name if self.iter.as_ref().is_some_and(|(n, _, _)| n == name) => {
                    match (attr(0).as_deref(), &self.iter) {
                        (Some("key"), Some((_, k, _))) => (k.clone(), 1),
                        (Some("value"), Some((_, _, v))) => (v.clone(), 1),
                        _ => return Value::Unknown(text),
                    }
                }
                "each" => match (attr(0).as_deref(), &self.each) {
                    (Some("key"), Some((k, _))) => (k.clone(), 1),
                    (Some("value"), Some((_, v))) => (v.clone(), 1),
                    _ => return Value::Unknown(text),
                },
                "count" => match (attr(0).as_deref(), self.count) {
                    (Some("index"), Some(i)) => (Value::Number(i.into()), 1),
                    _ => return Value::Unknown(text),
                },
                "data" => match (attr(0), attr(1)) {
                    (Some(ty), Some(name)) => (self.data(&ty, &name), 2),
                    _ => return Value::Unknown(text),
                },
                _ => return Value::Unknown(text),
            },
            other => (self.eval(other), 0),
        };
        for op in &ops[used..] {
            value = match op {
                TraversalOperator::GetAttr(a) => value.attr(a.as_str(), &text),
                TraversalOperator::Index(i) => value.index(&self.eval(i), &text),
                TraversalOperator::LegacyIndex(i) => {
                    value.index(&Value::Number((*i.value()).into()), &text)
                }
                _ => Value::Unknown(text.clone()),
            };
        }
        value
    }

    fn local(&self, name: &str) -> Value {
        let Some(&(file, expr)) = self.m.locals.get(name) else {
            return Value::Unknown(format!("local.{name}"));
        };
        if self.depth >= MAX_DEPTH {
            return Value::Unknown(format!("local.{name}"));
        }
        Eval {
            m: self.m,
            file: self.m.files[file],
            each: None,
            count: None,
            depth: self.depth + 1,
            iter: None,
        }
        .eval(expr)
    }

    /// A data source: the permission-group lookups resolve to names; anything else is
    /// unknown.
    fn data(&self, ty: &str, name: &str) -> Value {
        let text = format!("data.{ty}.{name}");
        if ty == GROUPS_V4 {
            return Value::GroupScope(None);
        }
        if GROUPS_V5.contains(&ty) {
            let Some(&(file, body)) = self.m.data.get(&(ty.to_string(), name.to_string())) else {
                return Value::Unknown(text);
            };
            let ev = Eval {
                m: self.m,
                file: self.m.files[file],
                each: None,
                count: None,
                depth: self.depth + 1,
                iter: None,
            };
            let filter = body.get_attribute("name").map(|a| ev.eval(&a.value));
            return match filter {
                Some(Value::Str(n, p)) if p.is_empty() => {
                    let entry = Value::GroupEntry(url_decode(&n));
                    Value::Object(BTreeMap::from([(
                        "result".to_string(),
                        Value::List(vec![entry]),
                    )]))
                }
                _ => Value::Unknown(format!(
                    "{text} (no name filter: which groups it lists is unknown)"
                )),
            };
        }
        Value::Unknown(text)
    }
}
