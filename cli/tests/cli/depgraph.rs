//! The workspace's dependency graph as `cargo metadata` resolves it: which package depends on
//! which, whether only as a dev-dependency, and the path by which one crate reaches another.
//!
//! Every target platform is kept (no `--filter-platform`): a dependency some platform pulls in
//! counts, so the rules hold for whatever the container or a Lambda function is built for.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Packages and the edges between them, by package id.
#[derive(Debug)]
pub struct Graph {
    /// Package id -> package name.
    names: BTreeMap<String, String>,
    /// Package id -> its dependencies: (package id, true when only a dev-dependency).
    deps: BTreeMap<String, Vec<(String, bool)>>,
    /// The ids of the workspace's own crates.
    members: BTreeSet<String>,
}

impl Graph {
    /// The graph of the workspace whose root manifest is `manifest`, from `cargo metadata`.
    pub fn of_workspace(manifest: &Path) -> Result<Graph, String> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(&cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--locked",
                "--manifest-path",
            ])
            .arg(manifest)
            .output()
            .map_err(|e| format!("cannot run {} metadata: {e}", cargo.to_string_lossy()))?;
        if !out.status.success() {
            return Err(format!(
                "cargo metadata --manifest-path {} failed: {}",
                manifest.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let metadata: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("cargo metadata printed no JSON: {e}"))?;
        Graph::from_metadata(&metadata)
    }

    /// The graph of `cargo metadata --format-version 1` output: `packages` (id, name),
    /// `workspace_members` (ids) and `resolve.nodes` (id, `deps` with `pkg` and `dep_kinds`).
    pub fn from_metadata(metadata: &Value) -> Result<Graph, String> {
        let field = |v: &'_ Value, name: &str| -> Result<Value, String> {
            v.get(name)
                .cloned()
                .ok_or_else(|| format!("cargo metadata has no field '{name}' in {v}"))
        };
        let text = |v: &Value, name: &str| -> Result<String, String> {
            field(v, name)?
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("cargo metadata field '{name}' is not a string in {v}"))
        };
        let list = |v: &Value, name: &str| -> Result<Vec<Value>, String> {
            field(v, name)?
                .as_array()
                .cloned()
                .ok_or_else(|| format!("cargo metadata field '{name}' is not an array in {v}"))
        };

        let mut names = BTreeMap::new();
        for package in list(metadata, "packages")? {
            names.insert(text(&package, "id")?, text(&package, "name")?);
        }
        let members = list(metadata, "workspace_members")?
            .iter()
            .map(|m| {
                m.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("a workspace member is not a package id: {m}"))
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        let mut deps = BTreeMap::new();
        for node in list(&field(metadata, "resolve")?, "nodes")? {
            let mut edges = Vec::new();
            for dep in list(&node, "deps")? {
                let kinds = list(&dep, "dep_kinds")?;
                let dev_only = kinds.iter().all(|k| k["kind"] == "dev");
                edges.push((text(&dep, "pkg")?, dev_only));
            }
            deps.insert(text(&node, "id")?, edges);
        }
        for id in deps.keys().chain(&members) {
            if !names.contains_key(id) {
                return Err(format!(
                    "cargo metadata resolves {id}, which no package has as id"
                ));
            }
        }
        Ok(Graph {
            names,
            deps,
            members,
        })
    }

    /// The names of the workspace's crates.
    pub fn members(&self) -> BTreeSet<&str> {
        self.members.iter().map(|id| self.name(id)).collect()
    }

    /// The names of the packages `krate` depends on directly, dev-dependencies aside.
    pub fn direct(&self, krate: &str) -> BTreeSet<&str> {
        self.member_id(krate)
            .map(|id| {
                self.edges(id)
                    .filter(|(_, dev_only)| !dev_only)
                    .map(|(to, _)| self.name(to))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every package `krate` builds with (dev-dependencies aside, at any depth), each with the
    /// shortest path of names from `krate` to it.
    pub fn reachable(&self, krate: &str) -> BTreeMap<&str, Vec<&str>> {
        let mut paths = BTreeMap::new();
        let Some(start) = self.member_id(krate) else {
            return paths;
        };
        // breadth first: the first path found to a package is a shortest one
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(id) = queue.pop_front() {
            for (to, dev_only) in self.edges(id) {
                if !dev_only && to != start && !parent.contains_key(to) {
                    parent.insert(to, id);
                    queue.push_back(to);
                }
            }
        }
        for &id in parent.keys() {
            let mut path = vec![self.name(id)];
            let mut at = id;
            while let Some(&up) = parent.get(at) {
                path.push(self.name(up));
                at = up;
            }
            path.reverse();
            paths
                .entry(self.name(id))
                .and_modify(|p: &mut Vec<&str>| {
                    if path.len() < p.len() {
                        *p = path.clone();
                    }
                })
                .or_insert(path);
        }
        paths
    }

    /// A cycle among the workspace's crates, dev-dependencies included (a crate's dev-dependency
    /// on itself, to turn on a feature for its tests, aside), as the names along it.
    pub fn member_cycle(&self) -> Option<Vec<&str>> {
        // depth first from each member, over edges between members only
        fn visit<'g>(
            graph: &'g Graph,
            id: &'g str,
            stack: &mut Vec<&'g str>,
            done: &mut BTreeSet<&'g str>,
        ) -> Option<Vec<&'g str>> {
            if let Some(at) = stack.iter().position(|s| *s == id) {
                let mut cycle: Vec<&str> = stack[at..].iter().map(|s| graph.name(s)).collect();
                cycle.push(graph.name(id));
                return Some(cycle);
            }
            if !done.insert(id) {
                return None;
            }
            stack.push(id);
            for (to, _) in graph.edges(id) {
                if to != id
                    && graph.members.contains(to)
                    && let Some(cycle) = visit(graph, to, stack, done)
                {
                    return Some(cycle);
                }
            }
            stack.pop();
            None
        }
        let mut done = BTreeSet::new();
        self.members
            .iter()
            .find_map(|id| visit(self, id, &mut Vec::new(), &mut done))
    }

    fn member_id(&self, krate: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|id| self.name(id) == krate)
            .map(String::as_str)
    }

    fn name<'g>(&'g self, id: &'g str) -> &'g str {
        self.names.get(id).map_or(id, String::as_str)
    }

    fn edges<'g>(&'g self, id: &str) -> impl Iterator<Item = (&'g str, bool)> + 'g {
        self.deps
            .get(id)
            .into_iter()
            .flatten()
            .map(|(to, dev_only)| (to.as_str(), *dev_only))
    }
}
