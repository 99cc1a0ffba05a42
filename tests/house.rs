//! The shape of the source tree, checked so that it stays the way `src/lib.rs` describes it:
//! no dependency cycle among the top-level modules, the gateway layer knows no command, and no
//! source file (test files aside) grows past 1,000 lines.
//!
//! A module's dependencies are the `crate::NAME` paths in its files, comments and test files
//! left out (tests may reach across modules; the built library never does).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "tests.rs" || name.ends_with("_tests.rs")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file under `src/` belongs to (`None` for lib.rs and main.rs).
fn module_of(path: &Path) -> Option<String> {
    let relative = path.strip_prefix(SRC).unwrap();
    let first = relative
        .components()
        .next()?
        .as_os_str()
        .to_str()?
        .to_string();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// `crate::NAME` paths outside comments.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
            rest = after;
        }
    }
    found
}

fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in files.iter().filter(|p| !is_test_file(p)) {
        let Some(module) = module_of(path) else {
            continue;
        };
        let deps = crate_paths(&std::fs::read_to_string(path).unwrap());
        let entry = graph.entry(module.clone()).or_default();
        entry.extend(deps.into_iter().filter(|dep| *dep != module));
    }
    let known: BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|dep| known.contains(dep));
    }
    graph
}

/// A cycle through `start`, as a path, when there is one.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((node, path)) = stack.pop() {
        for dep in graph.get(&node).into_iter().flatten() {
            if dep == start {
                let mut cycle = path.clone();
                cycle.push(dep.clone());
                return Some(cycle);
            }
            if seen.insert(dep.clone()) {
                let mut next = path.clone();
                next.push(dep.clone());
                stack.push((dep.clone(), next));
            }
        }
    }
    None
}

#[test]
fn the_top_level_modules_have_no_dependency_cycle() {
    let graph = module_graph();
    assert!(graph.len() > 10, "the module graph was not read: {graph:?}");
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|module| cycle_from(&graph, module))
        .map(|cycle| cycle.join(" -> "))
        .collect();
    assert!(cycles.is_empty(), "dependency cycles: {cycles:#?}");
}

#[test]
fn the_gateway_knows_no_command_and_the_leaves_know_no_application() {
    let graph = module_graph();
    let application = ["commands", "run", "cli", "settings", "service"];
    for (module, forbidden) in [
        ("gateway", &["commands", "run", "cli", "settings"][..]),
        ("invoke", &application[..]),
        ("exec", &application[..]),
        ("cancel", &application[..]),
        ("approvals", &application[..]),
        ("browser", &application[..]),
        ("files", &application[..]),
    ] {
        let deps = &graph[module];
        for name in forbidden {
            assert!(
                !deps.contains(*name),
                "{module} depends on {name}: {deps:?}"
            );
        }
    }
}

#[test]
fn no_source_file_is_over_1000_lines() {
    let mut files = Vec::new();
    rust_files(Path::new(SRC), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter(|path| !is_test_file(path))
        .filter_map(|path| {
            let lines = std::fs::read_to_string(path).unwrap().lines().count();
            (lines > 1000).then(|| format!("{} ({lines} lines)", path.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by concern: {long:#?}");
}
