//! Intrinsic functions: results and messages as AWS Step Functions gives them. Values marked
//! "corpus" come from executions recorded against AWS (shared/asl-conformance).

use serde_json::{Map, Value, json};
use stepscore_asl::intrinsics::{self, IntrinsicError};
use stepscore_asl::jsonpath::Scope;

fn eval(call: &str, input: &Value) -> Result<Value, IntrinsicError> {
    let mut vars = Map::new();
    vars.insert("greeting".into(), json!("Hello"));
    vars.insert("list".into(), json!([3, 1, 3]));
    let ctx = json!({"StateMachine": {"Name": "alpha-beta-gamma"}, "Map": {"Item": {"Value": "Pikachu"}}});
    let scope = Scope {
        input,
        context: &ctx,
        variables: &vars,
    };
    intrinsics::parse(call)?.evaluate(&scope)
}

/// Evaluates `call` with `{"FunctionInput": input}` as the state input, as the corpus does.
#[track_caller]
fn check(call: &str, input: Value, expected: Value) {
    let doc = json!({ "FunctionInput": input });
    match eval(call, &doc) {
        Ok(actual) => assert_eq!(actual, expected, "{call} with {doc}"),
        Err(e) => panic!("{call} with {doc} failed: {e}"),
    }
}

#[track_caller]
fn check2(call: &str, fst: Value, snd: Value, expected: Value) {
    check(call, json!({"fst": fst, "snd": snd}), expected);
}

/// A run-time failure: AWS's terse cause ("Invalid arguments in States.X"), error name
/// States.Runtime, and our detail saying what exactly is wrong.
#[track_caller]
fn check_invalid(call: &str, input: Value, detail: &str) {
    let doc = json!({ "FunctionInput": input });
    let function = &call[..call.find('(').unwrap()];
    match eval(call, &doc) {
        Ok(v) => panic!("{call} with {doc} returned {v}, expected {detail}"),
        Err(e) => {
            assert_eq!(
                e.to_string(),
                format!("Invalid arguments in {function}"),
                "{call}"
            );
            assert_eq!(e.error_name(), "States.Runtime", "{call}");
            assert_eq!(e.detail(), detail, "{call}");
        }
    }
}

#[track_caller]
fn check_parse_err(call: &str, message_fragment: &str) {
    match intrinsics::parse(call) {
        Ok(c) => panic!("{call} parsed as {c:?}"),
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.contains(message_fragment),
                "{call}: '{text}' lacks '{message_fragment}'"
            );
            assert!(text.contains(call), "{call}: '{text}' must quote the call");
        }
    }
}

const PAIR: &str = "$.FunctionInput.fst, $.FunctionInput.snd";

#[test]
#[rustfmt::skip]
fn format_fills_placeholders_like_aws() {
    let f = "States.Format('Formatting argument {}.', $.FunctionInput)";
    check(f, json!(""), json!("Formatting argument ."));
    check(f, json!(" "), json!("Formatting argument  ."));
    check(f, json!(null), json!("Formatting argument null."));
    check(f, json!(1.1), json!("Formatting argument 1.1."));
    check(f, json!(1), json!("Formatting argument 1."));
    check(f, json!(true), json!("Formatting argument true."));
    check(f, json!("{\"Arg1\": 1, \"Arg2\": []}"), json!("Formatting argument {\"Arg1\": 1, \"Arg2\": []}."));
    let f2 = format!("States.Format('Formatting arguments fst={{}} and snd={{}}.', {PAIR})");
    check2(&f2, json!({"Arg1": 1, "Arg2": []}), json!({"Arg1": 1, "Arg2": []}), json!("Formatting arguments fst={Arg1=1, Arg2=[]} and snd={Arg1=1, Arg2=[]}."));
    check2(&f2, json!([1, "a", [2.5]]), json!(1e10), json!("Formatting arguments fst=[1, a, [2.5]] and snd=1.0E10."));
    check("States.Format('a \\{\\} b \\' c \\\\ {}', 'x')", json!(null), json!("a {} b ' c \\ x"));
    check("States.Format('{}{}', 1, -2.5)", json!(null), json!("1-2.5"));
    check("States.Format('no holes')", json!(null), json!("no holes"));
    check("States.Format('caf\\u00e9 {}', 'cr\\u00e8me')", json!(null), json!("café crème"));
    check("States.Format($$.Map.Item.Value)", json!(null), json!("Pikachu"));
    check("States.Format('{} World', $greeting)", json!(null), json!("Hello World"));
}

#[test]
#[rustfmt::skip]
fn json_conversions() {
    check("States.StringToJson($.FunctionInput)", json!(""), json!(null));
    check("States.StringToJson($.FunctionInput)", json!(" "), json!(null));
    check("States.StringToJson($.FunctionInput)", json!("null"), json!(null));
    check("States.StringToJson($.FunctionInput)", json!("-0"), json!(0));
    check("States.StringToJson($.FunctionInput)", json!("1.1"), json!(1.1));
    check("States.StringToJson($.FunctionInput)", json!("\"HelloWorld\""), json!("HelloWorld"));
    check("States.StringToJson($.FunctionInput)", json!("{\"Arg1\": 1, \"Arg2\": []}"), json!({"Arg1": 1, "Arg2": []}));
    check("States.JsonToString($.FunctionInput)", json!(null), json!("null"));
    check("States.JsonToString($.FunctionInput)", json!(1.1), json!("1.1"));
    check("States.JsonToString($.FunctionInput)", json!("HelloWorld"), json!("\"HelloWorld\""));
    check("States.JsonToString($.FunctionInput)", json!([1, 2, "HelloWorld"]), json!("[1,2,\"HelloWorld\"]"));
    check("States.JsonToString($.FunctionInput)", json!({"test": "object"}), json!("{\"test\":\"object\"}"));
    check2(&format!("States.JsonMerge({PAIR}, false)"), json!({"a": {"a1": 1, "a2": 2}, "b": 2, "d": 3}), json!({"a": {"a3": 1, "a4": 2}, "c": 3, "d": 4}), json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3, "d": 4}));
}

#[test]
#[rustfmt::skip]
fn array_functions() {
    check("States.Array()", json!(null), json!([]));
    check2(&format!("States.Array({PAIR})"), json!(null), json!({"a": 1}), json!([null, {"a": 1}]));
    check("States.Array('a', 1, 2.5, true, false, null)", json!(null), json!(["a", 1, 2.5, true, false, null]));
    let partition = format!("States.ArrayPartition({PAIR})");
    check2(&partition, json!([0, 1, 2, 3]), json!(3), json!([[0, 1, 2], [3]]));
    check2(&partition, json!([0, 1]), json!(5), json!([[0, 1]]));
    check2(&partition, json!([]), json!(2), json!([]));
    let contains = format!("States.ArrayContains({PAIR})");
    check2(&contains, json!([[1, 2, 3], 2]), json!([1, 2, 3]), json!(true));
    check2(&contains, json!([{"1": 2, "2": []}]), json!({"1": 2, "2": []}), json!(true));
    check2(&contains, json!([]), json!(null), json!(false));
    check2(&contains, json!([1.0]), json!(1), json!(true));
    let range = "States.ArrayRange($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)";
    check(range, json!({"fst": 0, "snd": 9, "trd": 3}), json!([0, 3, 6, 9]));
    check(range, json!({"fst": 0, "snd": 10, "trd": 3}), json!([0, 3, 6, 9]));
    check(range, json!({"fst": 1, "snd": 9, "trd": 9}), json!([1]));
    check(range, json!({"fst": 5, "snd": 1, "trd": -2}), json!([5, 3, 1]));
    check(range, json!({"fst": 5, "snd": 1, "trd": 2}), json!([]));
    check("States.ArrayRange(1, 1000, 1)", json!(null), Value::Array((1..=1000).map(Value::from).collect()));
    check("States.ArrayGetItem($.FunctionInput, 2)", json!([1, 2, 3]), json!(3));
    check("States.ArrayLength($.FunctionInput)", json!([1, 2, 3, 4, 5, 6, 7, 8, 9]), json!(9));
    check("States.ArrayUnique($.FunctionInput)", json!([1, 2, 2, 3, 3, 4, 1]), json!([1, 2, 3, 4]));
    check("States.ArrayUnique($list)", json!(null), json!([3, 1]));
}

#[test]
#[rustfmt::skip]
fn encoding_and_hashing() {
    check("States.Base64Encode($.FunctionInput)", json!("Data to encode"), json!("RGF0YSB0byBlbmNvZGU="));
    check("States.Base64Decode($.FunctionInput)", json!("RGF0YSB0byBlbmNvZGU="), json!("Data to encode"));
    check("States.Base64Decode($.FunctionInput)", json!(""), json!(""));
    let hash = format!("States.Hash({PAIR})");
    check2(&hash, json!("input data"), json!("MD5"), json!("812f45842bc6d66ee14572ce20db8e86"));
    check2(&hash, json!("input data"), json!("SHA-1"), json!("aaff4a450a104cd177d28d18d74485e8cae074b7"));
    check2(&hash, json!("input data"), json!("SHA-256"), json!("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"));
    check2(&hash, json!("input data"), json!("SHA-512"), json!("6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4"));
    check("States.Hash('Hash this string', 'SHA-256')", json!(null), json!("1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e"));
    check("States.Hash('abc', 'SHA-384')", json!(null), json!("cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"));
}

#[test]
#[rustfmt::skip]
fn math_rounds_each_operand_half_up() {
    let add = format!("States.MathAdd({PAIR})");
    for (fst, snd, sum) in
        [(-9.0, 3.0, -6), (-1.49, 0.0, -1), (-1.5, 0.0, -1), (-1.51, 0.0, -2), (0.5, 0.0, 1), (-0.5, 0.5, 1), (-2.5, 0.0, -2), (-3.5, 0.0, -3), (1.5, 1.51, 4), (-1.49, -1.5, -2), (-1.5, -1.51, -3), (1.49, -1.49, 0), (1.5, 0.0, 2)]
    {
        check2(&add, json!(fst), json!(snd), json!(sum));
    }
    check("States.MathAdd(States.MathAdd(1, 2), -10)", json!(null), json!(-7));
    let random = "States.MathRandom($.FunctionInput.fst, $.FunctionInput.snd)";
    for _ in 0..50 {
        let v = eval(random, &json!({"FunctionInput": {"fst": -99999, "snd": -9999}})).unwrap();
        assert!((-99999..-9999).contains(&v.as_i64().unwrap()), "{v}");
    }
    let seeded = eval("States.MathRandom(0, 999, 3)", &json!({})).unwrap();
    assert_eq!(seeded, eval("States.MathRandom(0, 999, 3)", &json!({})).unwrap(), "a seed makes the result repeatable");
}

#[test]
#[rustfmt::skip]
fn string_split_uses_any_delimiter_character_and_drops_empty_parts() {
    let split = format!("States.StringSplit({PAIR})");
    check2(&split, json!(" "), json!(","), json!([" "]));
    check2(&split, json!(" , "), json!(","), json!([" ", " "]));
    check2(&split, json!(", , ,"), json!(","), json!([" ", " "]));
    check2(&split, json!(",,,,"), json!(","), json!([]));
    check2(&split, json!("This.is+a,test=string"), json!(".+,="), json!(["This", "is", "a", "test", "string"]));
    check("States.StringSplit('Hello\nWorld', '\n')", json!(null), json!(["Hello", "World"]));
    check("States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))", json!(null), json!("gamma"));
}

#[test]
#[rustfmt::skip]
fn uuid_is_a_random_v4() {
    let a = eval("States.UUID()", &json!({})).unwrap();
    let b = eval("States.UUID()", &json!({})).unwrap();
    assert_ne!(a, b);
    let parsed = uuid::Uuid::parse_str(a.as_str().unwrap()).unwrap();
    assert_eq!(parsed.get_version_num(), 4);
}

#[test]
#[rustfmt::skip]
fn runtime_failures_give_aws_cause_and_a_detail() {
    check_invalid("States.ArrayGetItem($.FunctionInput, 3)", json!([1, 2, 3]), "the index 3 is out of bounds for an array of 3 items; use an index from 0 to 2");
    check_invalid("States.ArrayGetItem($.FunctionInput, -1)", json!([1, 2, 3]), "the index -1 is out of bounds for an array of 3 items; use an index from 0 to 2");
    check_invalid("States.ArrayGetItem($.FunctionInput, 0)", json!("abc"), "argument 1 must be an array but was the string \"abc\"");
    check_invalid("States.ArrayGetItem($.FunctionInput, '1')", json!([1]), "the index (argument 2) must be an integer between -2147483648 and 2147483647 but was the string \"1\"");
    check_invalid("States.ArrayRange(1, 1001, 1)", json!(null), "the range from 1 to 1001 with step 1 has 1001 items but at most 1000 are allowed");
    check_invalid("States.ArrayRange(1001, 1, -1)", json!(null), "the range from 1001 to 1 with step -1 has 1001 items but at most 1000 are allowed");
    check_invalid("States.ArrayRange(1, 10, 0)", json!(null), "the step must not be 0");
    check_invalid("States.ArrayRange(1, 10, 0.49)", json!(null), "the step must not be 0");
    check_invalid("States.ArrayRange('a', 5, 1)", json!(null), "the start (argument 1) must be an integer between -2147483648 and 2147483647 but was the string \"a\"");
    check_invalid("States.ArrayPartition($.FunctionInput, 0)", json!([1]), "the chunk size must be a positive integer but was 0");
    check_invalid("States.ArrayPartition($.FunctionInput, 0.49)", json!([1]), "the chunk size must be a positive integer but was 0");
    check_invalid("States.Hash('x', 'SHA-3')", json!(null), "the hash algorithm 'SHA-3' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512");
    check_invalid("States.Hash('x', 'sha-256')", json!(null), "the hash algorithm 'sha-256' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512");
    check_invalid("States.Hash($.FunctionInput, 'MD5')", json!("a".repeat(10_001)), "the data to hash has 10001 characters but at most 10000 are allowed");
    check_invalid("States.JsonMerge($.FunctionInput, $.FunctionInput, true)", json!({}), "deep merge is not supported; pass false as the third argument for a shallow merge");
    check_invalid("States.JsonMerge($.FunctionInput, 1, false)", json!({}), "argument 2 must be a JSON object but was the number 1");
    check_invalid("States.StringToJson($.FunctionInput)", json!("{"), "the string \"{\" is not valid JSON: EOF while parsing an object at line 1 column 1");
    check_invalid("States.Base64Decode($.FunctionInput)", json!("%%%"), "\"%%%\" is not valid base64: Invalid symbol 37, offset 0.");
    check_invalid("States.Base64Encode($.FunctionInput)", json!("a".repeat(10_001)), "the input string has 10001 characters but at most 10000 are allowed");
    check_invalid("States.MathAdd($.FunctionInput, 1)", json!("1"), "argument 1 must be a number between -2147483648 and 2147483647 but was the string \"1\"");
    check_invalid("States.MathRandom(5, 5)", json!(null), "the start 5 must be less than the end 5 (the end is exclusive)");
    check_invalid("States.MathRandom(1.4, 1.6)", json!(null), "the start 1 must be less than the end 1 (the end is exclusive)");
    check_invalid("States.Format($.FunctionInput, 1)", json!("{} and {}"), "the template has 2 '{}' placeholders but 1 values were given; pass one value per placeholder");
    check_invalid("States.Format('{} {}', 1)", json!(null), "the template has 2 '{}' placeholders but 1 values were given; pass one value per placeholder");
    check_invalid("States.Format('Hello {', 1)", json!(null), "the template \"Hello {\" has an unescaped '{' that is not part of a '{}' placeholder; write \\{ for a literal brace");
    check_invalid("States.Format('Hello {{}}', 1)", json!(null), "the template \"Hello {{}}\" has an unescaped '{' that is not part of a '{}' placeholder; write \\{ for a literal brace");
    check_invalid("States.Format('}')", json!(null), "the template \"}\" has an unescaped '}' that is not part of a '{}' placeholder; write \\} for a literal brace");
    check_invalid("States.Format(1)", json!(null), "the format template (argument 1) must be a string but was the number 1");
    // AWS accepts a definition with the wrong argument count and fails when the call runs.
    check_invalid("States.UUID(1)", json!(null), "States.UUID takes no arguments, but 1 was given");
    check_invalid("States.Hash('a')", json!(null), "States.Hash takes exactly 2 arguments, but 1 was given");
    check_invalid("States.Hash()", json!(null), "States.Hash takes exactly 2 arguments, but 0 were given");
    check_invalid("States.MathRandom(1, 10, 5, 99)", json!(null), "States.MathRandom takes 2 or 3 arguments (start, end and an optional seed), but 4 were given");
    let missing = eval("States.Hash($.missing, 'SHA-256')", &json!({"a": 1})).unwrap_err();
    assert_eq!(missing.error_name(), "States.Runtime");
    assert_eq!(missing.to_string(), "The JSONPath '$.missing' used by States.Hash could not be found in the input '{\"a\":1}'");
    // Observed on AWS: "... could not be found in the input '{}'" for an empty input.
    assert_eq!(missing.cause_for_field("value.$"), "The JSONPath '$.missing' specified for the field 'value.$' could not be found in the input '{\"a\":1}'");
    assert_eq!(eval("States.Hash('x', 'nope')", &json!({})).unwrap_err().cause_for_field("value.$"), "Invalid arguments in States.Hash");
}

#[test]
#[rustfmt::skip]
fn fractional_integer_arguments_are_truncated_like_aws() {
    // Observed on AWS: fractional bounds, steps and indexes are cut toward zero.
    check("States.ArrayRange(1.4, 5.6, 2.2)", json!(null), json!([1, 3, 5]));
    check("States.ArrayRange(1.6, 1.4, 1)", json!(null), json!([1]));
    check("States.ArrayRange(5.4, -0.6, -2.4)", json!(null), json!([5, 3, 1]));
    check("States.ArrayRange(3, 3, -1)", json!(null), json!([3]));
    check("States.ArrayRange(1, 5, -1)", json!(null), json!([]));
    check("States.ArrayGetItem($.FunctionInput, 1.2)", json!([10, 20, 30]), json!(20));
    check("States.ArrayGetItem($.FunctionInput, 999)", json!([]), json!(null));
    check("States.MathRandom(1.6, 2.4)", json!(null), json!(1));
    check("States.Hash(123, 'MD5')", json!(null), json!("202cb962ac59075b964b07152d234b70"));
    check("States.Hash($.FunctionInput, 'MD5')", json!({}), json!("99914b932bd37a50b983c5e7c90ae93b"));
    check("States.Base64Decode('/w==')", json!(null), json!("\u{FFFD}"));
}

#[test]
#[rustfmt::skip]
fn parse_errors_are_clear() {
    check_parse_err("States.Nope()", "'States.Nope' is not an intrinsic function");
    check_parse_err("Format('{}', 1)", "must start with 'States.'");
    check_parse_err("States.Format('{}', 1", "expected ',' or ')'");
    check_parse_err("States.Format('{}, 1)", "not closed");
    check_parse_err("States.Format(\"{}\", 1)", "single quotes");
    check_parse_err("States.Array(foo)", "quote strings in single quotes");
    check_parse_err("States.Array($.a[)", "Invalid JSONPath");
    check_parse_err("States.Array(1) x", "unexpected text after the closing ')'");
    check_parse_err("States.Array(1.2.3)", "'1.2.3' is not a valid number");
    check_parse_err("States.Array('\\u12')", "four hex digits");
    let deep = format!("{}1{}", "States.Array(".repeat(11), ")".repeat(11));
    check_parse_err(&deep, "nest deeper than 10 levels");
    let ok = format!("{}1{}", "States.Array(".repeat(10), ")".repeat(10));
    assert!(intrinsics::parse(&ok).is_ok(), "ten nested calls are allowed");
}

#[test]
#[rustfmt::skip]
fn arguments_accept_paths_with_brackets_and_filters() {
    check("States.Array($.FunctionInput['a,b'], $.FunctionInput.c[?(@ > 1)])", json!({"a,b": 1, "c": [1, 2, 3]}), json!([1, [2, 3]]));
    check("States.ArrayLength( $.FunctionInput )", json!([1]), json!(1));
}

mod robustness {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parse_never_panics_on_arbitrary_text(text in ".{0,60}") {
            let _ = intrinsics::parse(&text);
        }

        #[test]
        fn parse_and_evaluate_never_panic_on_call_like_text(
            name in prop::sample::select(vec!["Format", "StringToJson", "JsonToString", "Array", "ArrayPartition", "ArrayContains", "ArrayRange", "ArrayGetItem", "ArrayLength", "ArrayUnique", "Base64Encode", "Base64Decode", "Hash", "JsonMerge", "MathRandom", "MathAdd", "StringSplit", "UUID"]),
            args in prop::collection::vec(prop_oneof![
                Just("$.FunctionInput".to_string()),
                Just("$.FunctionInput[0]".to_string()),
                Just("'SHA-256'".to_string()),
                Just("'{} and {}'".to_string()),
                Just("false".to_string()),
                Just("null".to_string()),
                "-?[0-9]{1,12}(\\.[0-9]{1,3})?",
                "'[a-z{}\\\\' ]{0,6}'",
                Just("States.Array(1, 2)".to_string()),
            ], 0..4),
            input in prop_oneof![
                Just(json!([1, 2, 2, "a"])),
                Just(json!("SGVsbG8=")),
                Just(json!({"a": 1})),
                Just(json!(-2147483649i64)),
                Just(json!(1e300)),
                Just(json!(null)),
            ],
        ) {
            let text = format!("States.{name}({})", args.join(", "));
            if let Ok(call) = intrinsics::parse(&text) {
                let _ = eval(&text, &json!({"FunctionInput": input}));
                prop_assert_eq!(call.as_str(), text.as_str());
            }
        }
    }
}

/// Every corpus execution that is one Pass state computing `FunctionResult.$` with an intrinsic.
#[test]
fn corpus_single_intrinsic_cases_match_aws() {
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
        let Some(call) = state["Parameters"]["FunctionResult.$"].as_str() else {
            continue;
        };
        if case["nondeterministic"] == json!(true)
            || state["End"] != json!(true)
            || !call.starts_with("States.")
            || case["expected"]["status"] != json!("SUCCEEDED")
        {
            continue;
        }
        let expected = &case["expected"]["output"]["FunctionResult"];
        let actual = eval(call, &case["input"])
            .unwrap_or_else(|e| panic!("{}: {call} failed: {e}", case["name"]));
        assert_eq!(&actual, expected, "{}: {call}", case["name"]);
        checked += 1;
    }
    assert!(
        checked >= 60,
        "only {checked} corpus cases had the expected shape"
    );
}
