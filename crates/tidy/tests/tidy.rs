//! Runs every tidy check ([`disconcierge_tidy`]) on this repository's crates; a failure lists each
//! broken rule with its file and what to do.

use disconcierge_tidy::{
    Violation, crate_edges, file_size, hidden_from_rustfmt, import_cycles, module_doc,
    sql_outside_store,
};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

/// Every `.rs` file under `dir`, recursively, as paths relative to the repository root.
fn rust_files(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).expect("readable source");
            out.push((rel, text));
        }
    }
}

fn crates(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .expect("crates/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn report(violations: Vec<Violation>) {
    let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(
        violations.is_empty(),
        "{} tidy violation(s):\n{}",
        violations.len(),
        text.join("\n")
    );
}

#[test]
fn the_crate_graph_keeps_its_invariants() {
    let root = root();
    let manifests: Vec<(String, String)> = crates(&root)
        .into_iter()
        .map(|dir| {
            let path = dir.join("Cargo.toml");
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (rel, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    assert!(manifests.len() >= 10, "found the workspace's crates");
    report(crate_edges(&manifests));
}

#[test]
fn every_source_file_keeps_the_file_rules() {
    let root = root();
    let mut files = Vec::new();
    for dir in crates(&root) {
        for sub in ["src", "tests", "benches", "examples"] {
            rust_files(&root, &dir.join(sub), &mut files);
        }
        let build = dir.join("build.rs");
        if build.is_file() {
            let rel = build
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            files.push((rel, std::fs::read_to_string(&build).unwrap()));
        }
    }
    assert!(files.len() > 100, "found the sources");
    let mut violations = Vec::new();
    for (path, text) in &files {
        violations.extend(sql_outside_store(path, text));
        violations.extend(module_doc(path, text));
        violations.extend(file_size(path, text));
        violations.extend(hidden_from_rustfmt(path, text));
    }
    report(violations);
}

#[test]
fn no_crate_has_an_import_circle_between_its_modules() {
    let root = root();
    let mut violations = Vec::new();
    for dir in crates(&root) {
        let src = dir.join("src");
        let mut files = Vec::new();
        rust_files(&src, &src, &mut files);
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        // The simulators are test infrastructure built around one shared world that every protocol
        // module reads and writes; the rule is for what ships.
        if ["discord-sim", "llm-sim"].contains(&name.as_str()) {
            continue;
        }
        violations.extend(import_cycles(&name, &files));
    }
    report(violations);
}
