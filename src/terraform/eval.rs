//! Evaluating HCL expressions without Terraform (docs/terraform.md, "Mapping"): literals,
//! `var.*`, `local.*`, `each.*`, `count.index`, a `dynamic` block's iterator, templates,
//! conditionals, a few functions, and the permission-group data sources, whose lookups
//! evaluate to group names. Anything else is [`Value::Unknown`], carrying its source text.

use std::collections::BTreeMap;

use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::structure::Body;
use hcl_edit::template::Element;
use hcl_edit::Span;

use super::config::{SourceFile, MAX_DEPTH};
use super::value::{url_decode, Value};

const GROUPS_V4: &str = "cloudflare_api_token_permission_groups";
const GROUPS_V5: [&str; 2] = [
    "cloudflare_api_token_permission_groups_list",
    "cloudflare_account_api_token_permission_groups_list",
];

/// One module instance's names.
#[derive(Default)]
pub(super) struct Module<'a> {
    pub(super) files: Vec<&'a SourceFile>,
    pub(super) vars: BTreeMap<String, Value>,
    pub(super) locals: BTreeMap<String, (usize, &'a Expression)>,
    pub(super) data: BTreeMap<(String, String), (usize, &'a Body)>,
}

/// Evaluates expressions of one module instance, in one file, for one resource instance.
pub(super) struct Eval<'a> {
    pub(super) m: &'a Module<'a>,
    pub(super) file: &'a SourceFile,
    pub(super) each: Option<(Value, Value)>,
    pub(super) count: Option<i64>,
    pub(super) depth: usize,
    /// A `dynamic` block's iterator: its name, key and value.
    pub(super) iter: Option<(String, Value, Value)>,
}

impl<'a> Eval<'a> {
    /// Evaluation in `file` of `m`, outside any `for_each`, `count` or `dynamic` block.
    pub(super) fn plain(m: &'a Module<'a>, file: &'a SourceFile, depth: usize) -> Eval<'a> {
        Eval {
            m,
            file,
            each: None,
            count: None,
            depth,
            iter: None,
        }
    }
}

impl Eval<'_> {
    fn unknown(&self, e: &impl Span) -> Value {
        Value::Unknown(self.file.slice(e))
    }

    pub(super) fn eval(&self, e: &Expression) -> Value {
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
        Eval::plain(self.m, self.m.files[file], self.depth + 1).eval(expr)
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
            let ev = Eval::plain(self.m, self.m.files[file], self.depth + 1);
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
