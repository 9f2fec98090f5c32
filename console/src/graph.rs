//! A state machine definition as a graph to draw, in the AWS console's shape: a Start and an
//! End node, one node per state, Next and Default edges, one edge per Choice rule (labelled
//! with its condition), Catch edges (drawn dashed), and Map and Parallel states as boxes that
//! hold their branches' states. The page lays it out with dagre; this module only reads the
//! definition.

use serde::Serialize;
use serde_json::{Map, Value};

/// A node: a state, or the Start/End markers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// Unique in the graph: the state's path (`Map/Inner`, `Par/1/Inner`), or `__start`/`__end`.
    pub id: String,
    /// The state name as history events name it.
    pub name: String,
    /// The state's Type (`Task`, `Choice`, …), `Start` or `End`.
    pub kind: String,
    /// The Map or Parallel (or Parallel branch) box this node sits in.
    pub parent: Option<String>,
    /// True for a box that holds other nodes.
    pub container: bool,
}

/// An edge between two nodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    /// Source node id.
    pub from: String,
    /// Target node id.
    pub to: String,
    /// `next`, `choice`, `default` or `catch` (drawn dashed).
    pub kind: &'static str,
    /// A Choice rule's condition, a Catch's errors.
    pub label: Option<String>,
}

/// The graph of a definition.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Graph {
    /// Nodes, containers before what they hold.
    pub nodes: Vec<Node>,
    /// Edges.
    pub edges: Vec<Edge>,
}

/// The graph of `definition` (a parsed ASL document). A definition without `States` gives the
/// Start and End nodes only; a `Next` naming no state gets no edge (validation reports it).
pub fn build(definition: &Value) -> Graph {
    let mut g = Graph::default();
    g.nodes.push(marker("__start", "Start"));
    let start = scope(&mut g, definition, "", None);
    g.nodes.push(marker("__end", "End"));
    if let Some(first) = start.first {
        g.edges.push(edge("__start", &first, "next", None));
    }
    for last in start.ends {
        g.edges.push(edge(&last, "__end", "next", None));
    }
    g
}

fn marker(id: &str, kind: &str) -> Node {
    Node {
        id: id.into(),
        name: kind.into(),
        kind: kind.into(),
        parent: None,
        container: false,
    }
}

fn edge(from: &str, to: &str, kind: &'static str, label: Option<String>) -> Edge {
    Edge {
        from: from.into(),
        to: to.into(),
        kind,
        label,
    }
}

/// What a scope (the top level, a Map's processor, a Parallel branch) gives its container:
/// its first node and the nodes that end it.
struct Scope {
    first: Option<String>,
    ends: Vec<String>,
}

fn scope(g: &mut Graph, def: &Value, prefix: &str, parent: Option<&str>) -> Scope {
    let empty = Map::new();
    let states = def
        .get("States")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let id = |name: &str| format!("{prefix}{name}");
    let mut ends = Vec::new();
    for (name, state) in states {
        let kind = state.get("Type").and_then(Value::as_str).unwrap_or("?");
        let this = id(name);
        let container = matches!(kind, "Map" | "Parallel");
        g.nodes.push(Node {
            id: this.clone(),
            name: name.clone(),
            kind: kind.into(),
            parent: parent.map(str::to_owned),
            container,
        });
        match kind {
            "Map" => {
                let inner = state
                    .get("ItemProcessor")
                    .or_else(|| state.get("Iterator"))
                    .cloned()
                    .unwrap_or(Value::Null);
                scope(g, &inner, &format!("{this}/"), Some(&this));
            }
            "Parallel" => {
                for (i, branch) in state
                    .get("Branches")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let branch_id = format!("{this}/{i}");
                    g.nodes.push(Node {
                        id: branch_id.clone(),
                        name: format!("Branch {}", i + 1),
                        kind: "Branch".into(),
                        parent: Some(this.clone()),
                        container: true,
                    });
                    scope(g, branch, &format!("{branch_id}/"), Some(&branch_id));
                }
            }
            _ => {}
        }
        let target = |n: &Value| n.as_str().filter(|n| states.contains_key(*n)).map(&id);
        if let Some(next) = state.get("Next").and_then(target) {
            g.edges.push(edge(&this, &next, "next", None));
        }
        for rule in state
            .get("Choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(next) = rule.get("Next").and_then(target) {
                g.edges
                    .push(edge(&this, &next, "choice", Some(condition(rule, 48))));
            }
        }
        if let Some(default) = state.get("Default").and_then(target) {
            g.edges
                .push(edge(&this, &default, "default", Some("Default".into())));
        }
        for catcher in state
            .get("Catch")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(next) = catcher.get("Next").and_then(target) {
                let errors = catcher
                    .get("ErrorEquals")
                    .and_then(Value::as_array)
                    .map(|e| {
                        e.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    });
                g.edges
                    .push(edge(&this, &next, "catch", errors.map(|e| shorten(&e, 40))));
            }
        }
        let ends_here = state.get("End").and_then(Value::as_bool) == Some(true)
            || matches!(kind, "Succeed" | "Fail");
        if ends_here {
            ends.push(this);
        }
    }
    let first = def
        .get("StartAt")
        .and_then(Value::as_str)
        .filter(|s| states.contains_key(*s))
        .map(id);
    Scope { first, ends }
}

/// A Choice rule's condition in a line: `$.status == "DONE"`, `$.x is present`, `And(…)`, or
/// a JSONata `Condition`.
fn condition(rule: &Value, max: usize) -> String {
    shorten(&describe(rule, 0), max)
}

fn describe(rule: &Value, depth: usize) -> String {
    if depth > 4 {
        return "…".into();
    }
    if let Some(c) = rule.get("Condition").and_then(Value::as_str) {
        return c.to_owned();
    }
    for combinator in ["And", "Or"] {
        if let Some(list) = rule.get(combinator).and_then(Value::as_array) {
            let parts: Vec<String> = list.iter().map(|r| describe(r, depth + 1)).collect();
            return format!("{combinator}({})", parts.join(", "));
        }
    }
    if let Some(inner) = rule.get("Not") {
        return format!("Not({})", describe(inner, depth + 1));
    }
    let variable = rule.get("Variable").and_then(Value::as_str).unwrap_or("?");
    let Some(obj) = rule.as_object() else {
        return variable.into();
    };
    for (key, value) in obj {
        if matches!(
            key.as_str(),
            "Variable" | "Next" | "Comment" | "Assign" | "Output"
        ) {
            continue;
        }
        let op = operator(key);
        let operand = if key.ends_with("Path") {
            value.as_str().unwrap_or("?").to_owned()
        } else {
            value.to_string()
        };
        return format!("{variable} {op} {operand}");
    }
    variable.into()
}

fn operator(key: &str) -> &str {
    let base = key.strip_suffix("Path").unwrap_or(key);
    let base = base
        .trim_start_matches("String")
        .trim_start_matches("Numeric")
        .trim_start_matches("Boolean")
        .trim_start_matches("Timestamp");
    match base {
        "Equals" => "==",
        "LessThan" => "<",
        "GreaterThan" => ">",
        "LessThanEquals" => "<=",
        "GreaterThanEquals" => ">=",
        "Matches" => "matches",
        "IsPresent" => "is present:",
        "IsNull" => "is null:",
        _ => key,
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn edges(g: &Graph) -> Vec<(String, String, &'static str)> {
        g.edges
            .iter()
            .map(|e| (e.from.clone(), e.to.clone(), e.kind))
            .collect()
    }

    #[test]
    fn choices_defaults_and_catches_become_labelled_edges() {
        let def = json!({"StartAt": "Check", "States": {
            "Check": {"Type": "Task", "Resource": "x", "Next": "Done?",
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}]},
            "Done?": {"Type": "Choice", "Choices": [
                {"Variable": "$.status", "StringEquals": "DONE", "Next": "Ok"}],
                "Default": "Check"},
            "Ok": {"Type": "Succeed"},
            "Failed": {"Type": "Fail"}
        }});
        let g = build(&def);
        let e = edges(&g);
        assert!(e.contains(&("__start".into(), "Check".into(), "next")));
        assert!(e.contains(&("Check".into(), "Failed".into(), "catch")));
        assert!(e.contains(&("Done?".into(), "Ok".into(), "choice")));
        assert!(e.contains(&("Done?".into(), "Check".into(), "default")));
        assert!(e.contains(&("Ok".into(), "__end".into(), "next")));
        assert!(e.contains(&("Failed".into(), "__end".into(), "next")));
        let choice = g.edges.iter().find(|e| e.kind == "choice").unwrap();
        assert_eq!(choice.label.as_deref(), Some("$.status == \"DONE\""));
        let catch = g.edges.iter().find(|e| e.kind == "catch").unwrap();
        assert_eq!(catch.label.as_deref(), Some("States.ALL"));
    }

    #[test]
    fn map_and_parallel_states_are_boxes_holding_their_branches() {
        let def = json!({"StartAt": "Each", "States": {
            "Each": {"Type": "Map", "ItemProcessor": {"StartAt": "Score", "States": {
                "Score": {"Type": "Pass", "End": true}}}, "Next": "Both"},
            "Both": {"Type": "Parallel", "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}], "End": true}
        }});
        let g = build(&def);
        let node = |id: &str| g.nodes.iter().find(|n| n.id == id).unwrap().clone();
        assert!(node("Each").container);
        assert_eq!(node("Each/Score").parent.as_deref(), Some("Each"));
        assert_eq!(node("Both/0").parent.as_deref(), Some("Both"));
        assert_eq!(node("Both/1/A").parent.as_deref(), Some("Both/1"));
        assert_eq!(node("Both/1/A").name, "A");
        // branch states end their branch, not the execution
        assert!(!edges(&g).contains(&("Each/Score".into(), "__end".into(), "next")));
        assert!(edges(&g).contains(&("Both".into(), "__end".into(), "next")));
    }

    #[test]
    fn a_definition_that_is_not_one_gives_start_and_end_only() {
        for def in [
            json!(null),
            json!({"States": 3}),
            json!({"StartAt": "Nope", "States": {}}),
        ] {
            let g = build(&def);
            assert_eq!(g.nodes.len(), 2, "{def}");
            assert!(g.edges.is_empty(), "{def}");
        }
    }
}
