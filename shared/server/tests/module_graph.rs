//! No import circles inside the control plane's crates: within each of `everruns-services`,
//! `everruns-http`, `everruns-grpc` and `everruns-server`, the top-level modules' `crate::…`
//! references form no cycle (between crates Cargo already forbids one). A module that needs a
//! sibling which needs it back fails here, naming the circle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: [&str; 4] = ["shared/services", "shared/http", "shared/grpc", "shared/server"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The identifiers that follow `prefix` in `text` (`crate::sse::Frame` → `sse`).
fn references<'a>(text: &'a str, prefix: &str) -> impl Iterator<Item = &'a str> {
    text.match_indices(prefix).map(move |(at, _)| {
        let rest = &text[at + prefix.len()..];
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        &rest[..end]
    })
}

/// Top-level module → the top-level modules it references (unit tests left out).
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let mut parts: Vec<String> =
            relative.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned()).collect();
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
            parts.pop();
        }
        let module = parts.first().cloned().unwrap_or_else(|| "lib".to_owned());
        if module == "lib" || parts.last().is_some_and(|p| p == "tests") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let text = text.split("#[cfg(test)]\nmod tests {").next().unwrap_or_default();
        let mut targets: BTreeSet<String> = references(text, "crate::").map(str::to_owned).collect();
        if parts.len() == 1 {
            targets.extend(references(text, "super::").map(str::to_owned));
        }
        targets.remove(&module);
        targets.retain(|t| !t.is_empty());
        graph.entry(module).or_default().extend(targets);
    }
    graph
}

/// A cycle through `start`, if any.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        let here = path.last().cloned().unwrap();
        for next in graph.get(&here).into_iter().flatten() {
            if next == &path[0] {
                let mut found = path.clone();
                found.push(next.clone());
                return Some(found);
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if let Some(found) = walk(graph, path, seen) {
                    return Some(found);
                }
                path.pop();
            }
        }
        None
    }
    walk(graph, &mut vec![start.to_owned()], &mut BTreeSet::new())
}

#[test]
fn the_control_plane_crates_have_no_import_circle() {
    for krate in CRATES {
        let graph = graph(&root().join(krate).join("src"));
        assert!(graph.len() > 2, "{krate}: modules were read: {graph:?}");
        for module in graph.keys() {
            if let Some(found) = cycle(&graph, module) {
                panic!("{krate}: import circle {}", found.join(" → "));
            }
        }
    }
}

#[test]
fn a_circle_is_found() {
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(cycle(&graph, "a").map(|c| c.join(" → ")), Some("a → b → c → a".to_owned()));
}
