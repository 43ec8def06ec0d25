//! tokenwarden: govern Cloudflare API tokens.
//!
//! collect (API or snapshot) → enrich (facts in Rust) → evaluate (regorus, `rules/`) →
//! govern (policy: exemptions, severity, gate) → report (table, JSON, SARIF, Markdown).
//! docs/architecture.md describes the data flow, the contracts, and the layers: each
//! module imports only modules of lower layers (the `layering` test below holds that).
//! The library prints nothing and knows nothing of the command line; the binary's `cmd`
//! layer does both.

pub mod atomic;
pub mod baseline;
pub mod clock;
pub mod cloudflare;
pub mod coverage;
pub mod dashboard;
pub mod doctor;
pub mod engine;
pub mod enrich;
pub mod exit;
pub mod explain;
pub mod export;
pub mod finding;
pub mod history;
pub mod id;
pub mod inventory;
pub mod policy;
pub mod reach;
pub mod remediate;
pub mod report;
pub mod scan;
pub mod scope;
pub mod secret;
pub mod stale;
pub mod terraform;
pub mod text;

#[cfg(test)]
mod layering {
    //! docs/architecture.md §11: a module imports only modules of lower layers.

    use std::collections::BTreeMap;
    use std::path::Path;

    const LAYERS: &[(&str, u8)] = &[
        ("atomic", 0),
        ("clock", 0),
        ("exit", 0),
        ("id", 0),
        ("scope", 0),
        ("secret", 0),
        ("text", 0),
        ("finding", 1),
        ("inventory", 1),
        ("cloudflare", 2),
        ("enrich", 2),
        ("engine", 2),
        ("policy", 2),
        ("dashboard", 2),
        ("reach", 3),
        ("coverage", 3),
        ("terraform", 3),
        ("stale", 4),
        ("baseline", 4),
        ("history", 4),
        ("scan", 5),
        ("doctor", 5),
        ("remediate", 5),
        ("explain", 6),
        ("export", 6),
        ("report", 6),
    ];

    /// Every `crate::name` a text uses, including `crate::{a, b::c}` groups.
    fn imports(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for part in group[..end].split(',') {
                    let name: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.push(name);
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        }
        out
    }

    fn visit(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                visit(&p, files);
            } else if p.extension().is_some_and(|e| e == "rs") {
                files.push(p);
            }
        }
    }

    #[test]
    fn every_module_imports_only_lower_layers() {
        let layer: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        visit(&src, &mut files);
        let mut problems = Vec::new();
        for file in files {
            let rel = file.strip_prefix(&src).unwrap();
            let top = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            // The binary, the crate root, and unit tests are not layered.
            if matches!(top.as_str(), "cmd" | "main" | "lib") || rel.ends_with("tests.rs") {
                continue;
            }
            let Some(&mine) = layer.get(top.as_str()) else {
                problems.push(format!("{}: module {top} has no layer", rel.display()));
                continue;
            };
            let text = std::fs::read_to_string(&file).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for used in imports(code) {
                if used == top {
                    continue;
                }
                match layer.get(used.as_str()) {
                    Some(&theirs) if theirs < mine => {}
                    Some(&theirs) => problems.push(format!(
                        "{}: {top} (layer {mine}) imports {used} (layer {theirs})",
                        rel.display()
                    )),
                    None => problems.push(format!(
                        "{}: imports crate::{used}, which has no layer",
                        rel.display()
                    )),
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn imports_are_read_from_paths_and_groups() {
        assert_eq!(
            imports("use crate::a::B;\nuse crate::{c, d_e::F};\nx = crate::g::h();"),
            ["a", "c", "d_e", "g"]
        );
    }
}
