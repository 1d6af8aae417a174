//! The module map holds: no import cycle between the top-level modules under `src/`.
//!
//! Dependencies point one way (see docs/architecture.md): the composition root
//! (`app`, `cli`, `web`) uses the domains, a domain uses the modules below it, and
//! nothing below imports what is above it. This test reads every `src/**/*.rs`, collects
//! each file's `crate::<module>` paths (in `use` lines and inline, `use crate::{a, b}`
//! groups and `super::` paths that climb to the crate root included; comments and
//! strings left out), builds the graph of top-level modules and fails on any cycle,
//! printing it with the line that makes each step.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Where a module uses another: the file and line of the first such path.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Site {
    file: String,
    line: usize,
}

/// module → (module it uses → where, first seen).
type Graph = BTreeMap<String, BTreeMap<String, Site>>;

#[test]
fn no_import_cycle_between_top_level_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect_rs(&src, &mut files).expect("src/ can be read");
    assert!(files.len() > 20, "src/ holds only {} files", files.len());
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|path| {
            let rel = path
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(path).expect("source is UTF-8");
            (rel, text)
        })
        .collect();
    let graph = graph_of(&sources);
    assert!(
        graph.len() > 10,
        "only {} top-level modules found: the scan is broken",
        graph.len()
    );
    let cycles = cycles_of(&graph);
    assert!(
        cycles.is_empty(),
        "import cycles between top-level modules under src/ (a lower module must not \
         import a higher one; pass what it needs instead):\n{}",
        cycles.join("\n")
    );
}

/// The check fails on a cycle, names it, and passes the same files without it.
#[test]
fn the_cycle_check_can_fail() {
    let cyclic = [
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
        ("a/mod.rs", "use crate::{b::Thing, c};\n"),
        (
            "a/inner.rs",
            "// crate::c in a comment does not count\nfn f() {}\n",
        ),
        ("b.rs", "fn g() { let s = \"crate::a\"; crate::c::h(); }\n"),
        ("c/deep/x.rs", "use super::super::super::a::Top;\n"),
    ];
    let sources: Vec<(String, String)> = cyclic
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    let graph = graph_of(&sources);
    assert_eq!(
        graph["a"].keys().collect::<Vec<_>>(),
        ["b", "c"],
        "use groups are read"
    );
    assert_eq!(
        graph["b"].keys().collect::<Vec<_>>(),
        ["c"],
        "strings are not"
    );
    assert_eq!(
        graph["c"].keys().collect::<Vec<_>>(),
        ["a"],
        "super:: climbs"
    );
    let cycles = cycles_of(&graph);
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(cycles[0].contains("a -> b") || cycles[0].contains("a -> c"));
    assert!(cycles[0].contains("c/deep/x.rs:1"), "{}", cycles[0]);

    let acyclic: Vec<(String, String)> = sources
        .into_iter()
        .filter(|(p, _)| p != "c/deep/x.rs")
        .collect();
    assert!(cycles_of(&graph_of(&acyclic)).is_empty());
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_rs(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    Ok(())
}

/// The module path of a file relative to src/: `a/b/mod.rs` → [a, b], `a/c.rs` → [a, c];
/// the crate root (lib.rs, main.rs) is [].
fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if !(parts.is_empty() && (stem == "lib" || stem == "main")) && stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

fn graph_of(sources: &[(String, String)]) -> Graph {
    let modules: BTreeSet<String> = sources
        .iter()
        .filter_map(|(rel, _)| module_path(rel).first().cloned())
        .collect();
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeMap::new()))
        .collect();
    for (rel, text) in sources {
        let path = module_path(rel);
        let Some(own) = path.first() else { continue };
        let code = strip_comments_and_strings(text);
        for (target, line) in crate_paths(&code, &path) {
            if &target != own && modules.contains(&target) {
                graph
                    .get_mut(own)
                    .expect("own module")
                    .entry(target)
                    .or_insert(Site {
                        file: rel.clone(),
                        line,
                    });
            }
        }
    }
    graph
}

/// Blanks out comments, string and char literals (keeping line breaks), so only code
/// is scanned.
fn strip_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                    continue;
                }
                if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                    continue;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && raw_string_at(&chars, i) {
            // r"..." or r#"..."#
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            j += 1; // the opening quote
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some(&ch) => out.push(blank(ch)),
                }
                j += 1;
            }
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if let Some(&ch) = chars.get(i) {
                    out.push(blank(ch));
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' && char_literal_len(&chars, i).is_some() {
            i += char_literal_len(&chars, i).unwrap_or(1);
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn raw_string_at(chars: &[char], i: usize) -> bool {
    let before_ok = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let mut j = i + 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    before_ok && chars.get(j) == Some(&'"')
}

/// The length of a char literal starting at `i` ('a', '\n', '\u{1F600}'), or None for
/// a lifetime ('a).
fn char_literal_len(chars: &[char], i: usize) -> Option<usize> {
    match chars.get(i + 1)? {
        '\\' => {
            let mut j = i + 2;
            while j < chars.len() && j < i + 12 {
                if chars[j] == '\'' {
                    return Some(j - i + 1);
                }
                j += 1;
            }
            None
        }
        _ => (chars.get(i + 2) == Some(&'\'')).then_some(3),
    }
}

/// The top-level modules a file's code names through `crate::` (or `super::` paths
/// that reach the crate root), with their line numbers.
fn crate_paths(code: &str, own_path: &[String]) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let line_of = |pos: usize| code[..pos].matches('\n').count() + 1;
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let at_word_start = i == 0 || !(is_ident(bytes[i - 1]) || bytes[i - 1] == b'$');
        if at_word_start && code[i..].starts_with("crate::") {
            let start = i + "crate::".len();
            for name in names_after(code, start) {
                found.push((name, line_of(i)));
            }
            i = start;
            continue;
        }
        if at_word_start && code[i..].starts_with("super::") {
            let mut depth = own_path.len();
            let mut j = i;
            while code[j..].starts_with("super::") {
                depth = depth.saturating_sub(1);
                j += "super::".len();
            }
            if depth == 0 {
                for name in names_after(code, j) {
                    found.push((name, line_of(i)));
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
    found
}

/// The first path segment at `start`: one name, or each item of a `{a, b::c}` group.
fn names_after(code: &str, start: usize) -> Vec<String> {
    let rest = &code[start..];
    let trimmed = rest.trim_start();
    if let Some(group) = trimmed.strip_prefix('{') {
        let mut depth = 1;
        let mut item = String::new();
        let mut items = Vec::new();
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ',' if depth == 1 => {
                    items.push(std::mem::take(&mut item));
                    continue;
                }
                _ => {}
            }
            if depth == 1 {
                item.push(c);
            }
        }
        items.push(item);
        items.iter().filter_map(|i| first_ident(i.trim())).collect()
    } else {
        first_ident(trimmed).into_iter().collect()
    }
}

fn first_ident(s: &str) -> Option<String> {
    let ident: String = s
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!ident.is_empty() && ident != "self").then_some(ident)
}

/// Every cycle among the modules, one per strongly connected component, written as
/// `a -> b (file:line) -> a (file:line)`.
fn cycles_of(graph: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for component in strongly_connected(graph) {
        if component.len() < 2 {
            continue;
        }
        let start = component.iter().next().expect("non-empty").clone();
        let path = cycle_through(graph, &component, &start);
        let mut text = start.clone();
        for pair in path.windows(2) {
            let site = &graph[&pair[0]][&pair[1]];
            text.push_str(&format!(
                " -> {} (src/{}:{})",
                pair[1], site.file, site.line
            ));
        }
        let inside: Vec<String> = component
            .iter()
            .flat_map(|from| {
                graph[from]
                    .iter()
                    .filter(|(to, _)| component.contains(*to))
                    .map(move |(to, site)| {
                        format!("      {from} -> {to} (src/{}:{})", site.file, site.line)
                    })
            })
            .collect();
        out.push(format!(
            "  {text}\n    every use inside this knot of {} modules:\n{}",
            component.len(),
            inside.join("\n")
        ));
    }
    out
}

/// A shortest cycle from `start` back to itself inside one component (breadth first).
fn cycle_through(graph: &Graph, component: &BTreeSet<String>, start: &str) -> Vec<String> {
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.to_string()]);
    while let Some(node) = queue.pop_front() {
        for next in graph[&node].keys().filter(|n| component.contains(*n)) {
            if next == start {
                let mut path = vec![start.to_string(), node.clone()];
                let mut at = node.clone();
                while let Some(p) = parent.get(&at) {
                    path.push(p.clone());
                    at = p.clone();
                }
                // [start, node, ..., start] read backwards is the cycle from start.
                path.reverse();
                return path;
            }
            if next != start && !parent.contains_key(next) {
                parent.insert(next.clone(), node.clone());
                queue.push_back(next.clone());
            }
        }
    }
    vec![start.to_string()]
}

/// Tarjan's strongly connected components.
fn strongly_connected(graph: &Graph) -> Vec<BTreeSet<String>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        next: usize,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph[v].keys() {
            let w = w.as_str();
            if !s.graph.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.insert(w.to_string());
                if w == v {
                    break;
                }
            }
            s.out.push(component);
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.out
}
