//! Compiles the default rule pack (`rules/*.rego`) into the binary: every file in
//! `rules/` is embedded, so a rule is exactly its two files there (STYLE.md, habit 5).

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=rules");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".rego"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = String::from("/// (path, contents) of every file in `rules/`, sorted by name.\n");
    out.push_str("pub const BUILTIN_RULE_FILES: &[(&str, &str)] = &[\n");
    for n in &names {
        println!("cargo:rerun-if-changed=rules/{n}");
        let _ = writeln!(
            out,
            "    (\"rules/{n}\", include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/rules/{n}\"))),"
        );
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()))
        .join("builtin_rules.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        println!("cargo:warning=cannot write {}: {e}", dest.display());
        std::process::exit(1);
    }
}
