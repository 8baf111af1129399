//! The import graph between one crate's modules, and its cycles (ARCHITECTURE.md,
//! "Invariant: layers point one way"). Pure: source texts in, graph and cycles out; tidy
//! reads the files.
//!
//! Granularity: a module is a file. `a/b.rs` and `a/b/mod.rs` are both the module `a::b`;
//! `lib.rs` and `main.rs` are the crate root, named `crate`. A file imports another when
//! its code names a path into it:
//!
//! - `use` trees (`use crate::a::{b, c::D};`, `pub use` included), whose paths start with
//!   `crate`, `super`, `self` or the name of one of the file's own child modules;
//! - paths in code that start with `crate::`, `super::` or `self::`, and paths that start
//!   with the name of a child module the file declares (`mod x;`).
//!
//! A path names the deepest module that exists along it: `crate::a::b::Item` is the module
//! `a::b` when there is such a file, else `a`. `crate::Item` (an item of the root) is
//! followed through the root's own `use` declarations (`pub use error::Error;` makes
//! `crate::Error` an import of `error`), and is the root otherwise.
//!
//! Not imports: `mod x;` declarations (a parent declaring a child is not a dependency of
//! either on the other), comments (intra-doc links included: rustdoc resolves them, the
//! compiler does not), string and character literals, and test code: a `#[cfg(test)]`
//! module (`#[cfg(test)] mod tests { ... }` or a `#[cfg(test)] mod x;` file) may import
//! anything, since no production code depends on it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The root module's name in the graph and in reported chains.
pub const ROOT: &str = "crate";

/// Which module imports which, over one crate's files.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ModuleGraph {
    /// Every module, with the modules it imports (never itself).
    pub edges: BTreeMap<String, BTreeSet<String>>,
}

/// The module a file under `src/` is: `a/b.rs` and `a/b/mod.rs` are `a::b`, `lib.rs` and
/// `main.rs` the root. `None` for anything that is not a Rust file.
pub fn module_of_file(rel_path: &str) -> Option<String> {
    let path = rel_path.replace('\\', "/");
    let stem = path.strip_suffix(".rs")?;
    let parts: Vec<&str> = stem.split('/').collect();
    let parts: &[&str] = match parts.as_slice() {
        ["lib"] | ["main"] => return Some(ROOT.to_owned()),
        [rest @ .., "mod"] => rest,
        all => all,
    };
    if parts.is_empty() || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    Some(parts.join("::"))
}

/// Builds the graph from `(path under src/, file text)` pairs. Files inside a `#[cfg(test)]`
/// module file are left out, with every module below them.
pub fn build(files: &[(String, String)]) -> ModuleGraph {
    let mut texts: BTreeMap<String, String> = BTreeMap::new();
    for (path, text) in files {
        if let Some(module) = module_of_file(path) {
            texts.insert(module, code_only(text));
        }
    }
    // Test-only module files: `#[cfg(test)] mod x;` in their parent.
    let mut test_only: BTreeSet<String> = BTreeSet::new();
    for (module, text) in &texts {
        for child in test_module_declarations(text) {
            test_only.insert(join(module, &child));
        }
    }
    texts.retain(|module, _| {
        !test_only
            .iter()
            .any(|t| module == t || module.starts_with(&format!("{t}::")))
    });
    let texts: BTreeMap<String, String> = texts
        .into_iter()
        .map(|(m, t)| (m, without_test_modules(&t)))
        .collect();
    let modules: BTreeSet<String> = texts.keys().cloned().collect();
    let root_uses = texts
        .get(ROOT)
        .map(|t| root_reexports(t, &modules))
        .unwrap_or_default();

    let mut graph = ModuleGraph::default();
    for (module, text) in &texts {
        let children: BTreeSet<String> = modules
            .iter()
            .filter_map(|m| child_name(module, m))
            .collect();
        let mut targets = BTreeSet::new();
        for path in imported_paths(text, &children) {
            if let Some(target) = resolve(module, &path, &modules, &root_uses) {
                if &target != module {
                    targets.insert(target);
                }
            }
        }
        graph.edges.insert(module.clone(), targets);
    }
    graph
}

/// Every import cycle, each as a chain `a -> b -> c -> a`. Each strongly connected
/// component of the graph is reported through shortest cycles until every import inside
/// it appears in at least one chain, so the list shows every import that would have to go.
pub fn cycles(graph: &ModuleGraph) -> Vec<String> {
    let mut out = Vec::new();
    for component in strongly_connected(graph) {
        let members: BTreeSet<&String> = component.iter().collect();
        let mut uncovered: BTreeSet<(&String, &String)> = BTreeSet::new();
        for from in &component {
            for to in graph.edges.get(from).into_iter().flatten() {
                if members.contains(to) {
                    uncovered.insert((from, to));
                }
            }
        }
        while let Some(&(from, to)) = uncovered.iter().next() {
            // The shortest way back from `to` to `from`, inside the component.
            let back = shortest_path(graph, to, from, &members).unwrap_or_default();
            let mut chain: Vec<&String> = vec![from];
            chain.extend(back.iter());
            for pair in chain.windows(2) {
                uncovered.remove(&(pair[0], pair[1]));
            }
            out.push(
                chain
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" -> "),
            );
        }
    }
    out
}

/// `module`'s child named `name`, as a full module name.
fn join(module: &str, name: &str) -> String {
    if module == ROOT {
        name.to_owned()
    } else {
        format!("{module}::{name}")
    }
}

/// `m`'s last segment when `m` is a direct child of `parent`.
fn child_name(parent: &str, m: &str) -> Option<String> {
    let rest = if parent == ROOT {
        m
    } else {
        m.strip_prefix(parent)?.strip_prefix("::")?
    };
    (!rest.is_empty() && !rest.contains("::") && m != ROOT).then(|| rest.to_owned())
}

/// The text with comments and string/char literals blanked out (newlines kept), so that
/// neither doc links nor messages count as imports.
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                blank(&mut out, b[i]);
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !b
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
            && raw_string_end(&b, i).is_some()
        {
            let end = raw_string_end(&b, i).unwrap_or(b.len());
            while i < end {
                blank(&mut out, b[i]);
                i += 1;
            }
        } else if c == '"' {
            blank(&mut out, c);
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    blank(&mut out, b[i]);
                    i += 1;
                }
                if i < b.len() {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
            if i < b.len() {
                blank(&mut out, b[i]);
                i += 1;
            }
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a): only the first ends
            // with a quote within a few characters.
            let close = if next == Some('\\') {
                (i + 2..b.len().min(i + 12)).find(|&j| b[j] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(end) => {
                    while i <= end {
                        blank(&mut out, b[i]);
                        i += 1;
                    }
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Where the raw string starting at `start` (`r"`, `r#"`, ...) ends, exclusive.
fn raw_string_end(b: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    let mut hashes = 0;
    while b.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    if b.get(i) != Some(&'"') {
        return None;
    }
    i += 1;
    while i < b.len() {
        if b[i] == '"' && (1..=hashes).all(|k| b.get(i + k) == Some(&'#')) {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
    Some(b.len())
}

/// Words and `::`/punctuation, in order, with each token's byte offset.
fn tokens(code: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_alphanumeric() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push((start, &code[start..i]));
        } else if c == b':' && bytes.get(i + 1) == Some(&b':') {
            out.push((i, "::"));
            i += 2;
        } else if c.is_ascii_whitespace() || !c.is_ascii() {
            i += 1;
        } else {
            out.push((i, &code[i..i + 1]));
            i += 1;
        }
    }
    out
}

/// Names of `#[cfg(test)] mod x;` declarations (test module files).
fn test_module_declarations(code: &str) -> Vec<String> {
    let toks = tokens(code);
    let mut out = Vec::new();
    for start in cfg_test_attributes(&toks) {
        if let [(_, "mod"), (_, name), (_, ";"), ..] = toks.get(start..).unwrap_or_default() {
            out.push((*name).to_owned());
        }
    }
    out
}

/// Token indices just after each `#[cfg(test)]` attribute (and any attributes after it).
fn cfg_test_attributes(toks: &[(usize, &str)]) -> Vec<usize> {
    let mut out = Vec::new();
    for i in 0..toks.len() {
        let words: Vec<&str> = toks[i..toks.len().min(i + 7)].iter().map(|t| t.1).collect();
        if words == ["#", "[", "cfg", "(", "test", ")", "]"] {
            let mut j = i + 7;
            // Skip further attributes (`#[allow(...)]`) and `pub`.
            loop {
                match toks.get(j).map(|t| t.1) {
                    Some("#") if toks.get(j + 1).map(|t| t.1) == Some("[") => {
                        j = matching(toks, j + 1).map_or(toks.len(), |e| e + 1);
                    }
                    Some("pub") if toks.get(j + 1).map(|t| t.1) == Some("(") => {
                        j = matching(toks, j + 1).map_or(toks.len(), |e| e + 1);
                    }
                    Some("pub") => j += 1,
                    _ => break,
                }
            }
            out.push(j);
        }
    }
    out
}

/// The index of the bracket closing the one at `open`.
fn matching(toks: &[(usize, &str)], open: usize) -> Option<usize> {
    let (o, c) = match toks.get(open)?.1 {
        "[" => ("[", "]"),
        "{" => ("{", "}"),
        "(" => ("(", ")"),
        _ => return None,
    };
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        if t.1 == o {
            depth += 1;
        } else if t.1 == c {
            depth -= 1;
            if depth == 0 {
                return Some(k);
            }
        }
    }
    None
}

/// The code with every `#[cfg(test)] mod name { ... }` block blanked out.
fn without_test_modules(code: &str) -> String {
    let toks = tokens(code);
    let mut cut: Vec<(usize, usize)> = Vec::new();
    for start in cfg_test_attributes(&toks) {
        if let [(_, "mod"), (_, _), (_, "{"), ..] = toks.get(start..).unwrap_or_default() {
            if let Some(close) = matching(&toks, start + 2) {
                cut.push((toks[start].0, toks[close].0 + 1));
            }
        }
    }
    let mut out = code.to_owned();
    for (from, to) in cut.into_iter().rev() {
        let blanked: String = code[from..to]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        out.replace_range(from..to, &blanked);
    }
    out
}

/// Every path the code names that may lead into the crate: use trees expanded, and
/// `crate::`/`super::`/`self::`/child-module paths in code. Each path is its segments.
fn imported_paths(code: &str, children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let toks = tokens(code);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let word = toks[i].1;
        let after_path_sep = i > 0 && toks[i - 1].1 == "::";
        if word == "use" && !after_path_sep {
            let end = (i..toks.len())
                .find(|&k| toks[k].1 == ";")
                .unwrap_or(toks.len());
            let tree: Vec<&str> = toks[i + 1..end].iter().map(|t| t.1).collect();
            let mut paths = Vec::new();
            expand_use_tree(&tree, &[], &mut paths);
            out.extend(paths.into_iter().filter(|p| starts_in_crate(p, children)));
            i = end + 1;
            continue;
        }
        let starts_path = !after_path_sep
            && toks.get(i + 1).map(|t| t.1) == Some("::")
            && (matches!(word, "crate" | "super" | "self") || children.contains(word));
        if starts_path {
            let mut path = vec![word.to_owned()];
            let mut k = i + 1;
            while toks.get(k).map(|t| t.1) == Some("::") {
                match toks.get(k + 1) {
                    Some((_, w)) if is_ident(w) => {
                        path.push((*w).to_owned());
                        k += 2;
                    }
                    _ => break,
                }
            }
            out.push(path);
            i = k;
            continue;
        }
        i += 1;
    }
    out
}

fn is_ident(w: &str) -> bool {
    w.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
}

fn starts_in_crate(path: &[String], children: &BTreeSet<String>) -> bool {
    path.first().is_some_and(|first| {
        matches!(first.as_str(), "crate" | "super" | "self") || children.contains(first)
    })
}

/// Expands a use tree (`a::{b, c::{d, e as f}, *}`) into full paths.
fn expand_use_tree(tree: &[&str], prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    let mut i = 0;
    // Leading `::` (absolute path to an external crate): not ours.
    if tree.first() == Some(&"::") {
        return;
    }
    while i < tree.len() {
        match tree[i] {
            "{" => {
                let mut depth = 0;
                let mut item_start = i + 1;
                for k in i..tree.len() {
                    match tree[k] {
                        "{" => depth += 1,
                        "}" => {
                            depth -= 1;
                            if depth == 0 {
                                expand_use_tree(&tree[item_start..k], &path, out);
                                return;
                            }
                        }
                        "," if depth == 1 => {
                            expand_use_tree(&tree[item_start..k], &path, out);
                            item_start = k + 1;
                        }
                        _ => {}
                    }
                }
                return;
            }
            "::" => i += 1,
            "as" => break,
            "*" => break,
            w if is_ident(w) => {
                path.push(w.to_owned());
                i += 1;
            }
            _ => break,
        }
    }
    if !path.is_empty() && path.len() > prefix.len() || tree.contains(&"*") {
        out.push(path);
    }
}

/// The root's `use` declarations that name an item of a module: item name -> module.
fn root_reexports(code: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let children: BTreeSet<String> = modules.iter().filter_map(|m| child_name(ROOT, m)).collect();
    let mut out = BTreeMap::new();
    let toks = tokens(code);
    let mut i = 0;
    while i < toks.len() {
        if toks[i].1 == "use" {
            let end = (i..toks.len())
                .find(|&k| toks[k].1 == ";")
                .unwrap_or(toks.len());
            let tree: Vec<&str> = toks[i + 1..end].iter().map(|t| t.1).collect();
            let mut paths = Vec::new();
            expand_use_tree(&tree, &[], &mut paths);
            for path in paths {
                if !starts_in_crate(&path, &children) {
                    continue;
                }
                let name = path.last().cloned().unwrap_or_default();
                let module = resolve(ROOT, &path, modules, &BTreeMap::new());
                if let Some(module) = module.filter(|m| m != ROOT) {
                    out.insert(name, module);
                }
            }
            i = end;
        }
        i += 1;
    }
    out
}

/// The module a path from `module` names: the deepest existing module along it.
fn resolve(
    module: &str,
    path: &[String],
    modules: &BTreeSet<String>,
    root_uses: &BTreeMap<String, String>,
) -> Option<String> {
    let mut base: Vec<String> = if module == ROOT {
        Vec::new()
    } else {
        module.split("::").map(str::to_owned).collect()
    };
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        Some("self") => rest = &rest[1..],
        Some(_) => {}
        None => return None,
    }
    let mut found = if base.is_empty() {
        ROOT.to_owned()
    } else {
        base.join("::")
    };
    let mut current = base;
    for seg in rest {
        current.push(seg.clone());
        let name = current.join("::");
        if modules.contains(&name) {
            found = name;
        } else {
            break;
        }
    }
    if found == ROOT {
        if let Some(target) = rest.first().and_then(|item| root_uses.get(item)) {
            return Some(target.clone());
        }
    }
    Some(found)
}

/// The strongly connected components with more than one module (Tarjan's algorithm),
/// each sorted, in order of their first module.
fn strongly_connected(graph: &ModuleGraph) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g ModuleGraph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for w in graph.edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(lw));
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low[v];
                s.low.insert(v, lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.edges.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}

/// The shortest import path `from -> ... -> to` inside `within`, both ends included.
fn shortest_path<'g>(
    graph: &'g ModuleGraph,
    from: &'g String,
    to: &'g String,
    within: &BTreeSet<&String>,
) -> Option<Vec<&'g String>> {
    let mut previous: BTreeMap<&String, &String> = BTreeMap::new();
    let mut queue = VecDeque::from([from]);
    let mut seen = BTreeSet::from([from]);
    while let Some(v) = queue.pop_front() {
        if v == to {
            let mut path = vec![v];
            let mut at = v;
            while let Some(p) = previous.get(at) {
                path.push(p);
                at = p;
            }
            path.reverse();
            return Some(path);
        }
        for w in graph.edges.get(v).into_iter().flatten() {
            if within.contains(w) && seen.insert(w) {
                previous.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
            .collect()
    }

    fn edges(graph: &ModuleGraph, module: &str) -> Vec<String> {
        graph.edges[module].iter().cloned().collect()
    }

    #[test]
    fn files_are_modules() {
        assert_eq!(module_of_file("lib.rs").as_deref(), Some("crate"));
        assert_eq!(module_of_file("main.rs").as_deref(), Some("crate"));
        assert_eq!(module_of_file("error.rs").as_deref(), Some("error"));
        assert_eq!(module_of_file("a/b.rs").as_deref(), Some("a::b"));
        assert_eq!(module_of_file("a/b/mod.rs").as_deref(), Some("a::b"));
        assert_eq!(module_of_file("a/mod.rs").as_deref(), Some("a"));
        assert_eq!(module_of_file("README.md"), None);
    }

    #[test]
    fn use_trees_and_paths_name_the_deepest_existing_module() {
        let g = build(&files(&[
            ("lib.rs", "pub mod a; pub mod b; pub mod c;"),
            (
                "a.rs",
                "use crate::b::{Item, other::{X, Y as Z}};\nuse std::fmt;",
            ),
            ("b/mod.rs", "pub mod other; fn f() { crate::c::helper(); }"),
            ("b/other.rs", "use super::super::c;"),
            ("c.rs", "fn g() -> crate::b::other::Thing { todo() }"),
        ]));
        assert_eq!(edges(&g, "a"), ["b", "b::other"]);
        assert_eq!(edges(&g, "b"), ["c"]);
        assert_eq!(edges(&g, "b::other"), ["c"]);
        assert_eq!(edges(&g, "c"), ["b::other"]);
        assert_eq!(cycles(&g), ["b::other -> c -> b::other"]);
    }

    #[test]
    fn super_self_and_child_paths_resolve_relative_to_the_file() {
        let g = build(&files(&[
            ("lib.rs", "pub mod k;"),
            (
                "k/mod.rs",
                "mod linux;\npub use linux::Linux;\nfn f() { self::linux::g(); }",
            ),
            ("k/linux.rs", "use super::Trait;"),
        ]));
        assert_eq!(edges(&g, "k"), ["k::linux"]);
        assert_eq!(edges(&g, "k::linux"), ["k"]);
        assert_eq!(cycles(&g), ["k -> k::linux -> k"]);
    }

    #[test]
    fn root_items_are_followed_through_the_roots_uses() {
        let g = build(&files(&[
            (
                "lib.rs",
                "pub mod error; pub mod a;\npub use error::{Error, Result};",
            ),
            ("error.rs", "pub enum Error {}"),
            ("a.rs", "use crate::Result; fn f() -> crate::Error {}"),
        ]));
        assert_eq!(edges(&g, "a"), ["error"]);
        assert_eq!(edges(&g, "crate"), ["error"]);
        assert!(cycles(&g).is_empty());
    }

    #[test]
    fn comments_strings_and_test_modules_are_not_imports() {
        let g = build(&files(&[
            ("lib.rs", "pub mod a; pub mod b; pub mod t;"),
            (
                "a.rs",
                "//! See [`crate::b`].\n/* crate::b::X */\nconst S: &str = \"crate::b::X\";\n\
                 const R: &str = r#\"crate::b\"#; const C: char = '\"';\n\
                 fn f<'a>(x: &'a u8) {}\n\
                 #[cfg(test)]\npub(crate) mod tests {\n    use crate::b::X;\n    fn g() { crate::b::y(); }\n}\n",
            ),
            ("b.rs", "use crate::a::f;\n#[cfg(test)]\nmod t;"),
            ("b/t.rs", "use crate::a::f;"),
        ]));
        assert!(edges(&g, "a").is_empty(), "{:?}", g.edges["a"]);
        assert!(!g.edges.contains_key("b::t"));
        assert!(cycles(&g).is_empty());
    }

    #[test]
    fn every_import_in_a_cycle_appears_in_a_chain() {
        // error -> kexec -> plan -> error, and plan -> kexec too.
        let g = build(&files(&[
            (
                "lib.rs",
                "pub mod error; pub mod kexec; pub mod plan; pub mod leaf;",
            ),
            ("error.rs", "use crate::kexec::meaning; use crate::leaf::X;"),
            ("kexec.rs", "use crate::plan::Plan;"),
            (
                "plan.rs",
                "use crate::error::Error; use crate::kexec::Kexec;",
            ),
            ("leaf.rs", ""),
        ]));
        assert_eq!(
            cycles(&g),
            ["error -> kexec -> plan -> error", "plan -> kexec -> plan"]
        );
    }

    #[test]
    fn an_acyclic_graph_has_no_cycles() {
        let g = build(&files(&[
            ("main.rs", "mod a; mod b; fn main() { a::run(); b::run(); }"),
            ("a.rs", "use crate::b::helper;"),
            ("b.rs", "pub fn helper() {}"),
        ]));
        assert_eq!(edges(&g, "crate"), ["a", "b"]);
        assert!(cycles(&g).is_empty());
    }
}
