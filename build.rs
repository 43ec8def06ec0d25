//! Compiles the default rule pack into the binary: every file in `rules/` is embedded, so
//! a rule is exactly its two files there (STYLE.md, habit 5), and every file in
//! `rules/lib/`, the shared Rego library (`package tokenwarden.lib`) that is loaded with
//! every pack.

use std::fmt::Write as _;
use std::path::Path;

/// Names of the `.rego` files directly in `dir`, sorted.
fn rego_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".rego"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `pub const NAME: &[(&str, &str)]` of (path, contents) for every `.rego` file of `sub`.
fn embed(out: &mut String, name: &str, sub: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(sub);
    println!("cargo:rerun-if-changed={sub}");
    let _ = writeln!(
        out,
        "/// (path, contents) of every file in `{sub}/`, sorted by name."
    );
    let _ = writeln!(out, "pub const {name}: &[(&str, &str)] = &[");
    for n in rego_files(&dir) {
        println!("cargo:rerun-if-changed={sub}/{n}");
        let _ = writeln!(
            out,
            "    (\"{sub}/{n}\", include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/{sub}/{n}\"))),"
        );
    }
    out.push_str("];\n");
}

fn main() {
    let mut out = String::new();
    embed(&mut out, "BUILTIN_RULE_FILES", "rules");
    embed(&mut out, "BUILTIN_LIBRARY_FILES", "rules/lib");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()))
        .join("builtin_rules.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        println!("cargo:warning=cannot write {}: {e}", dest.display());
        std::process::exit(1);
    }
}
