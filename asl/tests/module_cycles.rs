//! No crate of the workspace has a module cycle (ARCHITECTURE.md, "Invariants").
//!
//! A cycle between a crate's top-level modules (`a` uses `b`, `b` uses `a`) means neither can be
//! read, tested or moved without the other, so the layout a newcomer reads off the file names is
//! not the real one. This test reads every crate root of the workspace (`src/lib.rs`,
//! `src/main.rs`, `src/bin/*.rs`), follows its `mod` declarations to the module files, collects
//! the references between top-level modules (`crate::x`, `use crate::{x, y}`, `super::x` that
//! climbs out of a module) and fails on a cycle, naming its modules and where each edge is.
//!
//! It lives in the ASL crate only because that crate builds fast; it reads source text and needs
//! nothing from the crate itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Who uses whom among one crate root's top-level modules: `from -> to -> where`, the first
/// reference found (file and line), kept to name the edge in a failure.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

#[test]
fn no_crate_in_the_workspace_has_a_module_cycle() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let members = workspace_members(&workspace);
    assert!(
        members.len() >= 2,
        "found only {members:?} as workspace members in Cargo.toml; the reader is broken"
    );
    let mut problems = Vec::new();
    let mut edges = 0;
    for member in &members {
        let roots = crate_roots(&workspace.join(member).join("src"));
        if roots.is_empty() {
            problems.push(format!(
                "{member}: no src/lib.rs, src/main.rs or src/bin/*.rs"
            ));
        }
        for root in roots {
            let name = format!("{member}/{}", relative(&workspace.join(member), &root));
            match module_graph(&root) {
                Ok(graph) => {
                    edges += graph.values().map(BTreeMap::len).sum::<usize>();
                    if let Some(cycle) = find_cycle(&graph) {
                        problems.push(format!("{name}: {}", describe(&cycle, &graph)));
                    }
                }
                Err(e) => problems.push(format!("{name}: {e}")),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // A reader that found no reference at all would pass any layout.
    assert!(edges > 0, "no reference between modules found anywhere");
}

#[test]
fn a_cycle_is_found_and_named_module_by_module() {
    let graph = graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("e", "a")]);
    assert_eq!(find_cycle(&graph), Some(names(&["a", "b", "c", "a"])));
    assert_eq!(
        describe(&names(&["a", "b", "c", "a"]), &graph),
        "module cycle a -> b -> c -> a (a uses b at a.rs:1; b uses c at b.rs:1; c uses a at c.rs:1)"
    );
}

#[test]
fn a_module_using_itself_through_a_longer_path_is_a_cycle() {
    let graph = graph(&[("x", "y"), ("y", "z"), ("z", "y")]);
    assert_eq!(find_cycle(&graph), Some(names(&["y", "z", "y"])));
}

#[test]
fn layered_modules_sharing_a_lower_module_have_no_cycle() {
    // a diamond: two modules above one shared module, one module above both
    let graph = graph(&[
        ("top", "left"),
        ("top", "right"),
        ("left", "base"),
        ("right", "base"),
    ]);
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn references_are_read_from_crate_paths_use_groups_and_super() {
    let known = set(&["a", "b", "c", "d", "e", "f", "g"]);
    // read as the file of module a::inner::deeper
    let source = r#"
        use crate::b::Thing;
        use crate::{c, d::Other};
        use super::super::super::e;   // climbs out of a to the crate root
        use super::super::g;          // a::g, inside a
        fn f() { crate::f::call(); }
        // crate::g::in_a_comment
        const S: &str = "crate::g::in_a_string";
        mod tests { use super::*; }   // a::inner::deeper itself
    "#;
    let found = references(source, &names(&["a", "inner", "deeper"]), &known);
    assert_eq!(
        found,
        [
            edge("a", "b", 2),
            edge("a", "c", 3),
            edge("a", "d", 3),
            edge("a", "e", 4),
            edge("a", "f", 6)
        ]
    );
}

#[test]
fn super_inside_an_inline_module_refers_to_the_enclosing_module() {
    let known = set(&["a", "b"]);
    // `super::b` from inline module `a::tests` is `a::b`, a submodule of a, not module b
    assert_eq!(
        references("mod tests { use super::b; }", &names(&["a"]), &known),
        []
    );
    // outside the inline module, `super::b` from top-level module `a` is the crate's `b`
    assert_eq!(
        references("mod tests {}\nuse super::b;", &names(&["a"]), &known),
        [edge("a", "b", 2)]
    );
}

#[test]
fn a_crate_roots_inline_module_is_a_module_of_its_own() {
    let known = set(&["a", "tests"]);
    let source = "use crate::a;\n#[cfg(test)]\nmod tests {\n    use crate::a::X;\n}";
    assert_eq!(references(source, &[], &known), [edge("tests", "a", 4)]);
}

#[test]
fn lifetimes_char_literals_and_raw_strings_do_not_hide_references() {
    let known = set(&["a", "b"]);
    let source = "fn f<'x>(s: &'x str) -> char { let _ = r#\"crate::a\"#; '{' }\nuse crate::b;";
    assert_eq!(
        references(source, &names(&["c"]), &known),
        [edge("c", "b", 2)]
    );
}

// ---------------------------------------------------------------------------------------------
// Workspace and crate layout

/// The `members = [..]` of the workspace's `Cargo.toml` (written on one line).
fn workspace_members(workspace: &Path) -> Vec<String> {
    let manifest = read(&workspace.join("Cargo.toml"));
    let Some(line) = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
    else {
        return Vec::new();
    };
    let list = line.split_once('[').map_or("", |(_, l)| l);
    list.split(']')
        .next()
        .unwrap_or("")
        .split(',')
        .map(|m| m.trim().trim_matches('"').to_string())
        .filter(|m| !m.is_empty())
        .collect()
}

/// A crate directory's crate roots: the library, the binary, and every `src/bin/*.rs`.
fn crate_roots(src: &Path) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = ["lib.rs", "main.rs"]
        .iter()
        .map(|f| src.join(f))
        .filter(|p| p.is_file())
        .collect();
    if let Ok(entries) = std::fs::read_dir(src.join("bin")) {
        let mut bins: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect();
        bins.sort();
        roots.extend(bins);
    }
    roots
}

/// The references between the top-level modules of the crate rooted at `root`.
fn module_graph(root: &Path) -> Result<Graph, String> {
    let dir = root.parent().unwrap_or(Path::new("."));
    let root_source = read(root);
    let top: BTreeSet<String> = declared_modules(&root_source)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let mut graph = Graph::new();
    // (module path, file); the root's own inline modules are read with the root
    let mut files: Vec<(Vec<String>, PathBuf)> = vec![(Vec::new(), root.to_path_buf())];
    while let Some((path, file)) = files.pop() {
        let source = read(&file);
        // a crate root and a mod.rs hold their submodules' files beside them; `x.rs` in `x/`
        let child_dir = if path.is_empty() || file.ends_with("mod.rs") {
            file.parent().unwrap_or(dir).to_path_buf()
        } else {
            file.with_extension("")
        };
        for (name, has_file) in declared_modules(&source) {
            if !has_file {
                continue;
            }
            let flat = child_dir.join(format!("{name}.rs"));
            let nested = child_dir.join(&name).join("mod.rs");
            let child = match (flat.is_file(), nested.is_file()) {
                (true, _) => flat,
                (false, true) => nested,
                (false, false) => {
                    return Err(format!(
                        "module {name} declared in {} has no file {} or {}",
                        relative(dir, &file),
                        relative(dir, &flat),
                        relative(dir, &nested)
                    ));
                }
            };
            let mut child_path = path.clone();
            child_path.push(name);
            files.push((child_path, child));
        }
        for (from, to, line) in references(&source, &path, &top) {
            graph
                .entry(from)
                .or_default()
                .entry(to)
                .or_insert_with(|| format!("{}:{line}", relative(dir, &file)));
        }
    }
    Ok(graph)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn relative(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

// ---------------------------------------------------------------------------------------------
// Reading source: tokens, module declarations, references

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Open,
    Close,
    Semi,
    Comma,
    Other,
}

/// Rust source as the tokens that matter here, each with its line; comments, string and char
/// literals and lifetimes are skipped so text inside them is never read as a path.
fn tokens(source: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = source.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    // advances over chars[i..end], counting lines
    let skip = |i: &mut usize, line: &mut usize, end: usize| {
        let end = end.min(chars.len());
        *line += chars[*i..end].iter().filter(|&&c| c == '\n').count();
        *i = end;
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && at(i + 1) == '/' {
            let end = (i..chars.len())
                .find(|&j| chars[j] == '\n')
                .unwrap_or(chars.len());
            skip(&mut i, &mut line, end);
        } else if c == '/' && at(i + 1) == '*' {
            let (mut j, mut depth) = (i + 2, 1);
            while j < chars.len() && depth > 0 {
                if chars[j] == '/' && at(j + 1) == '*' {
                    depth += 1;
                    j += 2;
                } else if chars[j] == '*' && at(j + 1) == '/' {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            skip(&mut i, &mut line, j);
        } else if let Some(hashes) = raw_string_start(&chars, i) {
            // r"..", r#".."#, br#".."#: no escapes, ends at a quote and as many hashes
            let open = (i..).find(|&j| at(j) == '"').unwrap_or(i) + 1;
            let end = (open..chars.len())
                .find(|&j| chars[j] == '"' && (1..=hashes).all(|h| at(j + h) == '#'))
                .map_or(chars.len(), |j| j + 1 + hashes);
            skip(&mut i, &mut line, end);
        } else if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            skip(&mut i, &mut line, j + 1);
        } else if c == '\'' {
            // a char literal ('x', '\n', '\u{7f}') or a lifetime ('a)
            if at(i + 1) == '\\' {
                let end = (i + 2..chars.len())
                    .find(|&j| chars[j] == '\'')
                    .unwrap_or(i);
                skip(&mut i, &mut line, end + 1);
            } else if at(i + 2) == '\'' {
                let end = i + 3;
                skip(&mut i, &mut line, end);
            } else {
                let end = (i + 1..chars.len())
                    .find(|&j| !is_ident(chars[j]))
                    .unwrap_or(chars.len());
                skip(&mut i, &mut line, end);
            }
        } else if is_ident(c) {
            // a raw identifier `r#name` reads as `name`
            let start = if c == 'r' && at(i + 1) == '#' && is_ident(at(i + 2)) {
                i + 2
            } else {
                i
            };
            let end = (start..chars.len())
                .find(|&j| !is_ident(chars[j]))
                .unwrap_or(chars.len());
            out.push((Token::Ident(chars[start..end].iter().collect()), line));
            i = end;
        } else {
            let (token, width) = match (c, at(i + 1)) {
                (':', ':') => (Token::PathSep, 2),
                ('{', _) => (Token::Open, 1),
                ('}', _) => (Token::Close, 1),
                (';', _) => (Token::Semi, 1),
                (',', _) => (Token::Comma, 1),
                _ => (Token::Other, 1),
            };
            if c == '\n' {
                line += 1;
            }
            if token != Token::Other {
                out.push((token, line));
            }
            i += width;
        }
    }
    out
}

/// The number of `#` of a raw string starting at `i` (`r"`, `r#"`, `br##"`), if one does.
fn raw_string_start(chars: &[char], i: usize) -> Option<usize> {
    let after_prefix = match (chars.get(i), chars.get(i + 1)) {
        (Some('b'), Some('r')) => i + 2,
        (Some('r'), _) => i + 1,
        _ => return None,
    };
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return None;
    }
    let hashes = chars[after_prefix..]
        .iter()
        .take_while(|&&c| c == '#')
        .count();
    (chars.get(after_prefix + hashes) == Some(&'"')).then_some(hashes)
}

/// The modules a file declares at its top level: name, and whether it lives in a file of its own
/// (`mod x;`) rather than inline (`mod x { .. }`).
fn declared_modules(source: &str) -> Vec<(String, bool)> {
    let tokens = tokens(source);
    let mut depth = 0usize;
    let mut out = Vec::new();
    for (i, (token, _)) in tokens.iter().enumerate() {
        match token {
            Token::Open => depth += 1,
            Token::Close => depth = depth.saturating_sub(1),
            Token::Ident(m) if m == "mod" && depth == 0 => {
                if let Some((Token::Ident(name), _)) = tokens.get(i + 1) {
                    match tokens.get(i + 2) {
                        Some((Token::Semi, _)) => out.push((name.clone(), true)),
                        Some((Token::Open, _)) => out.push((name.clone(), false)),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// References from a file of module `path` to the crate's top-level modules `top`: the
/// top-level module the reference is written in, the one it names, and the line. `super` inside
/// an inline `mod x { .. }` climbs from `path::x`; the lines of a crate root outside its inline
/// modules belong to no module.
fn references(
    source: &str,
    path: &[String],
    top: &BTreeSet<String>,
) -> Vec<(String, String, usize)> {
    scan(source, path, top)
        .into_iter()
        .filter_map(|(from, to, line)| {
            let from = from.first()?.clone();
            (from != to).then_some((from, to, line))
        })
        .collect()
}

/// Every path in `source` (read as module `path`) that names one of the crate's top-level
/// modules: the module the reference is written in (with inline modules), the top-level module
/// named, and the line.
fn scan(
    source: &str,
    path: &[String],
    top: &BTreeSet<String>,
) -> Vec<(Vec<String>, String, usize)> {
    let tokens = tokens(source);
    let ident = |i: usize| match tokens.get(i) {
        Some((Token::Ident(s), _)) => Some(s.as_str()),
        _ => None,
    };
    let kind = |i: usize| tokens.get(i).map(|(t, _)| t);
    let mut module: Vec<String> = path.to_vec();
    // brace depth at which each inline module opened
    let mut inline: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut out = Vec::new();
    for i in 0..tokens.len() {
        let line = tokens[i].1;
        match &tokens[i].0 {
            Token::Open => depth += 1,
            Token::Close => {
                if inline.last() == Some(&depth) {
                    inline.pop();
                    module.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Ident(m) if m == "mod" => {
                if let (Some(name), Some(Token::Open)) = (ident(i + 1), kind(i + 2)) {
                    module.push(name.to_string());
                    inline.push(depth + 1);
                }
            }
            Token::Ident(first)
                if matches!(first.as_str(), "crate" | "super" | "self")
                    && kind(i + 1) == Some(&Token::PathSep)
                    && (i == 0 || kind(i - 1) != Some(&Token::PathSep)) =>
            {
                // climb: `crate` to the root, `self` nowhere, each `super` one module up
                let up = |b: Option<Vec<String>>| b.and_then(|mut b| b.pop().map(|_| b));
                let mut base = match first.as_str() {
                    "crate" => Some(Vec::new()),
                    "self" => Some(module.clone()),
                    _ => up(Some(module.clone())),
                };
                let mut j = i + 2;
                while ident(j) == Some("super") && kind(j + 1) == Some(&Token::PathSep) {
                    base = up(base);
                    j += 2;
                }
                let Some(base) = base else {
                    continue;
                };
                let named: Vec<String> = match (base.first(), kind(j)) {
                    (Some(inside), _) => vec![inside.clone()],
                    (None, Some(Token::Ident(name))) => vec![name.clone()],
                    (None, Some(Token::Open)) => group_heads(&tokens, j),
                    (None, _) => Vec::new(),
                };
                for to in named.into_iter().filter(|n| top.contains(n)) {
                    out.push((module.clone(), to, line));
                }
            }
            _ => {}
        }
    }
    out
}

/// The first name of each item of a use group opening at `open`: `{a, b::c, d}` gives a, b, d.
fn group_heads(tokens: &[(Token, usize)], open: usize) -> Vec<String> {
    let mut depth = 0usize;
    let mut out = Vec::new();
    let mut item_start = true;
    for (token, _) in &tokens[open..] {
        match token {
            Token::Open => {
                depth += 1;
                item_start = depth == 1;
            }
            Token::Close => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Token::Comma if depth == 1 => item_start = true,
            Token::Ident(name) if depth == 1 && item_start => {
                out.push(name.clone());
                item_start = false;
            }
            _ => item_start = false,
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Cycles

/// A cycle in the graph as the modules along it, first repeated last (`a, b, a`), if any.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    // depth-first from each module in name order; a module met again while still on the path
    // closes a cycle
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flat_map(BTreeMap::keys) {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
}

/// A cycle in words, with where each of its edges is written.
fn describe(cycle: &[String], graph: &Graph) -> String {
    let edges: Vec<String> = cycle
        .windows(2)
        .map(|w| {
            let at = graph
                .get(&w[0])
                .and_then(|to| to.get(&w[1]))
                .map_or("?", String::as_str);
            format!("{} uses {} at {at}", w[0], w[1])
        })
        .collect();
    format!("module cycle {} ({})", cycle.join(" -> "), edges.join("; "))
}

// ---------------------------------------------------------------------------------------------
// Helpers of the tests on synthetic input

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(ToString::to_string).collect()
}

fn edge(from: &str, to: &str, line: usize) -> (String, String, usize) {
    (from.to_string(), to.to_string(), line)
}

fn graph(edges: &[(&str, &str)]) -> Graph {
    let mut g = Graph::new();
    for (from, to) in edges {
        g.entry(from.to_string())
            .or_default()
            .insert(to.to_string(), format!("{from}.rs:1"));
    }
    g
}
