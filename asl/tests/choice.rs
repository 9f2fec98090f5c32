//! Choice Rules: parsing with clear pointers, evaluation with AWS's type semantics.

use serde_json::{Map, Value, json};
use stepscore_asl::choice::{ChoiceRule, parse_rule};
use stepscore_asl::jsonpath::Scope;

fn evaluate(rule: &ChoiceRule, input: &Value) -> Result<bool, String> {
    let mut vars = Map::new();
    vars.insert("limit".into(), json!(10));
    let ctx = json!({"Execution": {"Name": "run-1"}});
    let scope = Scope {
        input,
        context: &ctx,
        variables: &vars,
    };
    rule.evaluate(&scope).map_err(|e| e.to_string())
}

/// Evaluates `rule` against `{"Variable": variable, "Value": value}`, as the corpus does.
#[track_caller]
fn check(rule: Value, variable: Value, expected: bool) {
    let input = json!({"Variable": variable, "Value": "unused"});
    check_in(rule, input, expected);
}

#[track_caller]
fn check_in(rule: Value, input: Value, expected: bool) {
    let parsed = parse_rule(&rule).unwrap_or_else(|e| panic!("{rule} does not parse: {e}"));
    assert_eq!(evaluate(&parsed, &input), Ok(expected), "{rule} on {input}");
}

#[track_caller]
fn check_err(rule: Value, input: Value, message: &str) {
    let parsed = parse_rule(&rule).unwrap_or_else(|e| panic!("{rule} does not parse: {e}"));
    assert_eq!(
        evaluate(&parsed, &input),
        Err(message.to_string()),
        "{rule} on {input}"
    );
}

#[track_caller]
fn check_parse_err(rule: Value, pointer: &str, message: &str) {
    match parse_rule(&rule) {
        Ok(r) => panic!("{rule} parsed as {r:?}"),
        Err(e) => {
            assert_eq!(e.pointer, pointer, "{rule}");
            assert_eq!(e.message, message, "{rule}");
        }
    }
}

fn op(name: &str, value: Value) -> Value {
    let mut rule = json!({"Variable": "$.Variable", "Next": "Yes"});
    rule[name] = value;
    rule
}

#[test]
#[rustfmt::skip]
fn string_comparisons() {
    check(op("StringEquals", json!("abc")), json!("abc"), true);
    check(op("StringEquals", json!("abc")), json!("abd"), false);
    check(op("StringEquals", json!("1")), json!(1), false);
    check(op("StringLessThan", json!("b")), json!("a"), true);
    check(op("StringLessThan", json!("b")), json!("b"), false);
    check(op("StringLessThanEquals", json!("b")), json!("b"), true);
    check(op("StringGreaterThan", json!("B")), json!("a"), true);
    check(op("StringGreaterThanEquals", json!("a")), json!("a"), true);
    check(op("StringGreaterThan", json!("a")), json!(null), false);
    // Java orders by UTF-16 code units: U+FF5E sorts after U+1F600's high surrogate D83D.
    check(op("StringGreaterThan", json!("\u{1F600}")), json!("\u{FF5E}"), true);
}

#[test]
#[rustfmt::skip]
fn numeric_comparisons_ignore_non_numbers() {
    check(op("NumericEquals", json!(1)), json!(1), true);
    check(op("NumericEquals", json!(1)), json!(1.0), true);
    check(op("NumericEquals", json!(1)), json!("1"), false);
    check(op("NumericEquals", json!(0)), json!(null), false);
    check(op("NumericEquals", json!(0)), json!(false), false);
    check(op("NumericEquals", json!(0)), json!([]), false);
    check(op("NumericLessThan", json!(1.5)), json!(1), true);
    check(op("NumericLessThanEquals", json!(1)), json!(1), true);
    check(op("NumericGreaterThan", json!(-1)), json!(0), true);
    check(op("NumericGreaterThanEquals", json!(9007199254740993u64)), json!(9007199254740992u64), false);
}

#[test]
#[rustfmt::skip]
fn boolean_and_type_tests() {
    check(op("BooleanEquals", json!(true)), json!(true), true);
    check(op("BooleanEquals", json!(false)), json!("false"), false);
    check(op("IsNull", json!(true)), json!(null), true);
    check(op("IsNull", json!(false)), json!(null), false);
    check(op("IsNull", json!(true)), json!(0), false);
    check(op("IsNumeric", json!(true)), json!(1.5), true);
    check(op("IsNumeric", json!(true)), json!("1"), false);
    check(op("IsString", json!(true)), json!(""), true);
    check(op("IsString", json!(false)), json!(1), true);
    check(op("IsBoolean", json!(true)), json!(false), true);
    check(op("IsBoolean", json!(true)), json!("true"), false);
    check(op("IsTimestamp", json!(true)), json!("2016-03-14T01:59:00Z"), true);
    check(op("IsTimestamp", json!(true)), json!("2016-03-14T01:59:00.123+02:00"), true);
    check(op("IsTimestamp", json!(true)), json!("2016-03-14 01:59:00Z"), false);
    check(op("IsTimestamp", json!(true)), json!("2016-03-14T01:59:00"), false);
    check(op("IsTimestamp", json!(true)), json!("2016-13-14T01:59:00Z"), false);
    check(op("IsTimestamp", json!(true)), json!(1457920740), false);
    // Run-time values are read like Java's ISO_OFFSET_DATE_TIME, as AWS does.
    check(op("IsTimestamp", json!(true)), json!("2016-03-14T01:59Z"), true);
    check(op("IsTimestamp", json!(true)), json!("2016-03-14t01:59:00z"), true);
    check(op("IsTimestamp", json!(true)), json!("2016-03-14T01:59:00.123456789-05:30"), true);
    check(op("IsTimestamp", json!(true)), json!("2016-03-14T01:59:00.1234567891Z"), false);
    check(op("IsTimestamp", json!(true)), json!("2016-02-30T01:59:00Z"), false);
    check(op("IsTimestamp", json!(true)), json!("2016-03-14T24:00:00Z"), false);
    check(op("IsTimestamp", json!(true)), json!("2016-03-14T23:59:60Z"), false);
    check(op("IsTimestamp", json!(true)), json!("2016-03-14T01:59:00+0100"), false);
    check(op("IsTimestamp", json!(true)), json!("2016-03-14T01:59:00+19:00"), false);
    check(op("IsTimestamp", json!(true)), json!("05-12-2016T21:29:29Z"), false);
    // Suffixes AWS accepted and rejected for Wait TimestampPath (test_wait_timestamppath).
    check(op("IsTimestamp", json!(true)), json!("2026-11-23T18:35:42.000000Z"), true);
    check(op("IsTimestamp", json!(true)), json!("2026-11-23T18:35:42.00Z"), true);
    check(op("IsTimestamp", json!(true)), json!("2026-11-23T18:35:42.000000"), false);
}

#[test]
#[rustfmt::skip]
fn is_present_tolerates_missing_values() {
    check_in(json!({"Variable": "$.a", "IsPresent": true, "Next": "Y"}), json!({"a": null}), true);
    check_in(json!({"Variable": "$.a", "IsPresent": true, "Next": "Y"}), json!({}), false);
    check_in(json!({"Variable": "$.a", "IsPresent": false, "Next": "Y"}), json!({}), true);
    check_in(json!({"Variable": "$.a.b.c", "IsPresent": false, "Next": "Y"}), json!({}), true);
    check_in(json!({"Variable": "$.a[3]", "IsPresent": true, "Next": "Y"}), json!({"a": [1]}), false);
    check_in(json!({"Variable": "$undefinedVar", "IsPresent": true, "Next": "Y"}), json!({}), false);
}

#[test]
#[rustfmt::skip]
fn missing_variable_is_a_runtime_error() {
    let msg = "Invalid path '$.a': The choice state's condition path references an invalid value.";
    check_err(json!({"Variable": "$.a", "NumericEquals": 1, "Next": "Y"}), json!({}), msg);
    check_err(json!({"Variable": "$.a", "IsNull": true, "Next": "Y"}), json!({}), msg);
    check_err(json!({"Variable": "$.x", "NumericEqualsPath": "$.a", "Next": "Y"}), json!({"x": 1}), msg);
    check_err(json!({"And": [{"Variable": "$.x", "IsPresent": true}, {"Variable": "$.a", "StringEquals": "v"}], "Next": "Y"}), json!({"x": 1}), msg);
}

#[test]
#[rustfmt::skip]
fn timestamps_compare_as_instants() {
    check(op("TimestampEquals", json!("2012-10-09T19:00:55Z")), json!("2012-10-09T19:00:55Z"), true);
    check(op("TimestampEquals", json!("2012-10-09T19:00:55Z")), json!("2012-10-09T21:00:55+02:00"), true);
    check(op("TimestampEquals", json!("2012-10-09T19:00:55Z")), json!("2012-10-09T19:00:55.000Z"), true);
    for not_a_timestamp in [json!(null), json!([""]), json!({}), json!(false), json!(0), json!(1.1), json!(""), json!(" "), json!("2023-02-24 12:15:56.832957"), json!([])] {
        check(op("TimestampEquals", json!("2012-10-09T19:00:55Z")), not_a_timestamp, false);
    }
    check(op("TimestampGreaterThan", json!("2012-10-09T19:00:55Z")), json!("2012-10-09T19:00:56Z"), true);
    check(op("TimestampGreaterThanEquals", json!("2012-10-09T19:00:56Z")), json!("2012-10-09T19:00:55Z"), false);
    check(op("TimestampLessThan", json!("2012-10-09T19:00:55Z")), json!("2012-10-09T19:00:55Z"), false);
    check(op("TimestampLessThanEquals", json!("2012-10-09T19:00:55Z")), json!("2012-10-09T19:00:55Z"), true);
    check(op("TimestampLessThan", json!("2012-10-09T19:00:55.5Z")), json!("2012-10-09T19:00:55.25Z"), true);
}

#[test]
#[rustfmt::skip]
fn path_operands_compare_two_values() {
    let input = json!({"a": 1, "b": 1, "s": "x", "t": "y", "f": true, "ts1": "2012-10-09T19:00:55Z", "ts2": "2012-10-09T19:00:56Z", "n": null});
    check_in(json!({"Variable": "$.a", "NumericEqualsPath": "$.b", "Next": "Y"}), input.clone(), true);
    check_in(json!({"Variable": "$.a", "NumericLessThanPath": "$.b", "Next": "Y"}), input.clone(), false);
    check_in(json!({"Variable": "$.a", "NumericEqualsPath": "$.s", "Next": "Y"}), input.clone(), false);
    check_in(json!({"Variable": "$.s", "StringLessThanPath": "$.t", "Next": "Y"}), input.clone(), true);
    check_in(json!({"Variable": "$.f", "BooleanEqualsPath": "$.f", "Next": "Y"}), input.clone(), true);
    check_in(json!({"Variable": "$.f", "BooleanEqualsPath": "$.n", "Next": "Y"}), input.clone(), false);
    check_in(json!({"Variable": "$.ts1", "TimestampLessThanPath": "$.ts2", "Next": "Y"}), input.clone(), true);
    check_in(json!({"Variable": "$.ts1", "TimestampEqualsPath": "$.s", "Next": "Y"}), input.clone(), false);
    check_in(json!({"Variable": "$.a", "NumericLessThanPath": "$limit", "Next": "Y"}), input.clone(), true);
    check_in(json!({"Variable": "$$.Execution.Name", "StringEquals": "run-1", "Next": "Y"}), input, true);
}

#[test]
#[rustfmt::skip]
fn string_matches_uses_star_wildcards() {
    check(op("StringMatches", json!("log-*.txt")), json!("log-2024.txt"), true);
    check(op("StringMatches", json!("log-*.txt")), json!("log-.txt"), true);
    check(op("StringMatches", json!("log-*.txt")), json!("log-2024.txt.bak"), false);
    check(op("StringMatches", json!("*")), json!(""), true);
    check(op("StringMatches", json!("a*b*c")), json!("abbbc"), true);
    check(op("StringMatches", json!("a*b*c")), json!("acb"), false);
    check(op("StringMatches", json!("*ab")), json!("abab"), true);
    check(op("StringMatches", json!("exact")), json!("exact"), true);
    check(op("StringMatches", json!("exact")), json!("exactly"), false);
    check(op("StringMatches", json!("a\\*b")), json!("a*b"), true);
    check(op("StringMatches", json!("a\\*b")), json!("axb"), false);
    check(op("StringMatches", json!("a\\\\*")), json!("a\\xyz"), true);
    check(op("StringMatches", json!("*")), json!(1), false);
}

#[test]
#[rustfmt::skip]
fn and_or_not_combine_rules() {
    let rule = json!({"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"});
    check_in(rule.clone(), json!({"type": "Private"}), false);
    check_in(rule, json!({"type": "Public"}), true);
    let twenties = json!({"And": [{"Variable": "$.value", "NumericGreaterThanEquals": 20}, {"Variable": "$.value", "NumericLessThan": 30}], "Next": "ValueInTwenties"});
    check_in(twenties.clone(), json!({"value": 22}), true);
    check_in(twenties, json!({"value": 30}), false);
    let either = json!({"Or": [{"Variable": "$.a", "IsPresent": true}, {"Variable": "$.b", "BooleanEquals": true}], "Next": "Y"});
    check_in(either.clone(), json!({"a": 1}), true);
    check_in(either.clone(), json!({"b": true}), true);
    check_in(either, json!({"b": false}), false);
    // Or stops at the first true rule, so a later missing path is not an error.
    check_in(json!({"Or": [{"Variable": "$.a", "IsPresent": true}, {"Variable": "$.zzz", "IsNull": true}], "Next": "Y"}), json!({"a": 1}), true);
}

#[test]
#[rustfmt::skip]
fn next_and_assign_are_exposed() {
    let rule = parse_rule(&json!({"Variable": "$.a", "IsPresent": true, "Next": "Go", "Assign": {"x.$": "$.a"}, "Comment": "c"})).unwrap();
    assert_eq!(rule.next(), Some("Go"));
    assert_eq!(rule.assign(), Some(&json!({"x.$": "$.a"})));
    let err = parse_rule(&json!({"Variable": "$.a", "IsNull": 1})).unwrap_err();
    assert_eq!(err.to_string(), "The value for the field 'IsNull' must be a boolean (true or false) at /IsNull");
    assert_eq!(parse_rule(&json!(1)).unwrap_err().to_string(), "A Choice Rule must be a JSON object");
    let nested = parse_rule(&json!({"Variable": "$.a", "IsPresent": true})).unwrap();
    assert_eq!(nested.next(), None);
    assert_eq!(nested.assign(), None);
}

#[test]
#[rustfmt::skip]
fn parse_errors_point_at_the_field() {
    check_parse_err(json!("text"), "", "A Choice Rule must be a JSON object");
    check_parse_err(json!({"Next": "X"}), "", "A Choice Rule must have a comparison operator (e.g. StringEquals, NumericGreaterThan, IsPresent) with a Variable, or one of And, Or, Not");
    check_parse_err(json!({"Variable": "$.a", "Next": "X", "Foo": 1}), "/Foo", "The field 'Foo' is not supported in a Choice Rule");
    check_parse_err(json!({"StringEquals": "a", "Next": "X"}), "", "The field 'Variable' is required with 'StringEquals'");
    check_parse_err(json!({"Variable": "$.a", "StringEquals": "a", "NumericEquals": 1, "Next": "X"}), "", "A Choice Rule must have exactly one of And, Or, Not or a comparison operator, but has StringEquals, NumericEquals");
    check_parse_err(
        json!({"Variable": "a", "StringEquals": "a"}),
        "/Variable",
        "The value for the field 'Variable' must be a valid JSONPath: Invalid JSONPath 'a': a path must start with '$' (input), '$$' (context object) or '$name' (variable) (at character 0)",
    );
    check_parse_err(json!({"Variable": "$.a[*]", "StringEquals": "a"}), "/Variable", "The value for the field 'Variable' must be a reference path selecting one value, but '$.a[*]' uses wildcards, slices, unions, filters or '..'");
    check_parse_err(json!({"Variable": 1, "StringEquals": "a"}), "/Variable", "The field 'Variable' must be a string holding a JSONPath");
    check_parse_err(json!({"Variable": "$.a", "StringEquals": 1}), "/StringEquals", "The value for the field 'StringEquals' must be a string");
    check_parse_err(json!({"Variable": "$.a", "NumericEquals": "1"}), "/NumericEquals", "The value for the field 'NumericEquals' must be a number");
    check_parse_err(json!({"Variable": "$.a", "BooleanEquals": "true"}), "/BooleanEquals", "The value for the field 'BooleanEquals' must be a boolean (true or false)");
    check_parse_err(json!({"Variable": "$.a", "IsNull": "yes"}), "/IsNull", "The value for the field 'IsNull' must be a boolean (true or false)");
    for bad in ["2016-12-05T25:29:29Z", "2016-12-05 21:29:29Z", "2016-12-05T21:29:29", "2016-12-05T21:29Z", "2016-12-05t21:29:29z"] {
        check_parse_err(json!({"Variable": "$.a", "TimestampEquals": bad}), "/TimestampEquals", "String does not match RFC3339 timestamp");
    }
    check_parse_err(
        json!({"Variable": "$.a", "NumericEqualsPath": "$.b[*]"}),
        "/NumericEqualsPath",
        "The value for the field 'NumericEqualsPath' must be a reference path selecting one value, but '$.b[*]' uses wildcards, slices, unions, filters or '..'",
    );
    check_parse_err(json!({"And": [], "Next": "X"}), "/And", "The field 'And' must be a non-empty array of Choice Rules");
    check_parse_err(json!({"And": [{"Variable": "$.a", "IsNull": true, "Next": "X"}], "Next": "X"}), "/And/0/Next", "The field 'Next' is not supported in a Choice Rule; only top-level Choice Rules have Next and Assign");
    check_parse_err(json!({"Or": [{"Variable": "$.a"}], "Next": "X"}), "/Or/0", "A Choice Rule must have a comparison operator (e.g. StringEquals, NumericGreaterThan, IsPresent) with a Variable, or one of And, Or, Not");
    check_parse_err(json!({"Not": [1], "Next": "X"}), "/Not", "A Choice Rule must be a JSON object");
    check_parse_err(json!({"Not": {"Variable": "$.a", "IsNull": true}, "Variable": "$.a", "Next": "X"}), "/Variable", "The field 'Variable' is not supported together with 'Not'; put it in the nested rules");
    check_parse_err(json!({"Variable": "$.a", "IsNull": true, "Next": ""}), "/Next", "The field 'Next' must be a non-empty string naming the state to go to");
    check_parse_err(json!({"Variable": "$.a", "StringMatchesPath": "$.b"}), "/StringMatchesPath", "The field 'StringMatchesPath' is not supported in a Choice Rule");
}

#[test]
#[rustfmt::skip]
fn deep_nesting_is_rejected_not_overflowed() {
    let mut rule = json!({"Variable": "$.a", "IsPresent": true});
    for _ in 0..100 {
        rule = json!({"Not": rule});
    }
    let err = parse_rule(&rule).unwrap_err();
    assert!(err.message.contains("nest deeper than 64 levels"), "{err}");
    assert!(err.pointer.starts_with("/Not/Not/"), "{err}");
}

mod robustness {
    use super::*;
    use proptest::prelude::*;

    fn rule_like() -> impl Strategy<Value = Value> {
        let operator = prop::sample::select(vec![
            "StringEquals",
            "NumericLessThanPath",
            "BooleanEquals",
            "TimestampEquals",
            "StringMatches",
            "IsPresent",
            "IsNull",
            "IsTimestamp",
            "NumericEquals",
            "Next",
            "Bogus",
        ]);
        let scalar = prop_oneof![
            Just(json!("$.a")),
            Just(json!("$.b[0]")),
            Just(json!("2016-03-14T01:59:00Z")),
            Just(json!("a*b\\*")),
            Just(json!(1.5)),
            Just(json!(true)),
            Just(json!(null)),
            ".{0,8}".prop_map(Value::from),
        ];
        let leaf = (
            operator,
            scalar.clone(),
            prop::option::of(prop_oneof![
                Just(json!("$.a")),
                Just(json!("$$.x")),
                Just(json!("$v")),
                Just(json!("bad"))
            ]),
        )
            .prop_map(|(op, value, variable)| {
                let mut rule = Map::new();
                rule.insert(op.to_string(), value);
                if let Some(v) = variable {
                    rule.insert("Variable".into(), v);
                }
                Value::Object(rule)
            });
        leaf.prop_recursive(4, 16, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(|rules| json!({"And": rules})),
                prop::collection::vec(inner.clone(), 0..3)
                    .prop_map(|rules| json!({"Or": rules, "Next": "X"})),
                inner.prop_map(|rule| json!({"Not": rule})),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parse_and_evaluate_never_panic(rule in rule_like(), a in prop_oneof![Just(json!(1)), Just(json!("2016-03-14T01:59:00Z")), Just(json!(null)), Just(json!([true]))]) {
            if let Ok(parsed) = parse_rule(&rule) {
                let _ = evaluate(&parsed, &json!({"a": a, "b": [a]}));
            }
        }

        #[test]
        fn parse_never_panics_on_arbitrary_json(text in "[\\[\\]{}\":,a-zA-Z$. 0-9]{0,60}") {
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                let _ = parse_rule(&value);
            }
        }
    }
}

/// Every corpus execution that starts with a Choice state whose branches are Pass states
/// reporting `TestResult.$`: the rules must pick the branch AWS picked.
#[test]
fn corpus_choice_cases_pick_the_branch_aws_picked() {
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
        let Some(expected) = case["expected"]["output"]["TestResult.$"].as_str() else {
            continue;
        };
        if state["Type"] != json!("Choice") || case["query_language"] != json!("JSONPath") {
            continue;
        }
        let mut chosen = state["Default"].as_str();
        for rule in state["Choices"].as_array().unwrap() {
            let parsed = parse_rule(rule)
                .unwrap_or_else(|e| panic!("{}: {rule} does not parse: {e}", case["name"]));
            if evaluate(&parsed, &case["input"])
                .unwrap_or_else(|e| panic!("{}: {rule} failed: {e}", case["name"]))
            {
                chosen = rule["Next"].as_str();
                assert_eq!(parsed.next(), chosen);
                break;
            }
        }
        assert_eq!(
            chosen,
            Some(expected),
            "{} on {}",
            case["name"],
            case["input"]
        );
        checked += 1;
    }
    assert!(
        checked >= 200,
        "only {checked} corpus cases had the expected shape"
    );
}
