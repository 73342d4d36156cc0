//! The shape of the code, as the compiler does not check it: which source file uses which.
//!
//! An edge goes from a file to every module file it names through `crate::` or `super::` (in
//! `use` lines, brace groups included, or inline), outside comments and its `#[cfg(test)]` part.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

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

/// `src/a/b.rs` and `src/a/b/mod.rs` are module `a::b`; `src/lib.rs` is the crate root.
fn module_of(file: &str) -> Vec<String> {
    let mut parts: Vec<String> =
        file.trim_start_matches("src/").trim_end_matches(".rs").split('/').map(String::from).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// `a::{b, c::{d, e}}` as `a::b`, `a::c::d`, `a::c::e`.
fn expand(path: &str) -> Vec<String> {
    let Some(open) = path.find('{') else { return vec![path.to_owned()] };
    let mut depth = 0;
    let mut close = open;
    for (i, c) in path.char_indices().skip(open) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = i;
                    break;
                }
            }
            _ => {}
        }
    }
    let (prefix, inner, suffix) = (&path[..open], &path[open + 1..close], &path[close + 1..]);
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
    items.into_iter().filter(|i| !i.is_empty()).flat_map(|i| expand(&format!("{prefix}{i}{suffix}"))).collect()
}

/// The code a reader of the running service depends on: no comments, no unit tests.
fn production_code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// Every path after `crate::` or `super::`, with `use` groups expanded, relative to the crate.
fn named_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let parent = &module[..module.len().saturating_sub(1)];
    let mut found = Vec::new();
    let mut add = |path: &str| {
        let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
        for path in expand(&path) {
            let path = path.split(" as ").next().unwrap_or_default();
            let mut parts: Vec<String> = path.split("::").map(String::from).collect();
            match parts.first().map(String::as_str) {
                Some("crate") => {
                    parts.remove(0);
                }
                Some("super") => {
                    parts.splice(0..1, parent.iter().cloned());
                }
                Some("self") => {
                    parts.splice(0..1, module.iter().cloned());
                }
                _ => continue,
            }
            found.push(parts);
        }
    };
    for statement in code.split(';') {
        if let Some(at) = statement.find("use ") {
            let path = statement[at + 4..].trim();
            if path.starts_with("crate::") || path.starts_with("super::") || path.starts_with("self::") {
                add(path);
            }
        }
    }
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        for (at, _) in code.match_indices(start) {
            let before = at.checked_sub(1).map(|i| bytes[i] as char);
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            add(code[at..end].trim_end_matches(':'));
        }
    }
    found
}

fn graph() -> Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let names: Vec<String> =
        files.iter().map(|f| f.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/")).collect();
    let by_module: BTreeMap<Vec<String>, String> = names.iter().map(|n| (module_of(n), n.clone())).collect();
    let mut graph = Graph::new();
    for (file, name) in files.iter().zip(&names) {
        let module = module_of(name);
        let code = production_code(&std::fs::read_to_string(file).unwrap());
        let edges = graph.entry(name.clone()).or_default();
        for path in named_paths(&code, &module) {
            // The longest prefix that is a module file: `crate::a::b::Item` is in `a/b.rs`.
            let target = (1..=path.len()).rev().find_map(|n| by_module.get(&path[..n]));
            if let Some(target) = target.filter(|t| *t != name) {
                edges.insert(target.clone());
            }
        }
    }
    graph
}

fn reachable(graph: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(file) = stack.pop() {
        for next in graph.get(&file).into_iter().flatten() {
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    seen
}

/// A path of files from `from` to `to`, for the failure message.
fn path_between(graph: &Graph, from: &str, to: &str) -> Vec<String> {
    let mut came_from: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([from.to_owned()]);
    while let Some(file) = queue.pop_front() {
        for next in graph.get(&file).into_iter().flatten() {
            if !came_from.contains_key(next) {
                came_from.insert(next.clone(), file.clone());
                if next == to {
                    let mut path = vec![to.to_owned()];
                    while let Some(prev) = came_from.get(path.last().unwrap()).filter(|p| *p != from) {
                        path.push(prev.clone());
                    }
                    path.push(from.to_owned());
                    path.reverse();
                    return path;
                }
                queue.push_back(next.clone());
            }
        }
    }
    Vec::new()
}

#[test]
fn the_ticket_use_cases_are_in_no_import_cycle() {
    let graph = graph();
    let store = "src/tickets/store.rs";
    assert!(graph[store].len() > 5, "the graph reads the imports: {:?}", graph[store]);
    let below = reachable(&graph, store);
    assert!(
        !below.contains(store),
        "tickets/store.rs depends on itself: {}",
        path_between(&graph, store, store).join(" → ")
    );
    // What reacts to ticket changes is registered, not imported.
    let reactions = ["src/routing/rules.rs", "src/routing/assign.rs", "src/departments/sla.rs", "src/quality/csat.rs"];
    for reaction in reactions.into_iter().chain(["src/channels/email/outbox.rs"]) {
        assert!(!below.contains(reaction), "tickets/store.rs depends on {reaction}");
    }
}

#[test]
fn the_import_reader_sees_groups_and_relative_paths() {
    let module = vec!["tickets".to_owned(), "store".to_owned()];
    let code = "use super::model::*;\nuse crate::db::{backend, models::{EventRow, NewEvent}};\nfn f() { crate::sla::engine::refresh(); }";
    let paths: Vec<String> = named_paths(code, &module).iter().map(|p| p.join("::")).collect();
    for expected in
        ["tickets::model::*", "db::backend", "db::models::EventRow", "db::models::NewEvent", "sla::engine::refresh"]
    {
        assert!(paths.contains(&expected.to_owned()), "{expected} not in {paths:?}");
    }
    assert_eq!(production_code("a // crate::x\n#[cfg(test)]\nmod tests { crate::y }"), "a ");
}

#[test]
fn only_the_http_layer_knows_http() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let graph = graph();
    // The composition root wires the layers together; it alone may name both.
    let composition = ["src/startup.rs", "src/main.rs", "src/lib.rs"];
    let below = graph.keys().filter(|f| !f.starts_with("src/http/") && !composition.contains(&f.as_str()));
    for file in below {
        let code = production_code(&std::fs::read_to_string(root.join(file)).unwrap());
        assert!(!code.contains("actix"), "{file} uses actix: HTTP belongs in src/http/");
        let up: Vec<&String> = graph[file].iter().filter(|t| t.starts_with("src/http/")).collect();
        assert!(up.is_empty(), "{file} depends on the HTTP layer: {up:?}");
    }
    assert!(graph.keys().any(|f| f.starts_with("src/http/api/")), "the graph holds the HTTP layer");
}
