//! Reading `.tf` directories without Terraform (docs/terraform.md): every `.tf` file parsed
//! with hcl-edit (a file that does not parse is an error naming the file and line), modules
//! called with a local `source` evaluated with their inputs under `module.NAME.`, other
//! directories read as roots with `terraform.tfvars` and `*.auto.tfvars`, and every
//! `cloudflare_api_token` / `cloudflare_account_token` block evaluated into a [`Block`]:
//! its address, its values, and the line of each attribute.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Body, Structure};
use hcl_edit::Span;

use super::block::token_block;
use super::eval::{Eval, Module};
use super::value::Value;
use super::TerraformError;

/// The two token resources (provider v4 has the first only).
pub const TOKEN_TYPES: [&str; 2] = ["cloudflare_api_token", "cloudflare_account_token"];

/// How deep locals may refer to locals, and modules call modules.
pub(super) const MAX_DEPTH: usize = 32;

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

    pub(super) fn line_of_span(&self, s: &impl Span) -> usize {
        s.span().map_or(1, |r| self.line_of(r.start))
    }

    pub(super) fn slice(&self, s: &impl Span) -> String {
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
        let ev = Eval::plain(&empty, &file, 0);
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
                                Some(d) => Eval::plain(&Module::default(), &self.files[i], 0)
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
                        let ev = Eval::plain(&m, file, 0);
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
                        let ev = Eval::plain(&m, file, 0);
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
