//! Specification of the scoring container: training and artifacts, kernels against smartcore,
//! CSV edge cases, sharding, and the binary's exit codes.

use std::path::{Path, PathBuf};

use stepscore_batch::artifact::{self, Algorithm};
use stepscore_batch::kernel::{Kernel, Predictions, sigmoid};
use stepscore_batch::model::Model;
use stepscore_batch::score::{OutputSpec, ScoreJob, Shard};
use stepscore_batch::storage::{Location, Storage};
use stepscore_batch::train::{self, Dataset, Fitted, HyperParams, Trained};
use stepscore_core::config::{BadRowPolicy, FeatureMap, InputFormat};
use stepscore_core::manifest::ScoringManifest;

/// A deterministic classification data set (the benchmark's generator) as CSV text.
fn bench_csv(rows: u64, seed: u64) -> String {
    let mut out = Vec::new();
    stepscore_batch::benchdata::write_bench_data(&mut out, rows, 5, seed).unwrap();
    String::from_utf8(out).unwrap()
}

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

fn dataset(dir: &Path, rows: u64) -> Dataset {
    let p = write(dir, "train.csv", bench_csv(rows, 3));
    train::load_dataset(
        &Storage::local_only(),
        &Location::Local(p),
        "label",
        &[],
        &["id".to_owned()],
    )
    .unwrap()
}

fn params() -> HyperParams {
    HyperParams {
        n_trees: 7,
        max_depth: Some(5),
        k: 3,
        alpha: 0.1,
        ..HyperParams::default()
    }
}

/// Trains `algorithm`; regressors predict feature f0 from the others.
fn trained(data: &Dataset, algorithm: Algorithm) -> (Trained, Dataset) {
    trained_with(data, algorithm, &params())
}

/// [`trained`] with other hyper-parameters.
fn trained_with(data: &Dataset, algorithm: Algorithm, params: &HyperParams) -> (Trained, Dataset) {
    let data = match algorithm.task() {
        artifact::Task::Classification => data.clone(),
        artifact::Task::Regression => {
            let nf = data.features.len();
            let mut d = Dataset {
                features: data.features[1..].to_vec(),
                x: Vec::new(),
                target: Vec::new(),
            };
            for row in data.x.chunks(nf) {
                d.x.extend_from_slice(&row[1..]);
                d.target.push((row[0] * 3.0 + row[1]).to_string());
            }
            d
        }
    };
    let t = train::train_dataset(&data, "train.csv", "label", algorithm, 0.25, params).unwrap();
    (t, data)
}

fn score_local(
    dir: &Path,
    model: &Path,
    input: &Path,
    out: &str,
    policy: BadRowPolicy,
    shard: Shard,
) -> Result<ScoringManifest, stepscore_batch::Error> {
    let job = ScoreJob {
        job_id: "job-1".into(),
        model: Location::Local(model.to_owned()),
        input: Location::Local(input.to_owned()),
        output: Location::Local(dir.join(out)),
        id_columns: vec!["id".into()],
        on_bad_row: policy,
        shard,
        progress_interval: std::time::Duration::from_secs(5),
        input_format: InputFormat::Auto,
        features: FeatureMap::new(),
        batch_job_id: None,
        output_format: OutputSpec::default(),
    };
    stepscore_batch::score(&job, &Storage::local_only())
}

/// A logistic model over features f0..f4 of the bench data, written to `dir/model.json`.
fn logistic_model(dir: &Path) -> PathBuf {
    let data = dataset(dir, 400);
    let (t, _) = trained(&data, Algorithm::LogisticRegression);
    write(dir, "model.json", t.artifact_json().unwrap())
}

const ALL: [Algorithm; 8] = [
    Algorithm::LogisticRegression,
    Algorithm::RandomForestClassifier,
    Algorithm::RandomForestRegressor,
    Algorithm::DecisionTreeClassifier,
    Algorithm::DecisionTreeRegressor,
    Algorithm::LinearRegression,
    Algorithm::RidgeRegression,
    Algorithm::KnnClassifier,
];

mod artifacts {
    use super::*;

    #[test]
    fn every_algorithm_round_trips_and_scores_like_smartcore() {
        let dir = tempfile::tempdir().unwrap();
        let base = dataset(dir.path(), 300);
        for algorithm in ALL {
            let (t, data) = trained(&base, algorithm);
            let bytes = t.artifact_json().unwrap();
            let model = Model::from_slice(&bytes, "m.json").unwrap();
            assert_eq!(model.header, t.header, "{algorithm:?}");
            let nf = data.features.len();
            let mut preds = Predictions::default();
            model.predict(&data.x, &mut preds).unwrap();
            let reference = t.fitted.smartcore_predict(&data.x, nf).unwrap();
            for (row, want) in reference.iter().enumerate() {
                let got = match algorithm.task() {
                    artifact::Task::Classification => f64::from(preds.class[row]),
                    artifact::Task::Regression => preds.value[row],
                };
                assert!(
                    (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                    "{algorithm:?} row {row}: kernel {got}, smartcore {want}"
                );
            }
            let m = &t.header.metrics;
            match algorithm.task() {
                artifact::Task::Classification => {
                    assert!(
                        m.accuracy.unwrap() > 0.5 && m.roc_auc.is_some(),
                        "{algorithm:?} {m:?}"
                    )
                }
                artifact::Task::Regression => {
                    assert!(m.rmse.is_some() && m.r2.is_some(), "{algorithm:?} {m:?}")
                }
            }
        }
    }

    #[test]
    fn deep_trees_and_forests_score_like_smartcore_on_every_row() {
        // depth 10 is the benchmark's forest (the lock-step perfect layout); unlimited depth
        // grows trees past the perfect layout's limit (the pointer walk)
        let dir = tempfile::tempdir().unwrap();
        let base = dataset(dir.path(), 1500);
        for max_depth in [Some(10), None] {
            for algorithm in [
                Algorithm::RandomForestClassifier,
                Algorithm::DecisionTreeClassifier,
                Algorithm::RandomForestRegressor,
                Algorithm::DecisionTreeRegressor,
            ] {
                let params = HyperParams {
                    max_depth,
                    ..params()
                };
                let (t, d) = trained_with(&base, algorithm, &params);
                let model = Model::from_slice(&t.artifact_json().unwrap(), "m.json").unwrap();
                let nf = d.features.len();
                let mut preds = Predictions::default();
                model.predict(&d.x, &mut preds).unwrap();
                let reference = t.fitted.smartcore_predict(&d.x, nf).unwrap();
                assert_eq!(reference.len(), 1500);
                for (row, want) in reference.iter().enumerate() {
                    let got = match algorithm.task() {
                        artifact::Task::Classification => f64::from(preds.class[row]),
                        artifact::Task::Regression => preds.value[row],
                    };
                    assert!(
                        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                        "{algorithm:?} depth {max_depth:?} row {row}: kernel {got}, smartcore {want}"
                    );
                }
            }
        }
    }

    /// The writer puts the header first, the kernel last and `kind` first in the kernel; a
    /// document rewritten in another order (by a tool, by hand) is the same artifact.
    #[test]
    fn artifacts_read_the_same_whatever_the_order_of_their_fields() {
        fn reversed(v: serde_json::Value) -> serde_json::Value {
            match v {
                serde_json::Value::Object(o) => {
                    let mut pairs: Vec<_> = o.into_iter().collect();
                    pairs.reverse();
                    pairs.into_iter().map(|(k, v)| (k, reversed(v))).collect()
                }
                other => other,
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let base = dataset(dir.path(), 300);
        for algorithm in ALL {
            let (t, data) = trained(&base, algorithm);
            let written = t.artifact_json().unwrap();
            let doc: serde_json::Value = serde_json::from_slice(&written).unwrap();
            let rewritten = serde_json::to_vec(&reversed(doc)).unwrap();
            assert!(rewritten.starts_with(b"{\"kernel\":"), "{algorithm:?}");
            let (a, b) = (
                Model::from_slice(&written, "m.json").unwrap(),
                Model::from_slice(&rewritten, "m.json").unwrap(),
            );
            assert_eq!(a.header, b.header, "{algorithm:?}");
            let (mut pa, mut pb) = (Predictions::default(), Predictions::default());
            a.predict(&data.x, &mut pa).unwrap();
            b.predict(&data.x, &mut pb).unwrap();
            assert_eq!(pa, pb, "{algorithm:?}");
        }
    }

    #[test]
    fn logistic_probabilities_are_the_sigmoid_of_the_coefficients() {
        let dir = tempfile::tempdir().unwrap();
        let data = dataset(dir.path(), 300);
        let (t, _) = trained(&data, Algorithm::LogisticRegression);
        let Fitted::Logistic(lr) = &t.fitted else {
            panic!("not logistic")
        };
        use smartcore::linalg::basic::arrays::Array;
        let nf = data.features.len();
        let model = Model::from_slice(&t.artifact_json().unwrap(), "m").unwrap();
        let mut preds = Predictions::default();
        model.predict(&data.x, &mut preds).unwrap();
        for (r, row) in data.x.chunks(nf).enumerate() {
            let z: f64 = (0..nf)
                .map(|j| lr.coefficients().get((0, j)) * row[j])
                .sum::<f64>()
                + lr.intercept().get((0, 0));
            let p = 1.0 / (1.0 + (-z).exp());
            assert!((preds.proba[2 * r + 1] - p).abs() < 1e-12, "row {r}");
            assert!((preds.proba[2 * r] - (1.0 - p)).abs() < 1e-12, "row {r}");
        }
        assert_eq!(sigmoid(0.0), 0.5);
    }

    #[test]
    fn tree_kernels_keep_every_node() {
        let dir = tempfile::tempdir().unwrap();
        let data = dataset(dir.path(), 300);
        let (t, _) = trained(&data, Algorithm::RandomForestClassifier);
        let Some(Kernel::Forest { trees, .. }) = &t.kernel else {
            panic!("no forest kernel")
        };
        assert_eq!(trees.len(), 7);
        assert!(trees.iter().all(|t| t.feature.len() > 1));
    }

    /// Version 2: smartcore's own form of the model is written only where it is what scores
    /// (k-NN); a tree or forest carries its kernel alone.
    #[test]
    fn artifacts_carry_smartcores_form_only_where_no_kernel_scores() {
        let dir = tempfile::tempdir().unwrap();
        let base = dataset(dir.path(), 300);
        for algorithm in ALL {
            let (t, _) = trained(&base, algorithm);
            let doc: serde_json::Value =
                serde_json::from_slice(&t.artifact_json().unwrap()).unwrap();
            assert_eq!(doc["format_version"], 2, "{algorithm:?}");
            let knn = algorithm == Algorithm::KnnClassifier;
            assert_eq!(doc.get("model").is_some(), knn, "{algorithm:?}");
            assert_eq!(doc["kernel"].is_null(), knn, "{algorithm:?}");
        }
        // a k-NN artifact without smartcore's form has nothing to score with
        let (t, _) = trained(&base, Algorithm::KnnClassifier);
        let mut doc: serde_json::Value =
            serde_json::from_slice(&t.artifact_json().unwrap()).unwrap();
        doc.as_object_mut().unwrap().remove("model");
        let e = refused(&serde_json::to_vec(&doc).unwrap());
        assert!(
            e.contains("corrupt") && e.contains("missing field `model`"),
            "{e}"
        );
    }

    /// Artifacts of format version 1, written by the last build that wrote it (with smartcore's
    /// form of every model), still load and predict exactly what that build predicted.
    #[test]
    fn version_1_artifacts_score_as_the_build_that_wrote_them_did() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/artifact-v1");
        let dir = tempfile::tempdir().unwrap();
        for name in ["forest-classifier", "tree-regressor", "logistic"] {
            let artifact = fixtures.join(format!("{name}.json"));
            let bytes = std::fs::read(&artifact).unwrap();
            let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert!(
                doc["model"].is_object(),
                "{name}: the fixture is not version 1"
            );
            let model = Model::from_slice(&bytes, name).unwrap();
            assert_eq!(model.header.format_version, 1, "{name}");
            let out = format!("out-{name}/");
            let manifest = score_local(
                dir.path(),
                &artifact,
                &fixtures.join("rows.csv"),
                &out,
                BadRowPolicy::Fail,
                Shard::SINGLE,
            )
            .unwrap();
            assert_eq!(manifest.rows_scored, 20, "{name}");
            let got = std::fs::read_to_string(dir.path().join(&out).join("part-0.csv")).unwrap();
            let want =
                std::fs::read_to_string(fixtures.join(format!("{name}.predictions.csv"))).unwrap();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn format_versions_before_the_oldest_read_are_refused_naming_the_versions_read() {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(logistic_model(dir.path())).unwrap();
        let zero = text.replace("\"format_version\":2", "\"format_version\":0");
        let e = refused(zero.as_bytes());
        assert!(
            e.contains("unknown format version 0") && e.contains("versions 1 to 2"),
            "{e}"
        );
    }

    fn refused(doc: &[u8]) -> String {
        Model::from_slice(doc, "s3://b/models/m.json")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn unusable_artifacts_are_refused_saying_why() {
        let dir = tempfile::tempdir().unwrap();
        let good = std::fs::read(logistic_model(dir.path())).unwrap();
        let text = String::from_utf8(good.clone()).unwrap();

        let e = refused(&good[..good.len() / 2]);
        assert!(
            e.contains("truncated") && e.contains("s3://b/models/m.json"),
            "{e}"
        );

        let newer = text.replace("\"format_version\":2", "\"format_version\":9");
        let e = refused(newer.as_bytes());
        assert!(e.contains("newer") && e.contains("upgrade"), "{e}");

        let unknown = text.replace("\"format_version\":2", "\"format_version\":\"one\"");
        assert!(refused(unknown.as_bytes()).contains("unknown format version"));

        let other = text.replace("stepscore-model", "something-else");
        assert!(refused(other.as_bytes()).contains("not a stepscore model artifact"));

        assert!(refused(b"{\"format\": ]").contains("corrupt"));

        let bad_field = text.replace("\"features\":[", "\"features\":[1,");
        let e = refused(bad_field.as_bytes());
        assert!(
            e.contains("corrupt") && e.contains("field `features`"),
            "{e}"
        );

        let bad_kernel = text.replace("\"intercepts\":[", "\"intercepts\":[1.0,");
        let e = refused(bad_kernel.as_bytes());
        assert!(e.contains("corrupt") && e.contains("kernel"), "{e}");
    }
}

/// Corrupt and hostile artifacts of every algorithm: loading and scoring one either works or
/// refuses it as corrupt (exit 65), never panics, hangs or takes memory out of proportion.
mod artifact_mutations {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::Index;
    use serde_json::{Value, json};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    /// One small trained artifact per algorithm, as JSON.
    fn originals() -> &'static Vec<Value> {
        static ORIGINALS: OnceLock<Vec<Value>> = OnceLock::new();
        ORIGINALS.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let base = dataset(dir.path(), 240);
            ALL.iter()
                .map(|&a| {
                    let params = HyperParams {
                        n_trees: 3,
                        max_depth: Some(4),
                        ..params()
                    };
                    let (t, _) = trained_with(&base, a, &params);
                    serde_json::from_slice(&t.artifact_json().unwrap()).unwrap()
                })
                .collect()
        })
    }

    /// Paths (JSON pointers) to every number and every array in `v`.
    fn places(v: &Value, at: &str, numbers: &mut Vec<String>, arrays: &mut Vec<String>) {
        match v {
            Value::Number(_) => numbers.push(at.to_owned()),
            Value::Array(items) => {
                arrays.push(at.to_owned());
                for (i, item) in items.iter().enumerate() {
                    places(item, &format!("{at}/{i}"), numbers, arrays);
                }
            }
            Value::Object(m) => {
                for (k, item) in m {
                    places(item, &format!("{at}/{k}"), numbers, arrays);
                }
            }
            _ => {}
        }
    }

    /// A tree of `n` nodes as the kernel stores it, its node `i` split into `links(i)`.
    fn tree(n: usize, links: impl Fn(usize) -> Option<(usize, usize)>) -> Value {
        let (mut left, mut right) = (vec![0; n], vec![0; n]);
        for i in 0..n {
            if let Some((l, r)) = links(i) {
                left[i] = l;
                right[i] = r;
            }
        }
        json!({
            "feature": vec![0; n],
            "threshold": vec![0.5; n],
            "left": left,
            "right": right,
            "value": vec![1.0; n],
        })
    }

    /// The structural attacks, then generic ones on any number or array of the document.
    #[derive(Debug, Clone)]
    enum Mutation {
        /// Child `which` of node `node` of a tree becomes `to` (shared children, cycles,
        /// out-of-range indices).
        Relink {
            tree: Index,
            node: Index,
            which: bool,
            to: i64,
        },
        /// A tree replaced by a chain of `depth` splits.
        Chain { depth: usize },
        /// A tree whose nodes each point both children at the next one (2^levels paths).
        Diamond { levels: usize },
        /// A forest of one deep sparse tree among many shallow ones (padding blow-up).
        Sparse { depth: usize, trees: usize },
        /// A field of the document set to a value.
        Set { pointer: &'static str, value: Value },
        /// A number somewhere set to a value.
        Number { at: Index, value: Value },
        /// An element of an array somewhere removed, or the array emptied.
        Shorten { at: Index, empty: bool },
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let odd_number = prop::sample::select(vec![
            json!(-1),
            json!(0),
            json!(1),
            json!(3),
            json!(0.5),
            json!(1e300),
            json!(-1e300),
            json!(4294967295u64),
            json!(null),
        ]);
        let field = prop::sample::select(vec![
            ("/model/k", json!(0)),
            ("/model/k", json!(1_000_000)),
            ("/model/classes", json!([])),
            ("/model/classes", json!([-1, 0])),
            ("/model/y/0", json!(99)),
            ("/model/weight", json!("Distance")),
            ("/class_labels", json!([])),
            ("/class_labels", json!(["only"])),
            ("/features", json!([])),
            ("/features", json!(["f0"])),
            ("/kernel/trees", json!([])),
            ("/kernel/coefficients", json!([[1.0]])),
            ("/kernel/intercepts", json!([])),
            ("/kernel/combine", json!("mean")),
            ("/task", json!("regression")),
            ("/kernel", json!(null)),
        ]);
        prop_oneof![
            (any::<Index>(), any::<Index>(), any::<bool>(), -2i64..40).prop_map(
                |(tree, node, which, to)| Mutation::Relink {
                    tree,
                    node,
                    which,
                    to
                }
            ),
            prop::sample::select(vec![50usize, 9_000, 20_000, 200_000])
                .prop_map(|depth| Mutation::Chain { depth }),
            (2usize..64).prop_map(|levels| Mutation::Diamond { levels }),
            (8usize..13, 1usize..300).prop_map(|(depth, trees)| Mutation::Sparse { depth, trees }),
            field.prop_map(|(pointer, value)| Mutation::Set { pointer, value }),
            (any::<Index>(), odd_number).prop_map(|(at, value)| Mutation::Number { at, value }),
            (any::<Index>(), any::<bool>()).prop_map(|(at, empty)| Mutation::Shorten { at, empty }),
        ]
    }

    fn apply(doc: &mut Value, m: &Mutation) {
        let trees = doc
            .pointer_mut("/kernel/trees")
            .and_then(Value::as_array_mut);
        match m {
            Mutation::Relink {
                tree,
                node,
                which,
                to,
            } => {
                let Some(trees) = trees else { return };
                if trees.is_empty() {
                    return;
                }
                let k = tree.index(trees.len());
                let side = if *which { "left" } else { "right" };
                // earlier mutations may have emptied or replaced the tree's links
                let Some(links) = trees[k]
                    .get_mut(side)
                    .and_then(Value::as_array_mut)
                    .filter(|l| !l.is_empty())
                else {
                    return;
                };
                let i = node.index(links.len());
                links[i] = json!(to);
            }
            Mutation::Chain { depth } => {
                // an earlier mutation may have emptied the forest
                if let Some(trees) = trees.filter(|t| !t.is_empty()) {
                    trees[0] = tree(2 * depth + 1, |i| {
                        (i % 2 == 0 && i < 2 * depth).then_some((i + 1, i + 2))
                    });
                }
            }
            Mutation::Diamond { levels } => {
                // an earlier mutation may have emptied the forest
                if let Some(trees) = trees.filter(|t| !t.is_empty()) {
                    trees[0] = tree(levels + 1, |i| (i < *levels).then_some((i + 1, i + 1)));
                }
            }
            Mutation::Sparse { depth, trees: n } => {
                if let Some(trees) = trees {
                    let chain = tree(2 * depth + 1, |i| {
                        (i % 2 == 0 && i < 2 * depth).then_some((i + 1, i + 2))
                    });
                    let stump = tree(3, |i| (i == 0).then_some((1, 2)));
                    *trees = std::iter::once(chain)
                        .chain(std::iter::repeat_n(stump, *n))
                        .collect();
                }
            }
            Mutation::Set { pointer, value } => {
                if let Some(v) = doc.pointer_mut(pointer) {
                    *v = value.clone();
                }
            }
            Mutation::Number { at, value } => {
                let (mut numbers, mut arrays) = (Vec::new(), Vec::new());
                places(doc, "", &mut numbers, &mut arrays);
                if !numbers.is_empty() {
                    *doc.pointer_mut(&numbers[at.index(numbers.len())]).unwrap() = value.clone();
                }
            }
            Mutation::Shorten { at, empty } => {
                let (mut numbers, mut arrays) = (Vec::new(), Vec::new());
                places(doc, "", &mut numbers, &mut arrays);
                if arrays.is_empty() {
                    return;
                }
                let a = doc
                    .pointer_mut(&arrays[at.index(arrays.len())])
                    .unwrap()
                    .as_array_mut()
                    .unwrap();
                if *empty {
                    a.clear();
                } else {
                    a.pop();
                }
            }
        }
    }

    /// Loads and scores `bytes`; the outcome must be a model, a refusal or a model fault, all of
    /// which the scorer turns into exit 0 or 65.
    fn load_and_score(bytes: &[u8]) -> Result<(), String> {
        let model = match Model::from_slice(bytes, "m.json") {
            Ok(m) => m,
            Err(e) => {
                let e = stepscore_batch::Error::from(e);
                assert_eq!(e.exit_code(), 65, "{e}");
                return Err(e.to_string());
            }
        };
        let nf = model.n_features();
        let x: Vec<f64> = (0..nf * 37).map(|i| (i % 11) as f64 * 0.3 - 1.5).collect();
        let mut preds = Predictions::default();
        model.predict(&x, &mut preds)?;
        let rows = match model.task() {
            artifact::Task::Classification => preds.class.len(),
            artifact::Task::Regression => preds.value.len(),
        };
        assert_eq!(rows, 37);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn mutated_artifacts_load_and_score_or_are_refused(
            algorithm in 0..ALL.len(),
            mutations in prop::collection::vec(mutation(), 1..3),
        ) {
            let mut doc = originals()[algorithm].clone();
            for m in &mutations {
                apply(&mut doc, m);
            }
            let bytes = serde_json::to_vec(&doc).unwrap();
            let started = Instant::now();
            let _ = load_and_score(&bytes);
            prop_assert!(
                started.elapsed() < Duration::from_secs(20),
                "{:?} {:?} took {:?}",
                ALL[algorithm],
                mutations,
                started.elapsed()
            );
        }
    }

    /// Regressions: each of these passed validation and then hung the scorer (a 2 KB graph of
    /// shared children), overflowed its stack (a 500,000-deep chain) or made smartcore panic
    /// (k-NN bodies were not validated).
    #[test]
    fn hostile_artifacts_are_refused_as_corrupt_saying_where() {
        let forest = originals()[1].clone();
        let knn = originals()[7].clone();
        for (doc, m, want) in [
            (
                &forest,
                Mutation::Diamond { levels: 60 },
                "is a child of both node",
            ),
            (
                &forest,
                Mutation::Chain { depth: 250_000 },
                "deeper than the 10000 levels",
            ),
            (
                &knn,
                Mutation::Set {
                    pointer: "/model/k",
                    value: json!(0),
                },
                "k is 0",
            ),
            (
                &knn,
                Mutation::Set {
                    pointer: "/model/y/0",
                    value: json!(99),
                },
                "training row 0 has class 99",
            ),
            (
                &knn,
                Mutation::Set {
                    pointer: "/model/classes",
                    value: json!([]),
                },
                "class list is empty",
            ),
            (
                // a kernel in a k-NN artifact would score in place of the k-NN model, unchecked
                // (a forest over other features, indexing past each row)
                &knn,
                Mutation::Set {
                    pointer: "/kernel",
                    value: Value::clone(&originals()[1]["kernel"]),
                },
                "a k-NN artifact has no kernel",
            ),
        ] {
            let mut doc = doc.clone();
            apply(&mut doc, &m);
            let e = load_and_score(&serde_json::to_vec(&doc).unwrap()).unwrap_err();
            assert!(e.starts_with("corrupt model artifact: "), "{e}");
            assert!(e.contains(want) && e.contains("m.json"), "{m:?}: {e}");
        }
    }

    /// What the mutation test found: finite k-NN training rows at far-apart scales (1e-300 beside
    /// 1e300) made smartcore's cover tree recurse once per scale level until the stack overflowed,
    /// aborting the scorer. Such an artifact now loads; scoring with it succeeds or fails as a
    /// model error (the distance weights can sum to zero), never aborts.
    #[test]
    fn knn_rows_at_far_apart_scales_never_overflow_the_stack() {
        let mut knn = originals()[7].clone();
        let index = knn["model"]["knn_algorithm"]
            .as_object_mut()
            .and_then(|o| o.values_mut().next())
            .expect("a k-NN index");
        let rows = index["data"].as_array_mut().expect("training rows");
        for (i, row) in rows.iter_mut().enumerate() {
            for (j, v) in row.as_array_mut().unwrap().iter_mut().enumerate() {
                let exponent = if (i + j) % 2 == 0 { -300 } else { 300 };
                *v = json!(((i * 7 + j) % 13 + 1) as f64 * 10f64.powi(exponent));
            }
        }
        match load_and_score(&serde_json::to_vec(&knn).unwrap()) {
            Ok(()) => {}
            Err(e) => assert!(e.starts_with("k-NN predict"), "{e}"),
        }
    }
}

#[path = "batch/formats.rs"]
mod formats;

mod csv_input {
    use super::*;

    const HEADER: &str = "id,f0,f1,f2,f3,f4,label";

    fn check(body: &[u8], policy: BadRowPolicy) -> (Result<ScoringManifest, String>, PathBuf) {
        let dir = tempfile::tempdir().unwrap().keep();
        let model = logistic_model(&dir);
        let input = write(&dir, "in.csv", body);
        let r = score_local(&dir, &model, &input, "out", policy, Shard::SINGLE)
            .map_err(|e| e.to_string());
        (r, dir.join("out"))
    }

    fn part(out: &Path) -> String {
        std::fs::read_to_string(out.join("part-0.csv")).unwrap()
    }

    #[test]
    fn empty_input_gives_a_header_only_part() {
        let (r, out) = check(b"", BadRowPolicy::Fail);
        assert_eq!(r.unwrap().rows_read, 0);
        assert_eq!(part(&out), "id,prediction,p_0,p_1\n");
    }

    #[test]
    fn header_only_input_gives_no_rows() {
        let (r, out) = check(format!("{HEADER}\n").as_bytes(), BadRowPolicy::Fail);
        assert_eq!(r.unwrap().rows_scored, 0);
        assert_eq!(part(&out).lines().count(), 1);
    }

    #[test]
    fn crlf_bom_and_quoted_fields_score_like_plain_lines() {
        let plain = format!("{HEADER}\na,1,2,3,4,5,0\nb,0.5,-1,2,0,1,1\n");
        let fancy = format!(
            "\u{FEFF}{}\r\n\"a\",1,\"2\",3,4,5,0\r\n\"b\",0.5,-1,2,0,1,1\r\n",
            HEADER.replace("id", "\"id\"")
        );
        let (r1, o1) = check(plain.as_bytes(), BadRowPolicy::Fail);
        let (r2, o2) = check(fancy.as_bytes(), BadRowPolicy::Fail);
        assert_eq!(r1.unwrap().rows_scored, 2);
        assert_eq!(r2.unwrap().rows_scored, 2);
        assert_eq!(part(&o1), part(&o2));
    }

    #[test]
    fn ids_with_commas_quotes_and_newlines_pass_through_quoted() {
        let body = format!("{HEADER}\n\"x,\"\"y\"\"\nz\",1,2,3,4,5,0\nplain,1,2,3,4,5,0\n");
        let (r, out) = check(body.as_bytes(), BadRowPolicy::Fail);
        assert_eq!(r.unwrap().rows_scored, 2);
        let p = part(&out);
        assert!(p.contains("\n\"x,\"\"y\"\"\nz\","), "{p}");
        assert!(p.contains("\nplain,"), "{p}");
    }

    #[test]
    fn columns_are_matched_by_name_and_extra_columns_ignored() {
        let a = format!("{HEADER}\na,1,2,3,4,5,0\n");
        let b = "extra,f4,f3,id,f2,f1,f0\nq,5,4,a,3,2,1\n";
        let (r1, o1) = check(a.as_bytes(), BadRowPolicy::Fail);
        let (r2, o2) = check(b.as_bytes(), BadRowPolicy::Fail);
        r1.unwrap();
        r2.unwrap();
        assert_eq!(part(&o1), part(&o2));
    }

    #[test]
    fn missing_features_are_all_named() {
        let (r, _) = check(b"id,f0,f2,f4\na,1,2,3\n", BadRowPolicy::Fail);
        let e = r.unwrap_err();
        assert!(e.contains("the model needs: f1, f3;"), "{e}");
    }

    #[test]
    fn bad_values_fail_naming_file_line_column_and_value() {
        for (row, column, value) in [
            ("a,1,2,x7,4,5,0", "f2", "x7"),
            ("a,1,2,3,NaN,5,0", "f3", "NaN"),
            ("a,1,2,3,4,inf,0", "f4", "inf"),
            ("a,,2,3,4,5,0", "f0", ""),
        ] {
            let body = format!("{HEADER}\nok,1,2,3,4,5,0\n{row}\n");
            let (r, out) = check(body.as_bytes(), BadRowPolicy::Fail);
            let e = r.unwrap_err();
            assert!(e.contains("in.csv line 3"), "{e}");
            assert!(
                e.contains(&format!("column '{column}' value '{value}'")),
                "{e}"
            );
            assert!(
                !out.join("part-0.csv").exists(),
                "a failed run publishes no part"
            );
        }
    }

    #[test]
    fn many_chunks_come_out_in_input_order_with_their_line_numbers() {
        // ~8 MiB: more 1 MiB chunks than the scorer keeps in flight, scored by several workers
        let rows = 130_000u64;
        let csv = bench_csv(rows, 21);
        let mut lines: Vec<String> = csv.lines().map(str::to_owned).collect();
        let bad_line = 100_001; // 1-based, the header is line 1
        lines[bad_line - 1] = lines[bad_line - 1].replacen(",", ",x", 2);
        let (r, out) = check((lines.join("\n") + "\n").as_bytes(), BadRowPolicy::Skip);
        let m = r.unwrap();
        assert_eq!(
            (m.rows_read, m.rows_scored, m.rows_rejected),
            (rows, rows - 1, 1)
        );
        let ids: Vec<u64> = part(&out)
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect();
        let want: Vec<u64> = (0..rows).filter(|&i| i != bad_line as u64 - 2).collect();
        assert_eq!(ids, want);
        let rejects = std::fs::read_to_string(out.join("rejects-0.csv")).unwrap();
        assert!(
            rejects
                .lines()
                .nth(1)
                .unwrap()
                .contains(&format!(",{bad_line},")),
            "{rejects}"
        );
    }

    #[test]
    fn skip_writes_rejects_with_reasons_and_counts_them() {
        let body =
            format!("{HEADER}\nok1,1,2,3,4,5,0\nbad,1,2,zz,4,5,0\nragged,1,2\n\nok2,1,2,3,4,5,1\n");
        let (r, out) = check(body.as_bytes(), BadRowPolicy::Skip);
        let m = r.unwrap();
        assert_eq!((m.rows_read, m.rows_scored, m.rows_rejected), (4, 2, 2));
        assert!(m.rejects.unwrap().ends_with("rejects-0.csv"));
        let rejects = std::fs::read_to_string(out.join("rejects-0.csv")).unwrap();
        let lines: Vec<&str> = rejects.lines().collect();
        assert_eq!(lines[0], "source,line,byte_offset,reason,row");
        assert!(
            lines[1].contains(",3,") && lines[1].contains("value 'zz'"),
            "{rejects}"
        );
        assert!(
            lines[2].contains(",4,") && lines[2].contains("3 field(s), the header has 7"),
            "{rejects}"
        );
        assert_eq!(part(&out).lines().count(), 3);
    }

    #[test]
    fn very_long_lines_cross_chunk_boundaries() {
        let long_id = "i".repeat(3 << 20);
        let body = format!("{HEADER}\n{long_id},1,2,3,4,5,0\nb,1,2,3,4,5,0\n");
        let (r, out) = check(body.as_bytes(), BadRowPolicy::Fail);
        assert_eq!(r.unwrap().rows_scored, 2);
        assert!(part(&out).contains(&long_id));
    }

    /// Regression: a stray `"` inside an unquoted field (`3 5" screen`) was taken to open a
    /// quoted field, so each pair of such rows became one record: 60,000 rows in, 30,100 scored,
    /// 0 rejected, and the job succeeded. The csv crate and pandas read the quote as a literal.
    #[test]
    fn a_quote_inside_an_unquoted_field_is_a_literal_character() {
        let dir = tempfile::tempdir().unwrap();
        let model = logistic_model(dir.path());
        let rows = 60_000u64;
        let mut body = String::from("id,desc,f0,f1,f2,f3,f4,label\n");
        for i in 0..rows {
            body.push_str(&format!("{i},3 5\" screen,1,2,{}.5,4,5,0\n", i % 7));
        }
        let input = write(dir.path(), "screens.csv", body);
        for shards in [1u32, 3, 8] {
            let mut scored = 0;
            for index in 0..shards {
                let m = score_local(
                    dir.path(),
                    &model,
                    &input,
                    &format!("out-{shards}"),
                    BadRowPolicy::Skip,
                    Shard {
                        index,
                        count: shards,
                    },
                )
                .unwrap();
                assert_eq!(m.rows_read, m.rows_scored + m.rows_rejected);
                assert_eq!(m.rows_rejected, 0, "{shards} shard(s)");
                scored += m.rows_scored;
            }
            assert_eq!(scored, rows, "{shards} shard(s)");
        }
    }

    /// Regression: with CR-only line ends the whole file was one line, read as a header and no
    /// rows, and the job succeeded; the csv crate ends a record at a lone CR.
    #[test]
    fn cr_only_line_ends_are_records() {
        let body = format!("{HEADER}\ra,1,2,3,4,5,0\rb,0.5,-1,2,0,1,1\r");
        let (r, out) = check(body.as_bytes(), BadRowPolicy::Fail);
        assert_eq!(r.unwrap().rows_scored, 2);
        let (r2, o2) = check(
            format!("{HEADER}\na,1,2,3,4,5,0\nb,0.5,-1,2,0,1,1\n").as_bytes(),
            BadRowPolicy::Fail,
        );
        r2.unwrap();
        assert_eq!(part(&out), part(&o2));
    }

    /// Regression: a blank line before the header was taken as an empty header and the input
    /// as holding no rows; the csv crate (and pandas) skip blank lines, the header's too.
    #[test]
    fn blank_lines_before_the_header_are_skipped() {
        let body = format!("\n\r\n{HEADER}\na,1,2,3,4,5,0\n");
        let (r, _) = check(body.as_bytes(), BadRowPolicy::Fail);
        assert_eq!(r.unwrap().rows_scored, 1);
        let bad = format!("\n\n{HEADER}\na,1,2,x,4,5,0\n");
        let (r, _) = check(bad.as_bytes(), BadRowPolicy::Fail);
        let e = r.unwrap_err();
        assert!(e.contains("in.csv line 4"), "{e}");
    }

    #[test]
    fn a_missing_input_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let model = logistic_model(dir.path());
        let e = score_local(
            dir.path(),
            &model,
            &dir.path().join("nope.csv"),
            "out",
            BadRowPolicy::Fail,
            Shard::SINGLE,
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 66, "{e}");
    }
}

mod sharding {
    use super::*;
    use proptest::prelude::*;

    fn concat_parts(out: &Path, n: u32) -> Vec<String> {
        let mut rows = Vec::new();
        for i in 0..n {
            let p = std::fs::read_to_string(out.join(format!("part-{i}.csv"))).unwrap();
            rows.extend(p.lines().skip(1).map(str::to_owned));
        }
        rows
    }

    fn run_sharded(dir: &Path, model: &Path, input: &Path, n: u32, out: &str) -> Vec<String> {
        for i in 0..n {
            let m = score_local(
                dir,
                model,
                input,
                out,
                BadRowPolicy::Fail,
                Shard { index: i, count: n },
            )
            .unwrap();
            assert_eq!((m.shard_index, m.shard_count), (i, n));
            assert!(dir.join(out).join(format!("manifest-{i}.json")).exists());
        }
        concat_parts(&dir.join(out), n)
    }

    #[test]
    fn by_file_shards_concatenate_to_the_unsharded_rows() {
        let dir = tempfile::tempdir().unwrap();
        let model = logistic_model(dir.path());
        let csv = bench_csv(500, 11);
        let lines: Vec<&str> = csv.lines().collect();
        for (k, part) in lines[1..].chunks(90).enumerate() {
            write(
                dir.path(),
                &format!("in/{k:02}.csv"),
                format!("{}\n{}\n", lines[0], part.join("\n")),
            );
        }
        let input = dir.path().join("in");
        let whole = run_sharded(dir.path(), &model, &input, 1, "one");
        let mut sharded = run_sharded(dir.path(), &model, &input, 3, "three");
        assert_eq!(whole.len(), 500);
        let mut sorted_whole = whole.clone();
        sorted_whole.sort();
        sharded.sort();
        assert_eq!(sharded, sorted_whole);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]
        #[test]
        fn byte_range_shards_concatenate_to_the_unsharded_rows(rows in 0u64..120, n in 1u32..9, crlf: bool) {
            let dir = tempfile::tempdir().unwrap();
            let model = logistic_model(dir.path());
            let mut csv = bench_csv(rows, 5);
            if crlf {
                csv = csv.replace('\n', "\r\n");
            }
            let input = write(dir.path(), "in.csv", csv);
            let whole = run_sharded(dir.path(), &model, &input, 1, "one");
            let sharded = run_sharded(dir.path(), &model, &input, n, "many");
            prop_assert_eq!(whole.len() as u64, rows);
            prop_assert_eq!(sharded, whole);
        }
    }

    /// The bench data with every other id turned into a quoted field holding newlines, a comma
    /// and doubled quotes (long enough that byte-range boundaries land inside them), and every
    /// third row's quoted id breaking its line with CRLF when `crlf`.
    fn multiline_ids_csv(rows: u64, crlf: bool) -> String {
        let csv = bench_csv(rows, 9);
        let mut out = String::new();
        for (i, line) in csv.lines().enumerate() {
            let (id, rest) = line.split_once(',').unwrap();
            if i > 0 && i % 2 == 0 {
                let nl = if crlf && i % 3 == 0 { "\r\n" } else { "\n" };
                out.push_str(&format!(
                    "\"row {id}{nl}a second line, with a comma{nl}and a \"\"quoted\"\" word\",{rest}"
                ));
            } else {
                out.push_str(line);
            }
            out.push_str(if crlf { "\r\n" } else { "\n" });
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8))]
        #[test]
        fn byte_range_shards_of_multiline_quoted_rows_concatenate_to_the_unsharded_rows(rows in 0u64..80, n in 2u32..13, crlf: bool) {
            let dir = tempfile::tempdir().unwrap();
            let model = logistic_model(dir.path());
            let input = write(dir.path(), "quoted.csv", multiline_ids_csv(rows, crlf));
            let whole = run_sharded(dir.path(), &model, &input, 1, "one");
            let sharded = run_sharded(dir.path(), &model, &input, n, "many");
            prop_assert_eq!(sharded, whole);
        }
    }

    /// Regression: byte ranges were aligned to physical line starts, so a shard boundary inside
    /// a quoted field cut the record in two (one half scored twice or a row lost).
    #[test]
    fn byte_range_shards_never_cut_a_quoted_field_holding_newlines() {
        let dir = tempfile::tempdir().unwrap();
        let model = logistic_model(dir.path());
        for crlf in [false, true] {
            let input = write(dir.path(), "quoted.csv", multiline_ids_csv(60, crlf));
            let whole = run_sharded(dir.path(), &model, &input, 1, "one");
            assert_eq!(whole.iter().filter(|l| l.starts_with("\"row ")).count(), 30);
            for n in [2, 3, 5, 7, 11, 16, 29] {
                let out = format!("many-{crlf}-{n}");
                let sharded = run_sharded(dir.path(), &model, &input, n, &out);
                assert_eq!(sharded, whole, "{n} shards, crlf {crlf}");
            }
        }
    }
}

mod binary {
    use super::*;
    use std::process::Command;

    fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stepscore-batch"));
        cmd.args(args).current_dir(dir);
        for k in [
            "AWS_BATCH_JOB_ARRAY_INDEX",
            "STEPSCORE_SHARDS",
            "AWS_BATCH_JOB_ID",
        ] {
            cmd.env_remove(k);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn train_then_score_from_the_environment_exits_zero() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "train.csv", bench_csv(300, 1));
        let (code, err) = run(
            dir.path(),
            &[
                "train",
                "--input",
                "train.csv",
                "--target",
                "label",
                "--algorithm",
                "random-forest-classifier",
                "--n-trees",
                "5",
                "--max-depth",
                "4",
                "--output",
                "m.json",
            ],
            &[],
        );
        assert_eq!(code, 0, "{err}");
        let (code, err) = run(
            dir.path(),
            &[],
            &[
                ("STEPSCORE_MODEL", "m.json"),
                ("STEPSCORE_INPUT", "train.csv"),
                ("STEPSCORE_OUTPUT", "out"),
                ("STEPSCORE_JOB_ID", "j-1"),
                ("AWS_BATCH_JOB_ID", "b-1"),
            ],
        );
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains("\"scoring finished\""),
            "JSON logs under Batch: {err}"
        );
        let m: ScoringManifest =
            serde_json::from_slice(&std::fs::read(dir.path().join("out/manifest-0.json")).unwrap())
                .unwrap();
        assert_eq!((m.job_id.as_str(), m.rows_scored), ("j-1", 300));
    }

    #[test]
    fn a_run_reports_its_progress_beside_its_output_and_ends_with_a_complete_report() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "train.csv", bench_csv(300, 1));
        let (code, err) = run(
            dir.path(),
            &[
                "train",
                "--input",
                "train.csv",
                "--target",
                "label",
                "--algorithm",
                "logistic-regression",
                "--output",
                "m.json",
            ],
            &[],
        );
        assert_eq!(code, 0, "{err}");
        // 4 MiB of rows: several chunks, so reports are written while the run goes on
        write(dir.path(), "big.csv", bench_csv(40_000, 2));
        let (code, err) = run(
            dir.path(),
            &[],
            &[
                ("STEPSCORE_MODEL", "m.json"),
                ("STEPSCORE_INPUT", "big.csv"),
                ("STEPSCORE_OUTPUT", "out"),
                ("STEPSCORE_JOB_ID", "j-7"),
                ("STEPSCORE_PROGRESS_SECONDS", "0.000001"),
                ("AWS_BATCH_JOB_ID", "b-7:0"),
            ],
        );
        assert_eq!(code, 0, "{err}");
        assert!(err.contains("progress"), "progress log lines: {err}");
        let p: stepscore_core::manifest::ScoringProgress =
            serde_json::from_slice(&std::fs::read(dir.path().join("out/progress-0.json")).unwrap())
                .unwrap();
        let size = std::fs::metadata(dir.path().join("big.csv")).unwrap().len();
        assert!(p.done, "{p:?}");
        assert_eq!(p.job_id, "j-7");
        // the pipeline tells this attempt's reports from an earlier one's by it
        assert_eq!(p.batch_job_id.as_deref(), Some("b-7:0"));
        assert_eq!(
            (p.rows_read, p.rows_scored, p.rows_rejected),
            (40_000, 40_000, 0)
        );
        assert_eq!((p.bytes_read, p.bytes_total), (size, size));

        // a bad interval is a usage error, before any work
        let (code, err) = run(
            dir.path(),
            &[],
            &[
                ("STEPSCORE_MODEL", "m.json"),
                ("STEPSCORE_INPUT", "big.csv"),
                ("STEPSCORE_OUTPUT", "out2"),
                ("STEPSCORE_PROGRESS_SECONDS", "0"),
            ],
        );
        assert_eq!(code, 64, "{err}");
        assert!(err.contains("STEPSCORE_PROGRESS_SECONDS"), "{err}");
    }

    /// A model that fails while scoring is a model error (65) under every bad-row policy: its
    /// rows are neither rejected nor blamed. Before, it was reported as a bad row with advice to
    /// use `--on-bad-row skip`, which was already set.
    #[test]
    fn a_model_fault_under_skip_is_a_model_error_not_a_rejected_row() {
        let dir = tempfile::tempdir().unwrap();
        let data = dataset(dir.path(), 200);
        let (t, _) = trained(&data, Algorithm::KnnClassifier);
        let text = String::from_utf8(t.artifact_json().unwrap()).unwrap();
        // inverse-distance weights: rows infinitely far from every training row weigh nothing,
        // and smartcore cannot normalise the votes
        let distance = text.replace("\"weight\":\"Uniform\"", "\"weight\":\"Distance\"");
        assert_ne!(distance, text);
        write(dir.path(), "knn.json", distance);
        write(
            dir.path(),
            "far.csv",
            "id,f0,f1,f2,f3,f4\na,1e200,1e200,1e200,1e200,1e200\n",
        );
        let (code, err) = run(
            dir.path(),
            &[
                "score",
                "--model",
                "knn.json",
                "--input",
                "far.csv",
                "--output",
                "out",
                "--on-bad-row",
                "skip",
            ],
            &[],
        );
        assert_eq!(code, 65, "{err}");
        assert!(
            err.contains("model knn.json failed scoring the rows of far.csv"),
            "{err}"
        );
        assert!(!err.contains("bad row"), "{err}");
        assert!(!dir.path().join("out/rejects-0.csv").exists());
        assert!(!dir.path().join("out/part-0.csv").exists());
    }

    #[test]
    fn exit_codes_separate_bad_data_missing_input_and_usage() {
        let dir = tempfile::tempdir().unwrap();
        logistic_model(dir.path());
        write(dir.path(), "bad.csv", "id,f0,f1,f2,f3,f4\na,1,2,oops,4,5\n");
        let score = |input: &str| {
            run(
                dir.path(),
                &[
                    "score",
                    "--model",
                    "model.json",
                    "--input",
                    input,
                    "--output",
                    "out",
                ],
                &[],
            )
        };
        let (code, err) = score("bad.csv");
        assert_eq!(code, 65, "{err}");
        assert!(
            err.contains("bad.csv line 2") && err.contains("'oops'"),
            "{err}"
        );
        assert_eq!(score("missing.csv").0, 66);
        write(
            dir.path(),
            "broken.json",
            "{\"format\":\"stepscore-model\",",
        );
        let (code, err) = run(
            dir.path(),
            &[
                "score",
                "--model",
                "broken.json",
                "--input",
                "bad.csv",
                "--output",
                "o",
            ],
            &[],
        );
        assert_eq!(code, 65, "{err}");
        assert!(err.contains("truncated"), "{err}");
        assert_eq!(run(dir.path(), &["score", "--model"], &[]).0, 64);
        let (code, err) = run(dir.path(), &[], &[]);
        assert_eq!(code, 64, "{err}");
        let (code, help) = {
            let out = Command::new(env!("CARGO_BIN_EXE_stepscore-batch"))
                .arg("--help")
                .output()
                .unwrap();
            (
                out.status.code().unwrap(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        };
        assert_eq!(code, 0);
        assert!(help.contains("75  transient"), "{help}");
    }
}

mod object_stores {
    use super::*;
    use std::process::Command;
    use stepscore_core::ObjectUri;
    use stepscore_core::ports::ObjectStore;

    fn uri(s: &str) -> ObjectUri {
        ObjectUri::parse(s).unwrap()
    }

    /// Scores shard `i` of `n` with the real binary, s3:// in and out, with `env` choosing the store.
    fn score_shard(dir: &Path, i: u32, n: u32, env: &[(&str, &str)]) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stepscore-batch"));
        cmd.current_dir(dir)
            .env_remove("AWS_BATCH_JOB_ID")
            .env_remove("STEPSCORE_LOCAL_S3_ROOT")
            .env("STEPSCORE_MODEL", "s3://models-bkt/m.json")
            .env("STEPSCORE_INPUT", "s3://data-bkt/in/data.csv")
            .env("STEPSCORE_OUTPUT", "s3://data-bkt/out/")
            .env("STEPSCORE_SHARDS", n.to_string())
            .env("AWS_BATCH_JOB_ARRAY_INDEX", i.to_string());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Uploads a model and a 2,000-row input, scores it in 3 byte-range shards and checks the
    /// concatenated parts hold every row once, in order.
    fn check_store(store: &dyn ObjectStore, rt: &tokio::runtime::Runtime, env: &[(&str, &str)]) {
        let dir = tempfile::tempdir().unwrap();
        let model = std::fs::read(logistic_model(dir.path())).unwrap();
        let csv = bench_csv(2000, 9);
        rt.block_on(async {
            store
                .put_bytes(&uri("s3://models-bkt/m.json"), model)
                .await
                .unwrap();
            store
                .put_bytes(&uri("s3://data-bkt/in/data.csv"), csv.clone().into_bytes())
                .await
                .unwrap();
        });
        for i in 0..3 {
            score_shard(dir.path(), i, 3, env);
        }
        let mut ids = Vec::new();
        for i in 0..3 {
            let part = rt
                .block_on(
                    store.get_bytes(&uri(&format!("s3://data-bkt/out/part-{i}.csv")), 1 << 26),
                )
                .unwrap();
            let text = String::from_utf8(part).unwrap();
            ids.extend(
                text.lines()
                    .skip(1)
                    .map(|l| l.split(',').next().unwrap().to_owned()),
            );
            let manifest = rt
                .block_on(store.get_bytes(
                    &uri(&format!("s3://data-bkt/out/manifest-{i}.json")),
                    1 << 20,
                ))
                .unwrap();
            let m: ScoringManifest = serde_json::from_slice(&manifest).unwrap();
            assert_eq!(m.inputs[0].uri, "s3://data-bkt/in/data.csv");
            assert!(m.inputs[0].range.is_some());
        }
        let expected: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn s3_in_and_out_against_moto() {
        let moto = stepscore_aws::moto::shared();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let store = rt.block_on(async {
            let store = stepscore_aws::S3Store::new(&moto.sdk_config().await);
            for b in ["models-bkt", "data-bkt"] {
                store
                    .client()
                    .create_bucket()
                    .bucket(b)
                    .send()
                    .await
                    .unwrap();
            }
            store
        });
        check_store(
            &store,
            &rt,
            &[
                ("AWS_ENDPOINT_URL", moto.endpoint()),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
            ],
        );
    }

    /// The deployment's layout in one bucket, as Terraform's prefixes lay it out.
    fn policy_values(bucket: &str) -> std::collections::BTreeMap<String, String> {
        [
            ("partition", "aws".to_owned()),
            ("bucket_arn", format!("arn:aws:s3:::{bucket}")),
            ("models_prefix", "models/".into()),
            ("inputs_prefix", "inputs/".into()),
            ("outputs_prefix", "outputs/".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Uploads a model and a two-file input under the deployment's prefixes into `bucket` with
    /// `setup`, then scores it in two shards with the real binary and `env`; returns each
    /// shard's exit code and stderr.
    fn score_in_deployment_layout(
        setup: &stepscore_aws::S3Store,
        rt: &tokio::runtime::Runtime,
        bucket: &str,
        env: &[(&str, &str)],
    ) -> Vec<(Option<i32>, String)> {
        let dir = tempfile::tempdir().unwrap();
        let model = std::fs::read(logistic_model(dir.path())).unwrap();
        rt.block_on(async {
            setup
                .put_bytes(&uri(&format!("s3://{bucket}/models/m.json")), model)
                .await
                .unwrap();
            for (i, rows) in [(0, 40), (1, 30)] {
                setup
                    .put_bytes(
                        &uri(&format!("s3://{bucket}/inputs/day/part-{i}.csv")),
                        bench_csv(rows, i).into_bytes(),
                    )
                    .await
                    .unwrap();
            }
        });
        (0..2)
            .map(|i| {
                let out = Command::new(env!("CARGO_BIN_EXE_stepscore-batch"))
                    .current_dir(dir.path())
                    .env_remove("AWS_BATCH_JOB_ID")
                    .env_remove("STEPSCORE_LOCAL_S3_ROOT")
                    .env("STEPSCORE_MODEL", format!("s3://{bucket}/models/m.json"))
                    .env("STEPSCORE_INPUT", format!("s3://{bucket}/inputs/day/"))
                    .env("STEPSCORE_OUTPUT", format!("s3://{bucket}/outputs/run-1/"))
                    .env("STEPSCORE_SHARDS", "2")
                    .env("AWS_BATCH_JOB_ARRAY_INDEX", i.to_string())
                    .env("AWS_REGION", "us-east-1")
                    .envs(env.iter().copied())
                    .output()
                    .unwrap();
                (
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )
            })
            .collect()
    }

    fn bucket_on(store: &stepscore_aws::S3Store, rt: &tokio::runtime::Runtime, name: &str) {
        rt.block_on(store.client().create_bucket().bucket(name).send())
            .unwrap();
    }

    #[test]
    fn every_s3_call_of_the_scoring_container_is_allowed_by_the_batch_job_policy() {
        let moto = stepscore_aws::moto::shared();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let setup = rt.block_on(async { stepscore_aws::S3Store::new(&moto.sdk_config().await) });
        let bucket = format!("iam-batch-{}", std::process::id());
        bucket_on(&setup, &rt, &bucket);
        let logs = tempfile::tempdir().unwrap();
        let log = logs.path().join("calls.jsonl");
        let log_text = log.display().to_string();
        let shards = score_in_deployment_layout(
            &setup,
            &rt,
            &bucket,
            &[
                ("AWS_ENDPOINT_URL", moto.endpoint()),
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                (stepscore_aws::calllog::CALL_LOG_ENV, log_text.as_str()),
            ],
        );
        for (code, stderr) in &shards {
            assert_eq!(*code, Some(0), "{stderr}");
        }
        let calls = stepscore_aws::calllog::read(&log).unwrap();
        assert!(
            calls
                .iter()
                .all(|c| c.principal.as_deref() == Some("stepscore-batch-job")),
            "every call of the child is named as the Batch job: {calls:?}"
        );
        let file = stepscore_aws::policy::PolicyFile::bundled().unwrap();
        let (denials, allowed) =
            stepscore_aws::policy::check_calls(&file, &policy_values(&bucket), &calls).unwrap();
        assert!(
            denials.is_empty(),
            "calls of stepscore-batch the batch_job policy does not allow:\n{}",
            denials.join("\n")
        );
        let actions: std::collections::BTreeSet<&str> =
            allowed.iter().map(|(_, a, _)| a.as_str()).collect();
        assert_eq!(
            actions,
            ["s3:GetObject", "s3:ListBucket", "s3:PutObject"]
                .into_iter()
                .collect(),
            "{allowed:?}"
        );
        eprintln!(
            "{} distinct (principal, action, resource) calls of the scoring container allowed",
            allowed.len()
        );
    }

    #[test]
    fn the_scoring_container_runs_with_moto_enforcing_the_batch_job_policy() {
        let moto = stepscore_aws::moto::MotoServer::start_own(&[(
            "INITIAL_NO_AUTH_ACTION_COUNT",
            "100000",
        )])
        .unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let bucket = format!("iam-enforced-{}", std::process::id());
        let file = stepscore_aws::policy::PolicyFile::bundled().unwrap();
        let admin = moto
            .create_user(
                "admin",
                &serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
            )
            .unwrap();
        let job = moto
            .create_user(
                "batch-job",
                &file.document("batch_job", &policy_values(&bucket)).unwrap(),
            )
            .unwrap();
        let setup = rt.block_on(async {
            stepscore_aws::S3Store::new(&moto.sdk_config_as(admin, None).await)
        });
        moto.enforce_iam().unwrap();
        bucket_on(&setup, &rt, &bucket);
        let shards = score_in_deployment_layout(
            &setup,
            &rt,
            &bucket,
            &[
                ("AWS_ENDPOINT_URL", moto.endpoint()),
                ("AWS_ACCESS_KEY_ID", job.access_key_id()),
                ("AWS_SECRET_ACCESS_KEY", job.secret_access_key()),
            ],
        );
        for (code, stderr) in &shards {
            assert_eq!(*code, Some(0), "{stderr}");
        }
        let part = rt
            .block_on(setup.get_bytes(
                &uri(&format!("s3://{bucket}/outputs/run-1/part-1.csv")),
                1 << 20,
            ))
            .unwrap();
        assert!(!part.is_empty());
    }

    #[test]
    fn s3_uris_map_to_the_directory_store_when_the_local_root_is_set() {
        let root = tempfile::tempdir().unwrap();
        let store = stepscore_dirstore::DirStore::open(root.path()).unwrap();
        for b in ["models-bkt", "data-bkt"] {
            store.create_bucket(b).unwrap();
        }
        let rt = tokio::runtime::Runtime::new().unwrap();
        let root_text = root.path().display().to_string();
        check_store(
            &store,
            &rt,
            &[("STEPSCORE_LOCAL_S3_ROOT", root_text.as_str())],
        );
    }
}

#[path = "batch/s3_transfers.rs"]
mod s3_transfers;
