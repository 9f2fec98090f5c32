//! The dependency rules of ARCHITECTURE.md ("Dependency rules"), checked on the graph `cargo
//! metadata` resolves for this workspace: a crate that gains a forbidden dependency fails here,
//! and the failure names the edge and the rule. Dev-dependencies (tests) are free, except that
//! they may not close a cycle between the workspace's crates.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use crate::depgraph::Graph;

/// Each workspace crate, the stepscore crates it may depend on, and why.
const ALLOWED: &[(&str, &[&str], &str)] = &[
    (
        "stepscore-core",
        &[],
        "core is the domain and the ports and depends on no stepscore crate",
    ),
    (
        "stepscore-asl",
        &["stepscore-jsonata"],
        "the ASL interpreter knows nothing of the pipeline; its JSONata states run on the JSONata evaluator",
    ),
    (
        "stepscore-jsonata",
        &[],
        "the JSONata evaluator is a language library: it knows nothing of stepscore",
    ),
    (
        "stepscore-dirstore",
        &["stepscore-core"],
        "the directory store is an adapter of a core port",
    ),
    (
        "stepscore-aws-s3",
        &["stepscore-core"],
        "the S3 adapter depends on the ports only",
    ),
    (
        "stepscore-aws",
        &["stepscore-core", "stepscore-aws-s3"],
        "the AWS adapters depend on the ports only, never on the embedded world",
    ),
    (
        "stepscore-handlers",
        &["stepscore-core"],
        "handlers depend on core only",
    ),
    (
        "stepscore-local",
        &[
            "stepscore-core",
            "stepscore-asl",
            "stepscore-dirstore",
            "stepscore-handlers",
        ],
        "the embedded world has no AWS adapter",
    ),
    (
        "stepscore-console",
        &[
            "stepscore-core",
            "stepscore-asl",
            "stepscore-local",
            "stepscore-dirstore",
        ],
        "the console is a view of the embedded world: no AWS adapter, no handler of its own",
    ),
    (
        "stepscore-batch",
        &["stepscore-core", "stepscore-aws-s3", "stepscore-dirstore"],
        "the scoring container needs the ports, S3 and the directory store, nothing else",
    ),
    (
        "stepscore-lambda",
        &[
            "stepscore-core",
            "stepscore-handlers",
            "stepscore-aws",
            "stepscore-predict",
        ],
        "a Lambda function is a handler (the pipeline's, or the predict service) wired to the AWS adapters",
    ),
    (
        "stepscore-predict",
        &["stepscore-core", "stepscore-batch"],
        "online scoring is the scorer's model code behind HTTP: the ports and the scorer, nothing of the pipeline",
    ),
    (
        "stepscore-bench-s3-endpoint",
        &[],
        "bench/s3's endpoint stands in for S3 in a benchmark: it knows nothing of stepscore",
    ),
    (
        "stepscore",
        &[
            "stepscore-core",
            "stepscore-asl",
            "stepscore-jsonata",
            "stepscore-dirstore",
            "stepscore-handlers",
            "stepscore-aws-s3",
            "stepscore-aws",
            "stepscore-local",
            "stepscore-batch",
            "stepscore-console",
            "stepscore-predict",
        ],
        "the CLI drives both worlds but deploys no Lambda function",
    ),
];

/// Packages a crate may not build with at any depth (`*` ends a prefix), the exceptions, and why.
const UNLINKED: &[(&str, &[&str], &[&str], &str)] = &[
    (
        "stepscore-core",
        &[
            "aws-sdk-*",
            "aws-config",
            "lambda_runtime",
            "libsqlite3-sys",
            "tracing-subscriber",
        ],
        &[],
        "core does no IO: no AWS SDK, Lambda runtime, SQLite or log subscriber",
    ),
    (
        "stepscore-handlers",
        &[
            "aws-sdk-*",
            "aws-config",
            "lambda_runtime",
            "libsqlite3-sys",
            "tracing-subscriber",
        ],
        &[],
        "handlers see only ports: no AWS SDK, Lambda runtime, SQLite or log subscriber",
    ),
    (
        "stepscore-batch",
        &[
            "libsqlite3-sys",
            "stepscore-asl",
            "stepscore-handlers",
            "lambda_runtime",
            "aws-sdk-*",
        ],
        // aws-config's own clients, which fetch credentials (SSO, assumed roles)
        &[
            "aws-sdk-s3",
            "aws-sdk-sts",
            "aws-sdk-sso",
            "aws-sdk-ssooidc",
        ],
        "the scoring container links no SQLite, ASL interpreter, handlers, Lambda runtime or AWS SDK but S3",
    ),
    (
        "stepscore-local",
        &["aws-sdk-*", "aws-config", "lambda_runtime"],
        &[],
        "the embedded world runs with no cloud: no AWS SDK or Lambda runtime",
    ),
    (
        "stepscore-console",
        &[
            "aws-sdk-*",
            "aws-config",
            "lambda_runtime",
            "tracing-subscriber",
        ],
        &[],
        "the console runs with no cloud and installs no log subscriber (the CLI does)",
    ),
    (
        "stepscore-lambda",
        &["libsqlite3-sys", "stepscore-asl", "stepscore-local"],
        &[],
        "a Lambda function links no SQLite, ASL interpreter or embedded world",
    ),
    (
        "stepscore-aws",
        &["libsqlite3-sys", "tracing-subscriber"],
        &[],
        "the AWS adapters link no SQLite, and install no log subscriber (binaries do)",
    ),
    (
        "stepscore-asl",
        &["tracing-subscriber"],
        &[],
        "a library installs no log subscriber (binaries do)",
    ),
    (
        "stepscore-jsonata",
        &["aws-sdk-*", "libsqlite3-sys", "tracing-subscriber"],
        &[],
        "the JSONata evaluator does no IO: no AWS SDK, SQLite or log subscriber",
    ),
    (
        "stepscore-predict",
        &[
            "libsqlite3-sys",
            "stepscore-asl",
            "stepscore-handlers",
            "lambda_runtime",
            "aws-sdk-*",
        ],
        &[
            "aws-sdk-s3",
            "aws-sdk-sts",
            "aws-sdk-sso",
            "aws-sdk-ssooidc",
        ],
        "the predict service links what the scoring container links, plus HTTP: no SQLite, ASL interpreter, handlers, Lambda runtime or AWS SDK but S3",
    ),
    (
        "stepscore-dirstore",
        &["libsqlite3-sys", "tracing-subscriber"],
        &[],
        "the directory store links no SQLite (the container uses it), and installs no log subscriber",
    ),
];

/// Every broken rule of `graph`, one sentence each naming the edge.
fn violations(graph: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    let members = graph.members();
    let ruled: BTreeSet<&str> = ALLOWED.iter().map(|(k, _, _)| *k).collect();
    for krate in members.difference(&ruled) {
        out.push(format!(
            "{krate} is a workspace crate no dependency rule names: add it to ALLOWED in cli/tests/cli/architecture.rs and to ARCHITECTURE.md"
        ));
    }
    for krate in ruled.difference(&members) {
        out.push(format!(
            "the dependency rules name {krate}, which is not a workspace crate: remove or rename its rule"
        ));
    }
    for (krate, allowed, why) in ALLOWED {
        for dep in graph.direct(krate) {
            if members.contains(dep) && !allowed.contains(&dep) {
                out.push(format!("{krate} → {dep} is forbidden: {why}"));
            }
        }
    }
    for (krate, forbidden, except, why) in UNLINKED {
        for (dep, path) in graph.reachable(krate) {
            let matches = |pattern: &&str| match pattern.strip_suffix('*') {
                Some(prefix) => dep.starts_with(prefix),
                None => dep == *pattern,
            };
            if forbidden.iter().any(matches) && !except.contains(&dep) {
                out.push(format!(
                    "{krate} → {dep} is forbidden: {why} (through {})",
                    path.join(" → ")
                ));
            }
        }
    }
    if let Some(cycle) = graph.member_cycle() {
        out.push(format!(
            "{} is a dependency cycle (dev-dependencies included): move the tests that need the other crate to a crate that depends on both",
            cycle.join(" → ")
        ));
    }
    out
}

#[test]
fn the_workspace_keeps_its_dependency_rules() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let graph = Graph::of_workspace(&manifest).unwrap_or_else(|e| panic!("{e}"));
    // the rules must have something to bite on: the crates they name are really there
    assert!(graph.members().contains("stepscore-batch"), "{graph:?}");
    assert!(
        graph
            .reachable("stepscore-batch")
            .contains_key("aws-sdk-s3")
    );
    let broken = violations(&graph);
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// How a synthetic dependency is declared.
#[derive(Clone, Copy)]
enum Kind {
    Normal,
    Dev,
}

/// `cargo metadata` output for a workspace that keeps every rule (each crate depends on what
/// ALLOWED lets it, the adapters on their SDKs, the embedded world on SQLite), plus `extra`.
fn metadata(extra: &[(&str, &str, Kind)]) -> Value {
    let mut edges: Vec<(&str, &str, Kind)> = ALLOWED
        .iter()
        .flat_map(|(krate, allowed, _)| allowed.iter().map(move |dep| (*krate, *dep, Kind::Normal)))
        .collect();
    edges.extend([
        ("stepscore-aws-s3", "aws-config", Kind::Normal),
        ("aws-config", "aws-sdk-sts", Kind::Normal),
        ("aws-config", "aws-sdk-sso", Kind::Normal),
        ("stepscore-aws-s3", "aws-sdk-s3", Kind::Normal),
        ("stepscore-aws", "aws-sdk-dynamodb", Kind::Normal),
        ("stepscore-local", "rusqlite", Kind::Normal),
        ("rusqlite", "libsqlite3-sys", Kind::Normal),
        ("stepscore-lambda", "lambda_runtime", Kind::Normal),
        ("stepscore-batch", "tracing-subscriber", Kind::Normal),
        ("stepscore-handlers", "stepscore-aws", Kind::Dev),
    ]);
    edges.extend_from_slice(extra);
    let id = |name: &str| format!("{name}#0.1.0");
    let mut names: BTreeSet<&str> = edges.iter().flat_map(|(a, b, _)| [*a, *b]).collect();
    names.extend(ALLOWED.iter().map(|(k, _, _)| *k));
    let nodes: Vec<Value> = names
        .iter()
        .map(|name| {
            let deps: Vec<Value> = edges
                .iter()
                .filter(|(from, _, _)| from == name)
                .map(|(_, to, kind)| {
                    let kind = match kind {
                        Kind::Normal => Value::Null,
                        Kind::Dev => json!("dev"),
                    };
                    json!({"pkg": id(to), "dep_kinds": [{"kind": kind, "target": null}]})
                })
                .collect();
            json!({"id": id(name), "deps": deps})
        })
        .collect();
    json!({
        "packages": names.iter().map(|n| json!({"id": id(n), "name": n})).collect::<Vec<_>>(),
        "workspace_members": ALLOWED.iter().map(|(k, _, _)| id(k)).collect::<Vec<_>>(),
        "resolve": {"nodes": nodes},
    })
}

/// The broken rules of the synthetic workspace with `extra` edges.
fn check(extra: &[(&str, &str, Kind)]) -> Vec<String> {
    violations(&Graph::from_metadata(&metadata(extra)).unwrap())
}

#[test]
fn a_workspace_that_keeps_the_rules_breaks_none() {
    assert_eq!(check(&[]), Vec::<String>::new());
}

#[test]
fn a_handlers_dependency_on_the_aws_adapters_is_named_as_the_forbidden_edge() {
    let broken = check(&[("stepscore-handlers", "stepscore-aws", Kind::Normal)]);
    assert_eq!(
        broken[0],
        "stepscore-handlers → stepscore-aws is forbidden: handlers depend on core only"
    );
    // and what it drags in is named as well, with the path it comes through
    assert!(broken.contains(&"stepscore-handlers → aws-sdk-dynamodb is forbidden: handlers see only ports: no AWS SDK, Lambda runtime, SQLite or log subscriber (through stepscore-handlers → stepscore-aws → aws-sdk-dynamodb)".to_owned()), "{broken:#?}");
}

#[test]
fn sqlite_reaching_the_container_through_the_embedded_world_is_named_with_its_path() {
    let broken = check(&[("stepscore-batch", "stepscore-local", Kind::Normal)]);
    assert!(broken.contains(&"stepscore-batch → stepscore-local is forbidden: the scoring container needs the ports, S3 and the directory store, nothing else".to_owned()), "{broken:#?}");
    assert!(broken.contains(&"stepscore-batch → libsqlite3-sys is forbidden: the scoring container links no SQLite, ASL interpreter, handlers, Lambda runtime or AWS SDK but S3 (through stepscore-batch → stepscore-local → rusqlite → libsqlite3-sys)".to_owned()), "{broken:#?}");
}

#[test]
fn the_container_may_link_s3_and_the_credential_clients_but_no_other_aws_sdk() {
    // aws-sdk-s3, -sts and -sso are already in the container's graph without complaint
    assert_eq!(check(&[]), Vec::<String>::new());
    let broken = check(&[("stepscore-aws-s3", "aws-sdk-sqs", Kind::Normal)]);
    assert_eq!(
        broken,
        [
            "stepscore-batch → aws-sdk-sqs is forbidden: the scoring container links no SQLite, ASL interpreter, handlers, Lambda runtime or AWS SDK but S3 (through stepscore-batch → stepscore-aws-s3 → aws-sdk-sqs)",
            // the predict service links the container's closure, so the same edge breaks its rule
            "stepscore-predict → aws-sdk-sqs is forbidden: the predict service links what the scoring container links, plus HTTP: no SQLite, ASL interpreter, handlers, Lambda runtime or AWS SDK but S3 (through stepscore-predict → stepscore-batch → stepscore-aws-s3 → aws-sdk-sqs)",
        ]
    );
}

#[test]
fn a_dev_dependency_is_free_unless_it_closes_a_cycle() {
    assert_eq!(
        check(&[("stepscore-core", "proptest", Kind::Dev)]),
        Vec::<String>::new()
    );
    // the synthetic handlers already dev-depend on the AWS adapters; those depending back on the
    // handlers for their own tests closes the loop
    let broken = check(&[("stepscore-aws", "stepscore-handlers", Kind::Dev)]);
    assert_eq!(broken.len(), 1, "{broken:#?}");
    assert!(broken[0].ends_with("is a dependency cycle (dev-dependencies included): move the tests that need the other crate to a crate that depends on both"), "{broken:#?}");
    assert!(
        broken[0].contains("stepscore-aws → stepscore-handlers → stepscore-aws")
            || broken[0].contains("stepscore-handlers → stepscore-aws → stepscore-handlers"),
        "{broken:#?}"
    );
}

#[test]
fn a_crate_no_rule_names_is_refused_until_it_has_one() {
    let mut m = metadata(&[]);
    m["packages"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "stepscore-new#0.1.0", "name": "stepscore-new"}));
    m["resolve"]["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "stepscore-new#0.1.0", "deps": []}));
    m["workspace_members"]
        .as_array_mut()
        .unwrap()
        .push(json!("stepscore-new#0.1.0"));
    assert_eq!(
        violations(&Graph::from_metadata(&m).unwrap()),
        [
            "stepscore-new is a workspace crate no dependency rule names: add it to ALLOWED in cli/tests/cli/architecture.rs and to ARCHITECTURE.md"
        ]
    );
}

#[test]
fn metadata_missing_a_field_is_an_error_naming_it() {
    let e = Graph::from_metadata(&json!({"packages": []})).unwrap_err();
    assert!(
        e.starts_with("cargo metadata has no field 'workspace_members'"),
        "{e}"
    );
}
