//! The crate's floors point only down (issue 19): each module's non-test code names only
//! the modules below it. Read from the sources, so a new `use crate::...` that reaches up or
//! sideways fails here with the file and the line.
//!
//! ```text
//! top      lib (load_classifier)   forest (RandomForest)   oob   linfa_adapter
//! floor 2  train        predict        persist        importance
//! floor 1  binning      flat (the arena)
//! floor 0  params   model   validate   error   isa
//! ```
//!
//! Training and the prediction kernels both speak only the arena (neither names the other);
//! persistence sits beside them, turning parameters and arena into bytes and back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What each module's non-test code may name with `crate::` (its own submodules aside).
fn allowed() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let floor0 = ["isa", "error", "validate", "model", "params", "envelope"];
    let rules: &[(&str, &[&str])] = &[
        ("isa", &[]),
        ("error", &["isa"]),
        ("validate", &["error"]),
        ("envelope", &["error"]),
        ("model", &["error"]),
        ("params", &["error", "isa"]),
        ("binning", &[]),
        ("flat", &["error", "validate"]),
        (
            "persist",
            &["envelope", "error", "flat", "params", "validate"],
        ),
        ("importance", &["flat"]),
        ("train", &["binning", "error", "flat", "isa", "params"]),
        ("predict", &["flat", "isa"]),
        ("oob", &["predict", "train"]),
        (
            "forest",
            &[
                "error",
                "flat",
                "importance",
                "isa",
                "model",
                "oob",
                "params",
                "persist",
                "predict",
                "train",
                "validate",
            ],
        ),
        (
            "linfa_adapter",
            &[
                "envelope", "error", "model", "params", "persist", "validate",
            ],
        ),
    ];
    let mut m: BTreeMap<&str, BTreeSet<&str>> = rules
        .iter()
        .map(|(k, v)| (*k, v.iter().copied().collect()))
        .collect();
    // The crate root sees everything.
    let all: BTreeSet<&str> = m.keys().copied().chain(floor0).collect();
    m.insert("lib", all);
    m
}

/// The module a source file belongs to (`src/train/split.rs` → `train`).
fn module_of(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The file's code outside its test module and comments, with line numbers.
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let t = line.trim_start();
        // Test modules close every file: stop at the first one.
        if t.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|(_, next)| next.trim_start().starts_with("mod "))
        {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push((i + 1, line));
    }
    out
}

/// The modules a line names: `crate::train::...` → `train`, and a re-export at the crate
/// root (`crate::RandomForest`, `crate::{A, B}`) → `lib`.
fn named(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            group
                .split('}')
                .next()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .collect()
        } else {
            vec![rest]
        };
        for n in names {
            let ident: String = n
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if ident.is_empty() {
                continue;
            }
            if ident.chars().next().is_some_and(char::is_uppercase) {
                out.push("lib".to_string());
            } else {
                out.push(ident);
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn floors_point_only_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rules = allowed();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    let mut seen = BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let module = module_of(rel);
        seen.insert(module.clone());
        let Some(ok) = rules.get(module.as_str()) else {
            bad.push(format!(
                "{}: module `{module}` has no floor in this test",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in code_lines(&text) {
            for target in named(line) {
                if target != module && !ok.contains(target.as_str()) {
                    bad.push(format!(
                        "{}:{n}: `{module}` names `{target}`: {}",
                        rel.display(),
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "imports that do not point down:\n{}",
        bad.join("\n")
    );
    // Every module with a rule exists (a renamed module must update the floors above).
    for m in rules.keys() {
        assert!(seen.contains(*m), "no source for module `{m}`");
    }
}

#[test]
fn the_checker_sees_what_it_must() {
    assert_eq!(named("use crate::train::tree::Tree;"), ["train"]);
    assert_eq!(named("use crate::{ForestParams, flat};"), ["lib", "flat"]);
    assert_eq!(named("let x = crate::forest::supported(p);"), ["forest"]);
    assert!(named("// crate::forest in a comment is a line we skip anyway").len() == 1);
    let text = "use crate::flat;\n// use crate::forest;\n#[cfg(test)]\nmod tests {\n    use crate::RandomForest;\n}\n";
    let lines: Vec<_> = code_lines(text).into_iter().map(|(_, l)| l).collect();
    assert_eq!(lines, ["use crate::flat;"]);
}
