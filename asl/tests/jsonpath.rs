//! JSONPath as AWS Step Functions evaluates it (Jayway semantics and messages).

use serde_json::{Map, Value, json};
use stepscore_asl::jsonpath::{JsonPath, JsonPathError, Scope, write_at};

fn store() -> Value {
    json!({
        "store": {
            "book": [
                {"category": "reference", "author": "Nigel Rees", "title": "Sayings of the Century", "price": 8.95},
                {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword of Honour", "price": 12.99},
                {"category": "fiction", "author": "Herman Melville", "title": "Moby Dick", "isbn": "0-553-21311-3", "price": 8.99},
                {"category": "fiction", "author": "J. R. R. Tolkien", "title": "The Lord of the Rings", "isbn": "0-395-19395-8", "price": 22.99}
            ],
            "bicycle": {"color": "red", "price": 19.95}
        },
        "expensive": 10,
        "a b": {"c.d": 1, "it's": 2},
        "nums": [0, 1, 2, 3, 4, 5]
    })
}

fn context() -> Value {
    json!({"Execution": {"Id": "arn:exec", "Input": {"k": "v"}}, "Map": {"Item": {"Index": 2, "Value": "x"}}})
}

fn variables() -> Map<String, Value> {
    let mut vars = Map::new();
    vars.insert("answer".into(), json!({"value": 42, "list": [1, 2]}));
    vars.insert("plain".into(), json!("text"));
    vars
}

fn resolve(path: &str, input: &Value) -> Result<Value, JsonPathError> {
    let vars = variables();
    let ctx = context();
    let scope = Scope {
        input,
        context: &ctx,
        variables: &vars,
    };
    JsonPath::parse(path)?.resolve(&scope)
}

#[track_caller]
fn check(path: &str, expected: Value) {
    match resolve(path, &store()) {
        Ok(actual) => assert_eq!(actual, expected, "path {path}"),
        Err(e) => panic!("path {path} failed: {e}"),
    }
}

#[track_caller]
fn check_in(path: &str, input: Value, expected: Value) {
    match resolve(path, &input) {
        Ok(actual) => assert_eq!(actual, expected, "path {path}"),
        Err(e) => panic!("path {path} failed: {e}"),
    }
}

#[track_caller]
fn check_err(path: &str, input: Value, expected: &str) {
    match resolve(path, &input) {
        Ok(v) => panic!("path {path} resolved to {v}, expected error {expected}"),
        Err(e) => assert_eq!(e.to_string(), expected, "path {path}"),
    }
}

#[track_caller]
fn check_parse_err(path: &str, expected_fragment: &str) {
    match JsonPath::parse(path) {
        Ok(p) => {
            panic!("path {path} parsed as {p:?}, expected an error containing {expected_fragment}")
        }
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.contains(expected_fragment),
                "path {path}: {text} does not contain {expected_fragment}"
            );
            assert!(text.contains(path), "the message {text} must name the path");
        }
    }
}

#[test]
#[rustfmt::skip]
fn definite_paths_select_one_value() {
    check("$", store());
    check("$.expensive", json!(10));
    check("$.store.bicycle.color", json!("red"));
    check("$['store']['bicycle']['color']", json!("red"));
    check("$[\"store\"].bicycle[\"price\"]", json!(19.95));
    check("$.store.book[0].author", json!("Nigel Rees"));
    check("$.store.book[-1].author", json!("J. R. R. Tolkien"));
    check("$.nums[ 2 ]", json!(2));
    check("$['a b']['c.d']", json!(1));
    check("$['a b']['it\\'s']", json!(2));
    check("$.['expensive']", json!(10));
}

#[test]
#[rustfmt::skip]
fn indefinite_paths_return_arrays_of_matches() {
    check("$.store.book[*].author", json!(["Nigel Rees", "Evelyn Waugh", "Herman Melville", "J. R. R. Tolkien"]));
    check("$..author", json!(["Nigel Rees", "Evelyn Waugh", "Herman Melville", "J. R. R. Tolkien"]));
    check("$.store.*.color", json!(["red"]));
    check("$.store..price", json!([8.95, 12.99, 8.99, 22.99, 19.95]));
    check("$..book[2].title", json!(["Moby Dick"]));
    check("$..book[-2].title", json!(["Moby Dick"]));
    check("$..book[0,1].title", json!(["Sayings of the Century", "Sword of Honour"]));
    check("$.nums[:2]", json!([0, 1]));
    check("$.nums[1:3]", json!([1, 2]));
    check("$.nums[-2:]", json!([4, 5]));
    check("$.nums[4:]", json!([4, 5]));
    check("$.nums[:-4]", json!([0, 1]));
    check("$.nums[0:6:2]", json!([0, 2, 4]));
    check("$.nums[::3]", json!([0, 3]));
    check("$.nums[10:]", json!([]));
    check("$.nums[0,-1,99]", json!([0, 5]));
    check("$.store.book[*].isbn", json!(["0-553-21311-3", "0-395-19395-8"]));
}

#[test]
#[rustfmt::skip]
fn filters_select_by_predicate() {
    check("$..book[?(@.isbn)].title", json!(["Moby Dick", "The Lord of the Rings"]));
    check("$..book[?(!@.isbn)].title", json!(["Sayings of the Century", "Sword of Honour"]));
    check("$..book[?(@.price < 10)].title", json!(["Sayings of the Century", "Moby Dick"]));
    check("$..book[?(@.price <= $['expensive'])].price", json!([8.95, 8.99]));
    check("$..book[?(@.price>20)].price", json!([22.99]));
    check("$..book[?(@.category == 'fiction' && @.price < 13)].title", json!(["Sword of Honour", "Moby Dick"]));
    check("$..book[?(@.category == \"reference\" || @.price > 20)].title", json!(["Sayings of the Century", "The Lord of the Rings"]));
    check("$..book[?(@.author =~ /.*REES/i)].title", json!(["Sayings of the Century"]));
    check("$..book[?(@.category != 'fiction')].title", json!(["Sayings of the Century"]));
    check("$..book[?(@.category in ['reference', 'poetry'])].title", json!(["Sayings of the Century"]));
    check("$..book[?(@.category nin ['fiction'])].title", json!(["Sayings of the Century"]));
    check("$..book[?((@.price < 9 || @.price > 20) && @.isbn)].title", json!(["Moby Dick", "The Lord of the Rings"]));
    check("$.nums[?(@ >= 4)]", json!([4, 5]));
    check("$.store.bicycle[?(@.color == 'red')].price", json!([19.95]));
    check("$.nums[?(@ == '1')]", json!([]));
    check("$.nums[?(@ == 1.0)]", json!([1]));
}

#[test]
#[rustfmt::skip]
fn functions_are_accepted_but_select_nothing_like_aws() {
    // AWS: "Functions such as length() aren't supported"; the definition is accepted and the
    // path finds nothing when it runs.
    check_err("$.nums.length()", store(), "No results for path: $['nums'].length()");
    check_err("$.store.book.sum()", store(), "No results for path: $['store']['book'].sum()");
    check("$..book.length()", json!([]));
    check("$.store.book[?(@.title.length() > 3)].title", json!([]));
    assert!(!JsonPath::parse("$.a.length()").unwrap().is_reference());
}

#[test]
#[rustfmt::skip]
fn context_and_variable_roots() {
    check("$$.Execution.Input.k", json!("v"));
    check("$$.Map.Item.Index", json!(2));
    check("$$", context());
    check("$answer", json!({"value": 42, "list": [1, 2]}));
    check("$answer.value", json!(42));
    check("$answer.list[1]", json!(2));
    check("$answer.list[*]", json!([1, 2]));
    check("$plain", json!("text"));
    check_err("$nothing.x", json!({}), "The variable '$nothing' referenced by '$nothing.x' is not defined; assign it in an earlier state");
}

#[test]
#[rustfmt::skip]
fn missing_values_report_jaywayss_messages() {
    // Messages AWS embeds in its causes (see the conformance corpus).
    check_err("$.NoSuchInputPath", json!({}), "No results for path: $['NoSuchInputPath']");
    check_err("$.no.such.result.path", json!({"a": 1}), "Missing property in path $['no']");
    check_err("$.a.b", json!({"a": {}}), "No results for path: $['a']['b']");
    check_err("$.a[5]", json!({"a": [1]}), "No results for path: $['a'][5]");
    check_err("$.a.b", json!({"a": null}), "Expected to find an object with property ['b'] in path $['a'] but found 'null'");
    check_err("$.a.b", json!({"a": [1]}), "Expected to find an object with property ['b'] in path $['a'] but found 'array'");
    check_err("$.a[0]", json!({"a": null}), "The path $['a'] is null");
    check_err("$.a[0]", json!({"a": {"x": 1}}), "Filter: [0] can only be applied to arrays. Current context is: {\"x\":1}");
    // Corpus (test_json_path_array_wildcard_or_slice_with_no_input): an indefinite path
    // over a missing property is an empty result, not an error.
    check_in("$.item.items[1:5].itemValue", json!({}), json!([]));
    check_in("$.item.items[:1]", json!({}), json!([]));
    check_in("$.items[*].itemValue", json!({}), json!([]));
    check_in("$.items[10]", json!({"items": (0..11).map(|i| json!({"item_key": i})).collect::<Vec<_>>()}), json!({"item_key": 10}));
    check_err("$.a.b[*]", json!({"a": "text"}), "Expected to find an object with property ['b'] in path $['a'] but found 'string'");
    check_in("$[*].x", json!([{"x": 1}, {"y": 2}, 3]), json!([1]));
    check_in("$.a[*].b.c", json!({"a": [{"b": null}, {"b": {"c": 1}}]}), json!([1]));
}

#[test]
#[rustfmt::skip]
fn parse_errors_name_the_path_and_the_problem() {
    check_parse_err("", "must start with '$'");
    check_parse_err("a.b", "must start with '$'");
    check_parse_err("$.", "must not end with '.'");
    check_parse_err("$..", "must not end with '.'");
    check_parse_err("$.a[", "expected an index");
    check_parse_err("$.a[0", "expected ']'");
    check_parse_err("$.a['b", "not closed");
    check_parse_err("$.a[]", "empty brackets");
    check_parse_err("$.a b", "bracket notation");
    check_parse_err("$.a[?(@.b <)]", "expected '@'");
    check_parse_err("$.a[?(@.b == c)]", "quote strings");
    check_parse_err("$.a[1:2:0]", "step 0 must be a positive");
    check_parse_err("$.a[99999999999999999999]", "not a valid array index");
    check_parse_err("$.a.sum(1)", "path functions take no arguments");
    check_parse_err("$.a[?(@.b =~ /[/)]", "not a valid regular expression");
}

#[test]
#[rustfmt::skip]
fn path_kinds_are_classified() {
    let p = JsonPath::parse("$.a[0].b").unwrap();
    assert!(p.is_reference() && p.is_definite() && !p.is_context() && !p.is_variable());
    assert_eq!(p.as_str(), "$.a[0].b");
    assert_eq!(p.normalized(), "$['a'][0]['b']");
    assert!(JsonPath::parse("$$.Execution.Id").unwrap().is_context());
    let v = JsonPath::parse("$my_var.x").unwrap();
    assert!(v.is_variable());
    assert_eq!(v.variable_name(), Some("my_var"));
    for indefinite in ["$.a.length()", "$.a[*]", "$..a", "$.a[0:1]", "$.a[0,1]", "$['a','b']", "$.a[?(@.x)]", "$.a[-1]"] {
        assert!(!JsonPath::parse(indefinite).unwrap().is_reference(), "{indefinite} must not be a reference path");
    }
}

#[test]
#[rustfmt::skip]
fn multi_property_selection_builds_an_object_like_jayway() {
    check("$['expensive','nums']", json!([{"expensive": 10, "nums": [0, 1, 2, 3, 4, 5]}]));
    check("$.store.bicycle['color','nope']", json!([{"color": "red"}]));
}

#[track_caller]
fn check_write(path: &str, target: Value, value: Value, expected: Value) {
    let p = JsonPath::parse(path).unwrap();
    let mut target = target;
    write_at(&p, &mut target, value).unwrap_or_else(|e| panic!("write {path}: {e}"));
    assert_eq!(target, expected, "write {path}");
}

#[track_caller]
fn check_write_err(path: &str, target: Value, expected: &str) {
    let p = JsonPath::parse(path).unwrap();
    let mut t = target.clone();
    match write_at(&p, &mut t, json!("v")) {
        Ok(()) => panic!("write {path} succeeded: {t}"),
        Err(e) => assert_eq!(e.to_string(), expected),
    }
    assert_eq!(t, target, "a failed write must leave the target unchanged");
}

#[test]
#[rustfmt::skip]
fn write_at_follows_result_path_semantics() {
    check_write("$", json!({"a": 1}), json!([1]), json!([1]));
    check_write("$.r", json!({"a": 1}), json!(2), json!({"a": 1, "r": 2}));
    check_write("$.a", json!({"a": 1}), json!(2), json!({"a": 2}));
    check_write("$.x.y.z", json!({}), json!(true), json!({"x": {"y": {"z": true}}}));
    check_write("$.x.y", json!({"x": {"k": 1}}), json!(0), json!({"x": {"k": 1, "y": 0}}));
    check_write("$.l[1]", json!({"l": [0, 0]}), json!(9), json!({"l": [0, 9]}));
    check_write("$.l[0].a", json!({"l": [{}]}), json!(9), json!({"l": [{"a": 9}]}));
    check_write_err("$.a.b", json!({"a": "text"}), "Unable to apply ReferencePath $.a.b to input {\"a\":\"text\"}");
    check_write_err("$.a", json!("text"), "Unable to apply ReferencePath $.a to input \"text\"");
    check_write_err("$.l[5]", json!({"l": []}), "Unable to apply ReferencePath $.l[5] to input {\"l\":[]}");
    check_write_err("$.a[*]", json!({}), "The path '$.a[*]' cannot be written to: a ResultPath must be a reference path of field names and non-negative indexes, without wildcards, slices, unions, filters or '..'");
    let mismatch = write_at(&JsonPath::parse("$.a.b").unwrap(), &mut json!({"a": 1}), json!(0)).unwrap_err();
    assert_eq!(mismatch.error_name(), "States.ResultPathMatchFailure");
    check_write_err("$$.a", json!({}), "The path '$$.a' cannot be written to: only input paths starting with '$.' can be written; context ('$$') and variable paths are read-only");
}

#[test]
#[rustfmt::skip]
fn corpus_escape_in_bracket_name_keeps_backslash() {
    // test_base_scenarios::test_escape_sequence_parsing: the key is `Test\""Name"`.
    check_in("$['Test\\\"\"Name\"']", json!({"Test\\\"\"Name\"": "Value\"\\"}), json!("Value\"\\"));
}

#[test]
fn deep_nesting_hits_a_limit_not_the_stack() {
    let parens = format!("$[?({}@.a{})]", "(".repeat(5000), ")".repeat(5000));
    let nots = format!("$[?({}@.a)]", "!".repeat(5000));
    let filters = format!("$.a{}{}", "[?(@.b".repeat(2000), ")]".repeat(2000));
    for path in [parens, nots, filters] {
        match JsonPath::parse(&path) {
            Err(JsonPathError::TooDeep { limit, .. }) => assert_eq!(limit, 32),
            other => panic!("expected TooDeep, got {other:?}"),
        }
    }
    // A document nested far deeper than any call stack could recurse through.
    let mut deep = json!({"end": 1});
    for _ in 0..100_000 {
        // Not json!(): it would serialize `deep` recursively.
        deep = Value::Object([("x".to_string(), deep)].into_iter().collect());
    }
    assert_eq!(
        JsonPath::parse("$..end").unwrap().resolve_in(&deep),
        Ok(json!([1]))
    );
    // serde_json drops nested values recursively; unwind it by hand to keep the test's stack small.
    let mut node = deep;
    while let Value::Object(mut map) = node {
        node = map.remove("x").unwrap_or(Value::Null);
    }
}

/// Found by proptest: `$.$.*` on an array. Like Jayway, a definite prefix that meets the wrong
/// type fails even when the rest of the path is indefinite.
#[test]
fn regression_type_mismatch_in_definite_prefix_of_indefinite_path() {
    check_err(
        "$.$.*",
        json!([]),
        "Expected to find an object with property ['$'] in path $ but found 'array'",
    );
}

mod robustness {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[a-c ]{0,3}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-c]{1,2}", inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parse_never_panics_on_arbitrary_text(text in ".{0,40}") {
            let _ = JsonPath::parse(&text);
        }

        #[test]
        fn parse_and_resolve_never_panic_on_path_like_text(
            body in "[.\\[\\]'\"*?():,0-9abc<>=!&|@$~/ -]{0,30}",
            prefix in prop_oneof![Just("$"), Just("$$"), Just("$abc")],
            doc in json_value(),
        ) {
            let text = format!("{prefix}{body}");
            if let Ok(path) = JsonPath::parse(&text) {
                let vars: Map<String, Value> = [("abc".to_string(), doc.clone())].into_iter().collect();
                let scope = Scope { input: &doc, context: &doc, variables: &vars };
                let resolved = path.resolve(&scope);
                // An indefinite path yields an array; it may still fail like Jayway when a
                // definite prefix meets the wrong type (see regression test below).
                if !path.is_definite() {
                    prop_assert!(!matches!(resolved, Ok(ref v) if !v.is_array()), "indefinite {} gave {:?}", text, resolved);
                }
                let mut target = doc.clone();
                let _ = write_at(&path, &mut target, json!(1));
            }
        }
    }
}

/// Every corpus execution that is one Pass state whose flat Parameters select input with paths.
#[test]
fn corpus_parameter_paths_select_what_aws_selected() {
    let corpus = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/conformance/cases.jsonl"
    ))
    .expect("the conformance corpus is checked in");
    let mut checked = 0;
    for line in corpus.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let definition = &case["definition"];
        let state = &definition["States"][definition["StartAt"].as_str().unwrap_or_default()];
        let Some(parameters) = state["Parameters"].as_object() else {
            continue;
        };
        let plain = state.as_object().is_some_and(|s| {
            s.keys()
                .all(|k| matches!(k.as_str(), "Type" | "Parameters" | "End"))
        });
        let paths_only = parameters.iter().all(|(k, v)| {
            k.ends_with(".$")
                && v.as_str()
                    .is_some_and(|p| p.starts_with('$') && !p.starts_with("$$"))
        });
        if !plain
            || !paths_only
            || state["End"] != json!(true)
            || case["expected"]["status"] != json!("SUCCEEDED")
            || case["query_language"] != json!("JSONPath")
        {
            continue;
        }
        let vars = Map::new();
        let scope = Scope {
            input: &case["input"],
            context: &Value::Null,
            variables: &vars,
        };
        let mut output = Map::new();
        for (key, path) in parameters {
            let path = JsonPath::parse(path.as_str().unwrap()).unwrap();
            let value = path
                .resolve(&scope)
                .unwrap_or_else(|e| panic!("{}: {} failed: {e}", case["name"], path));
            output.insert(key.trim_end_matches(".$").to_string(), value);
        }
        assert_eq!(
            Value::Object(output),
            case["expected"]["output"],
            "{}",
            case["name"]
        );
        checked += 1;
    }
    assert!(
        checked >= 10,
        "only {checked} corpus cases had the expected shape"
    );
}
