//! The tidy checks: the rules that keep the layout showing the architecture, checked on the source tree
//! instead of resting on everyone being careful (in the spirit of rust-analyzer's `xtask/src/tidy.rs`).
//!
//! Each check is a function of file contents, so its own tests break every rule on purpose and show it
//! is caught; `tests/tidy.rs` runs them all on this repository. The rules:
//!
//! * [`crate_edges`]: which crate may depend on which (the domain knows no Discord, SQL or HTTP; only
//!   `store` knows SQL; only `discord` and the test-only crates know twilight; `web` never reaches the
//!   application; the binary contains no simulator; `anyhow` only at the binary's edge).
//! * [`sql_outside_store`]: SQL statements only in `store` (and in tests).
//! * [`module_doc`]: every source file opens with a `//!` doc saying what it is for.
//! * [`file_size`]: no source file over [`MAX_LINES`] lines unless [`LONG_FILES`] says why.
//! * [`hidden_from_rustfmt`]: no source pulled in with `include!`, which `cargo fmt` does not see.
//! * [`import_cycles`]: no circle of imports between the modules of a crate.

use std::collections::{BTreeMap, BTreeSet};

/// A broken rule: where, which rule, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub file: String,
    pub rule: &'static str,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: [{}] {}", self.file, self.rule, self.message)
    }
}

fn violation(file: &str, rule: &'static str, message: String) -> Violation {
    Violation {
        file: file.to_owned(),
        rule,
        message,
    }
}

// ----- Crate edges -----

/// Crates that exist only for tests and benches: they may use anything, and nothing shipped may use
/// them.
pub const TEST_ONLY: &[&str] = &[
    "disconcierge-discord-sim",
    "disconcierge-llm-sim",
    "disconcierge-e2e",
    "disconcierge-bench",
    "disconcierge-tidy",
];

/// A dependency only some crates may have, and why.
struct Only {
    dependency: &'static str,
    allowed: &'static [&'static str],
    why: &'static str,
}

/// Dependencies (normal ones, the ones that end up in the binary) reserved to some crates. Test-only
/// crates are exempt where they are named.
const ONLY: &[Only] = &[
    Only {
        dependency: "sqlx",
        allowed: &["disconcierge-store", "disconcierge-bench"],
        why: "only `store` speaks SQL (the bench seeds a million rows straight into its own SQLite file, \
              a fixture, not the product)",
    },
    Only {
        dependency: "twilight-",
        allowed: &[
            "disconcierge-discord",
            "disconcierge-discord-sim",
            "disconcierge-e2e",
        ],
        why: "only `discord` knows Discord (the simulator and the end-to-end harness speak its wire \
              format to test it)",
    },
    Only {
        dependency: "askama",
        allowed: &["disconcierge-web"],
        why: "only `web` renders HTML",
    },
    Only {
        dependency: "anyhow",
        allowed: &["disconcierge"],
        why: "errors are typed inside crates; `anyhow` only at the binary's edge (`cli`)",
    },
];

/// Crate-to-crate edges that must never exist, and why.
const NEVER: &[(&str, &str, &str)] = &[
    (
        "disconcierge-core",
        "disconcierge-",
        "the domain depends on no other crate of ours",
    ),
    (
        "disconcierge-web",
        "disconcierge-app",
        "`web` reaches the running bot only through its `Control` trait",
    ),
    (
        "disconcierge-web",
        "disconcierge-discord",
        "`web` reaches Discord only through `Control`",
    ),
    (
        "disconcierge-web",
        "disconcierge-llm",
        "`web` reaches the model only through `Control`",
    ),
    (
        "disconcierge-store",
        "disconcierge-discord",
        "storage knows no Discord",
    ),
    (
        "disconcierge-store",
        "disconcierge-llm",
        "storage knows no LLM",
    ),
    (
        "disconcierge-store",
        "disconcierge-web",
        "storage knows no web",
    ),
    (
        "disconcierge-llm",
        "disconcierge-discord",
        "the LLM clients know no Discord",
    ),
    (
        "disconcierge-discord",
        "disconcierge-store",
        "the Discord side knows no storage: the application wires them",
    ),
];

/// Names of the crates the domain must not depend on (I/O and wire formats), with why.
const CORE_FORBIDDEN: &[&str] = &[
    "sqlx",
    "twilight-",
    "axum",
    "reqwest",
    "hyper",
    "tokio",
    "askama",
];

/// One manifest's package name and its dependencies, by section (`dependencies`, `dev-dependencies`,
/// `build-dependencies`). Read line by line: our manifests use plain tables and `name = …` /
/// `name.workspace = true` keys.
#[derive(Debug, Default)]
pub struct Manifest {
    pub name: String,
    pub dependencies: BTreeMap<String, BTreeSet<String>>,
}

pub fn parse_manifest(text: &str) -> Manifest {
    let mut manifest = Manifest::default();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.trim().to_owned();
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if section == "package" && key == "name" {
            manifest.name = value.trim().trim_matches('"').to_owned();
        } else if section.ends_with("dependencies") && !section.starts_with("workspace") {
            let name = key.split('.').next().unwrap_or(key).trim_matches('"');
            let kind = section.rsplit('.').next().unwrap_or(&section).to_owned();
            manifest
                .dependencies
                .entry(kind)
                .or_default()
                .insert(name.to_owned());
        }
    }
    manifest
}

/// Checks the crate graph: `manifests` are `(path, Cargo.toml text)` of every workspace member.
pub fn crate_edges(manifests: &[(String, String)]) -> Vec<Violation> {
    let mut out = Vec::new();
    for (path, text) in manifests {
        let m = parse_manifest(text);
        let normal = m
            .dependencies
            .get("dependencies")
            .cloned()
            .unwrap_or_default();
        let shipped = !TEST_ONLY.contains(&m.name.as_str());
        for dep in &normal {
            for only in ONLY {
                if dep.starts_with(only.dependency) && !only.allowed.contains(&m.name.as_str()) {
                    out.push(violation(
                        path,
                        "crate-edges",
                        format!("{} depends on {dep}: {}", m.name, only.why),
                    ));
                }
            }
            for (from, to, why) in NEVER {
                if m.name == *from && dep.starts_with(to) {
                    out.push(violation(
                        path,
                        "crate-edges",
                        format!("{} depends on {dep}: {why}", m.name),
                    ));
                }
            }
            if m.name == "disconcierge-core" {
                for forbidden in CORE_FORBIDDEN {
                    if dep.starts_with(forbidden) {
                        out.push(violation(
                            path,
                            "crate-edges",
                            format!("disconcierge-core depends on {dep}: the domain does no I/O"),
                        ));
                    }
                }
            }
            if shipped && TEST_ONLY.contains(&dep.as_str()) {
                out.push(violation(
                    path,
                    "crate-edges",
                    format!(
                        "{} depends on the test-only {dep}: the binary contains no simulator",
                        m.name
                    ),
                ));
            }
        }
    }
    out
}

// ----- Source files -----

/// A file's text without its test modules: from the first `#[cfg(test)]` item to the end (our test
/// modules close their files).
fn without_tests(text: &str) -> &str {
    match text.find("\n#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    }
}

/// Whether a file is test code: under a `tests/` folder, or in a test-only crate.
pub fn is_test_code(path: &str) -> bool {
    path.contains("/tests/")
        || [
            "crates/discord-sim/",
            "crates/llm-sim/",
            "crates/e2e/",
            "crates/tidy/",
        ]
        .iter()
        .any(|c| path.starts_with(c))
}

/// Files outside `store` that may hold SQL, and why.
pub const SQL_ELSEWHERE: &[(&str, &str)] = &[
    (
        "crates/bench/src/admin.rs",
        "seeds its own SQLite file with a million rows, faster than through the store; a bench fixture",
    ),
    (
        "crates/bench/src/cluster.rs",
        "creates and drops a PostgreSQL database per run and reads which instance holds the gateway \
         shard (to kill that one): the bench's own fixture, outside any store",
    ),
];

/// SQL statements outside `store` (test code aside).
pub fn sql_outside_store(path: &str, text: &str) -> Vec<Violation> {
    if path.starts_with("crates/store/")
        || is_test_code(path)
        || SQL_ELSEWHERE.iter().any(|(p, _)| *p == path)
    {
        return Vec::new();
    }
    const STATEMENTS: &[&str] = &[
        "SELECT ",
        "INSERT INTO ",
        "DELETE FROM ",
        "CREATE TABLE ",
        "CREATE INDEX ",
        "ALTER TABLE ",
    ];
    let mut out = Vec::new();
    for (n, line) in without_tests(text).lines().enumerate() {
        let in_string = line.split('"').skip(1).step_by(2);
        for literal in in_string {
            let upper_update = literal.starts_with("UPDATE ") && literal.contains(" SET ");
            let statement = STATEMENTS
                .iter()
                .any(|s| literal.starts_with(s) && (*s != "SELECT " || literal.contains(" FROM ")));
            if statement || upper_update {
                out.push(violation(
                    &format!("{path}:{}", n + 1),
                    "sql-outside-store",
                    format!("an SQL statement ({literal:.40}…): only `store` speaks SQL"),
                ));
            }
        }
    }
    out
}

/// A source file that does not open with a `//!` doc.
pub fn module_doc(path: &str, text: &str) -> Vec<Violation> {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    if first.starts_with("//!") {
        Vec::new()
    } else {
        vec![violation(
            path,
            "module-doc",
            "the file does not open with a `//!` doc saying what it is for".into(),
        )]
    }
}

/// The size past which a source file (outside tests) needs a written reason.
pub const MAX_LINES: usize = 800;

/// Source files allowed past [`MAX_LINES`], and why.
pub const LONG_FILES: &[(&str, &str)] = &[
    (
        "crates/discord-sim/src/driver.rs",
        "the simulator's driver API, one method per thing a user does in Discord; read by name, not \
         through",
    ),
    (
        "crates/app/src/settings/mod.rs",
        "the parsing of every `DC_*` variable into typed settings, one field after another, driven by \
         the table in `vars.rs`",
    ),
];

/// A source file (outside tests) longer than [`MAX_LINES`] without a reason in [`LONG_FILES`].
pub fn file_size(path: &str, text: &str) -> Vec<Violation> {
    let lines = text.lines().count();
    if lines <= MAX_LINES || is_test_code(path) || LONG_FILES.iter().any(|(p, _)| *p == path) {
        return Vec::new();
    }
    vec![violation(
        path,
        "file-size",
        format!(
            "{lines} lines (over {MAX_LINES}): split it by what it is about, or say why not in \
             tidy's LONG_FILES"
        ),
    )]
}

/// Source pulled into another file with `include!`: rustfmt never formats it.
pub fn hidden_from_rustfmt(path: &str, text: &str) -> Vec<Violation> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start();
            l.starts_with("include!(") && l.contains(".rs\"")
        })
        .map(|(n, _)| {
            violation(
                &format!("{path}:{}", n + 1),
                "hidden-from-rustfmt",
                "`include!` of Rust source: make it a module (`#[path]` if it is compiled more than \
                 once) so `cargo fmt` sees it"
                    .into(),
            )
        })
        .collect()
}

// ----- Import cycles -----

/// The module path of a source file of a crate, from its path under `src/`: `lib.rs` → `[]`,
/// `chat/mod.rs` → `[chat]`, `chat/admit.rs` → `[chat, admit]`.
pub fn module_of(path_in_src: &str) -> Vec<String> {
    let trimmed = path_in_src.trim_end_matches(".rs");
    let mut parts: Vec<String> = trimmed.split('/').map(str::to_owned).collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Every path a `use` tree names, braces expanded: `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand_use(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(tree).trim().to_owned()];
    };
    let prefix = &tree[..open];
    let inner = tree[open + 1..].trim_end().trim_end_matches('}');
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|i| !i.trim().is_empty())
        .flat_map(expand_use)
        .map(|p| format!("{prefix}{p}"))
        .collect()
}

/// The paths a file refers to through `crate::`, `super::` and `self::`, from its `use` items and from
/// paths written in its code (comments, doc links among them, are not references).
fn referenced_paths(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| format!("{l}\n"))
        .collect();
    let text = code.as_str();
    let mut out = Vec::new();
    let mut rest = text;
    // `use` items, possibly over several lines.
    while let Some(i) = rest.find("use ") {
        let before = &rest[..i];
        let at_item_start = before.is_empty() || before.ends_with(['\n', ' ', '{', ';']);
        let after = &rest[i + 4..];
        if at_item_start
            && (after.starts_with("crate::")
                || after.starts_with("super::")
                || after.starts_with("self::"))
            && let Some(end) = after.find(';')
        {
            out.extend(expand_use(&after[..end].replace('\n', " ")));
            rest = &after[end..];
        } else {
            rest = after;
        }
    }
    // Paths in code: `crate::a::b`, `super::super::c`.
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(start) {
            let at = from + i;
            let ok_before = at == 0
                || !text[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            let path: String = text[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if ok_before {
                out.push(path.trim_end_matches(':').to_owned());
            }
            from = at + start.len();
        }
    }
    out
}

/// The module a path from `module` refers to, among `modules`: the longest module prefix of the path,
/// `super::` and `self::` resolved.
fn resolve(module: &[String], path: &str, modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let mut parts = path.split("::").filter(|p| !p.is_empty());
    let mut base: Vec<String> = match parts.next()? {
        "crate" => Vec::new(),
        "self" => module.to_vec(),
        "super" => module[..module.len().checked_sub(1)?].to_vec(),
        _ => return None,
    };
    let mut rest: Vec<&str> = parts.collect();
    while rest.first() == Some(&"super") {
        base.pop()?;
        rest.remove(0);
    }
    let mut best = base.clone();
    let mut candidate = base;
    for p in rest {
        candidate.push(p.to_owned());
        if modules.contains(&candidate) {
            best = candidate.clone();
        } else {
            break;
        }
    }
    modules.contains(&best).then_some(best)
}

/// Circles of imports between the modules of one crate. `files` are `(path under src/, text)`. A
/// module's references to its own ancestors (a child using what its parent defines) are not edges: a
/// module is part of its parent. Test modules are left out.
pub fn import_cycles(crate_name: &str, files: &[(String, String)]) -> Vec<Violation> {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(p, _)| module_of(p)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (path, text) in files {
        let from = module_of(path);
        for target in referenced_paths(without_tests(text)) {
            if let Some(to) = resolve(&from, &target, &modules)
                && to != from
                && !from.starts_with(&to)
            {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    // Every strongly connected component with more than one module is a circle (Tarjan).
    let mut cycles = Vec::new();
    for component in strongly_connected(&modules, &edges) {
        if component.len() > 1 {
            let names: Vec<String> = component
                .iter()
                .map(|m| {
                    if m.is_empty() {
                        "crate".to_owned()
                    } else {
                        m.join("::")
                    }
                })
                .collect();
            cycles.push(violation(
                crate_name,
                "import-cycle",
                format!(
                    "these modules import each other in a circle: {}; move what they share below them",
                    names.join(", ")
                ),
            ));
        }
    }
    cycles
}

fn strongly_connected(
    nodes: &BTreeSet<Vec<String>>,
    edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
) -> Vec<Vec<Vec<String>>> {
    struct State<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        next: usize,
        out: Vec<Vec<Vec<String>>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Vec<String>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(targets) = s.edges.get(v) {
            for w in targets {
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let low = s.low[v].min(s.low[w]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.low[v].min(s.index[w]);
                    s.low.insert(v, low);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            component.sort();
            s.out.push(component);
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in nodes {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(name: &str, deps: &[&str]) -> (String, String) {
        let mut text = format!("[package]\nname = \"{name}\"\n\n[dependencies]\n");
        for d in deps {
            text.push_str(&format!("{d}.workspace = true\n"));
        }
        (format!("crates/{name}/Cargo.toml"), text)
    }

    #[test]
    fn manifests_are_read_by_section() {
        let m = parse_manifest(
            "[package]\nname = \"x\"\n[dependencies]\na = \"1\"\nb.workspace = true\nc = { workspace = true }\n\
             [dev-dependencies]\nd = \"1\"\n[target.'cfg(unix)'.dependencies]\ne = \"1\"\n",
        );
        assert_eq!(m.name, "x");
        let normal: Vec<&str> = m.dependencies["dependencies"]
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(normal, ["a", "b", "c", "e"]);
        assert!(m.dependencies["dev-dependencies"].contains("d"));
    }

    #[test]
    fn forbidden_crate_edges_are_caught() {
        let broken = [
            manifest("disconcierge-core", &["chrono", "tokio"]),
            manifest("disconcierge-app", &["sqlx"]),
            manifest("disconcierge-web", &["disconcierge-app", "askama"]),
            manifest("disconcierge-llm", &["twilight-model", "anyhow"]),
            manifest("disconcierge", &["disconcierge-discord-sim", "anyhow"]),
        ];
        let found: Vec<String> = crate_edges(&broken)
            .into_iter()
            .map(|v| v.message)
            .collect();
        let expect = [
            "disconcierge-core depends on tokio",
            "disconcierge-app depends on sqlx",
            "disconcierge-web depends on disconcierge-app",
            "disconcierge-llm depends on twilight-model",
            "disconcierge-llm depends on anyhow",
            "disconcierge depends on the test-only disconcierge-discord-sim",
        ];
        for e in expect {
            assert!(
                found.iter().any(|f| f.starts_with(e)),
                "{e} not in {found:#?}"
            );
        }
        assert_eq!(found.len(), expect.len(), "{found:#?}");
        // The same edges from test-only crates, and allowed ones, are fine.
        let fine = [
            manifest(
                "disconcierge-e2e",
                &["twilight-model", "disconcierge-discord-sim"],
            ),
            manifest("disconcierge-store", &["sqlx"]),
            manifest("disconcierge-web", &["askama", "disconcierge-store"]),
            manifest("disconcierge", &["anyhow", "disconcierge-app"]),
        ];
        assert_eq!(crate_edges(&fine), []);
    }

    #[test]
    fn sql_is_caught_outside_store_but_not_in_tests_or_store() {
        let code = "fn f() {\n    let q = \"SELECT id FROM users WHERE x = 1\";\n}\n";
        let found = sql_outside_store("crates/app/src/x.rs", code);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].file, "crates/app/src/x.rs:2");
        assert!(sql_outside_store("crates/store/src/x.rs", code).is_empty());
        assert!(sql_outside_store("crates/app/tests/x.rs", code).is_empty());
        let in_test_module = format!("fn g() {{}}\n\n#[cfg(test)]\nmod tests {{\n{code}}}\n");
        assert!(sql_outside_store("crates/app/src/x.rs", &in_test_module).is_empty());
        let update = "const U: &str = \"UPDATE users SET ignored = 1\";\n";
        assert_eq!(sql_outside_store("crates/web/src/y.rs", update).len(), 1);
        let prose = "let s = \"Select a server from the list\";\n";
        assert!(sql_outside_store("crates/web/src/y.rs", prose).is_empty());
    }

    #[test]
    fn a_file_without_a_module_doc_is_caught() {
        assert_eq!(module_doc("a.rs", "use x;\n").len(), 1);
        assert_eq!(module_doc("a.rs", "// a comment\n//! late\n").len(), 1);
        assert!(module_doc("a.rs", "\n//! What this is.\nuse x;\n").is_empty());
    }

    #[test]
    fn a_long_file_needs_a_reason() {
        let long = "x\n".repeat(MAX_LINES + 1);
        assert_eq!(file_size("crates/app/src/big.rs", &long).len(), 1);
        assert!(file_size("crates/app/tests/big.rs", &long).is_empty());
        assert!(file_size(LONG_FILES[0].0, &long).is_empty());
        assert!(file_size("crates/app/src/small.rs", "x\n").is_empty());
    }

    #[test]
    fn included_source_is_caught() {
        assert_eq!(
            hidden_from_rustfmt("s.rs", "mod a;\ninclude!(\"impl.rs\");\n").len(),
            1
        );
        assert!(
            hidden_from_rustfmt("s.rs", "include!(concat!(env!(\"OUT_DIR\"), \"/x\"));\n")
                .is_empty()
        );
    }

    #[test]
    fn use_trees_expand() {
        assert_eq!(
            expand_use("crate::{a::X, b::{c::Y, Z as W}}"),
            ["crate::a::X", "crate::b::c::Y", "crate::b::Z"]
        );
        assert_eq!(
            expand_use("super::reply::message"),
            ["super::reply::message"]
        );
    }

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn an_import_circle_between_modules_is_caught() {
        let circle = files(&[
            ("lib.rs", "//! x\nmod admit;\nmod chat;\nmod llm;\n"),
            ("admit.rs", "use crate::chat::Acks;\n"),
            (
                "chat.rs",
                "use crate::llm::model;\nfn f() { crate::admit::go() }\n",
            ),
            ("llm.rs", "use crate::{admit::Queue, x::Y};\n"),
        ]);
        let found = import_cycles("app", &circle);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].message.contains("admit, chat, llm"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_child_using_its_parent_is_no_circle_but_siblings_through_super_are() {
        let tree = files(&[
            (
                "chat/mod.rs",
                "//! x\nmod admit;\nmod worker;\nstruct Chat { a: admit::Admissions }\n",
            ),
            ("chat/admit.rs", "use super::reply::message;\n"),
            ("chat/worker.rs", "use super::{Chat, progress::show};\n"),
            ("chat/progress.rs", "use super::super::acks::Acks;\n"),
            ("chat/reply.rs", "//! leaf\n"),
            ("acks.rs", "//! leaf\n"),
        ]);
        assert_eq!(import_cycles("app", &tree), []);
        let siblings = files(&[
            ("chat/mod.rs", "//! x\n"),
            ("chat/admit.rs", "use super::worker::Claim;\n"),
            ("chat/worker.rs", "fn f() { super::admit::admit() }\n"),
        ]);
        assert_eq!(import_cycles("app", &siblings).len(), 1);
    }

    #[test]
    fn doc_links_are_not_imports() {
        let tree = files(&[
            ("a.rs", "use crate::b::X;\n"),
            ("b.rs", "/// Used by [`crate::a::f`].\npub struct X;\n"),
        ]);
        assert_eq!(import_cycles("x", &tree), []);
    }

    #[test]
    fn test_modules_do_not_make_circles() {
        let tree = files(&[
            ("a.rs", "use crate::b::X;\n"),
            (
                "b.rs",
                "fn f() {}\n\n#[cfg(test)]\nmod tests {\n    use crate::a::Y;\n}\n",
            ),
        ]);
        assert_eq!(import_cycles("x", &tree), []);
    }
}
