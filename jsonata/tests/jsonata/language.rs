//! The language by example: each line is an expression, an input and the result JSONata gives.

use serde_json::{Value, json};
use stepscore_jsonata::{Expression, Limits};

/// Evaluates `expr` over `input`; `None` is JSONata's undefined.
fn eval(expr: &str, input: Value) -> Option<Value> {
    Expression::compile(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .evaluate(Some(&input))
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn check(expr: &str, input: Value, expected: Value) {
    assert_eq!(eval(expr, input), Some(expected), "{expr}");
}

/// The error code compiling or evaluating `expr` gives.
fn error_code(expr: &str, input: Value) -> &'static str {
    match Expression::compile(expr).and_then(|e| e.evaluate(Some(&input))) {
        Err(e) => e.code,
        Ok(v) => panic!("{expr} gave {v:?}, not an error"),
    }
}

fn orders() -> Value {
    json!({"orders": [
        {"id": "a", "items": [{"sku": "x", "price": 2, "qty": 3}, {"sku": "y", "price": 5, "qty": 1}]},
        {"id": "b", "items": [{"sku": "x", "price": 2, "qty": 1}]}
    ]})
}

#[test]
fn paths_map_over_arrays_and_flatten_the_results() {
    check("orders.items.sku", orders(), json!(["x", "y", "x"]));
    check("orders[0].id", orders(), json!("a"));
    check("orders.items[price > 2].sku", orders(), json!("y"));
    check("orders[-1].id", orders(), json!("b"));
    check("$sum(orders.items.(price * qty))", orders(), json!(13));
    check(
        "orders.id[]",
        json!({"orders": [{"id": "only"}]}),
        json!(["only"]),
    );
    assert_eq!(eval("orders.missing", orders()), None);
}

#[test]
fn a_one_item_sequence_is_that_item_unless_kept_as_an_array() {
    check("orders[id='b'].items.sku", orders(), json!("x"));
    check("orders[id='b'].items.sku[]", orders(), json!(["x"]));
    check("[orders[id='b'].items.sku]", orders(), json!(["x"]));
}

#[test]
fn position_focus_and_parent_bindings_join_across_levels() {
    check(
        "orders#$i.items[sku='x'].{'order': $i}",
        orders(),
        json!([{"order": 0}, {"order": 1}]),
    );
    // `@` binds the focus and leaves the context where it was
    check(
        "orders@$o.$o.items@$it.{'id': $o.id, 'sku': $it.sku}",
        orders(),
        json!([
            {"id": "a", "sku": "x"}, {"id": "a", "sku": "y"}, {"id": "b", "sku": "x"}
        ]),
    );
    check(
        "orders.items.{'sku': sku, 'order': %.id}",
        orders(),
        json!([
            {"sku": "x", "order": "a"}, {"sku": "y", "order": "a"}, {"sku": "x", "order": "b"}
        ]),
    );
}

#[test]
fn grouping_sorting_and_transforms() {
    check(
        "orders.items{sku: $sum(qty)}",
        orders(),
        json!({"x": 4, "y": 1}),
    );
    check("orders.items^(>price, qty).qty", orders(), json!([1, 1, 3]));
    check(
        "$ ~> |orders.items|{'total': price * qty}, ['price']|",
        json!({"orders": [{"items": [{"price": 2, "qty": 3}]}]}),
        json!({"orders": [{"items": [{"qty": 3, "total": 6}]}]}),
    );
}

#[test]
fn functions_are_values_closures_capture_and_tail_calls_do_not_deepen_the_stack() {
    check(
        "($add := function($a, $b){$a + $b}; $inc := $add(?, 1); $inc(41))",
        json!(null),
        json!(42),
    );
    check(
        "($twice := function($f){function($x){$f($f($x))}}; $twice(function($n){$n * 3})(2))",
        json!(null),
        json!(18),
    );
    check(
        "($loop := function($n, $acc){$n = 0 ? $acc : $loop($n - 1, $acc + 1)}; $loop(100000, 0))",
        json!(null),
        json!(100000),
    );
    check(
        "[1,2,3] ~> $map(function($v, $i){$v * $i})",
        json!(null),
        json!([0, 2, 6]),
    );
    check(
        "'hello' ~> $uppercase ~> $substring(0, 3)",
        json!(null),
        json!("HEL"),
    );
}

#[test]
fn conditionals_and_the_default_and_coalescing_operators() {
    check(
        "price > 3 ? 'dear' : 'cheap'",
        json!({"price": 5}),
        json!("dear"),
    );
    check("missing ?: 'default'", json!({}), json!("default"));
    check("zero ?? 'default'", json!({"zero": 0}), json!(0));
    check("zero ?: 'default'", json!({"zero": 0}), json!("default"));
}

#[test]
fn numbers_print_as_javascript_prints_them() {
    check("$string(1/3)", json!(null), json!("0.333333333333333"));
    check("$string(1e21)", json!(null), json!("1e+21"));
    check("$string(0.000001)", json!(null), json!("0.000001"));
    check("$string(100)", json!(null), json!("100"));
    check(
        "$formatNumber(1234.5678, '#,##0.00')",
        json!(null),
        json!("1,234.57"),
    );
    check("$formatBase(255, 16)", json!(null), json!("ff"));
    check("$round(2.5) & ' ' & $round(3.5)", json!(null), json!("2 4"));
}

#[test]
fn strings_and_regular_expressions() {
    check(
        "$replace('2024-01-02', /(\\d+)-(\\d+)-(\\d+)/, '$3.$2.$1')",
        json!(null),
        json!("02.01.2024"),
    );
    check(
        "$split('a, b,c', /,\\s*/)",
        json!(null),
        json!(["a", "b", "c"]),
    );
    check(
        "$match('ab12cd345', /\\d+/).match",
        json!(null),
        json!(["12", "345"]),
    );
    check("$length('héllo')", json!(null), json!(5));
    check("$pad('7', -3, '0')", json!(null), json!("007"));
}

#[test]
fn dates_format_and_parse_with_pictures() {
    check(
        "$fromMillis(1510067557121)",
        json!(null),
        json!("2017-11-07T15:12:37.121Z"),
    );
    check(
        "$fromMillis(0, '[FNn], [D1o] [MNn] [Y]')",
        json!(null),
        json!("Thursday, 1st January 1970"),
    );
    check(
        "$toMillis('2017-11-07T15:12:37.121Z')",
        json!(null),
        json!(1510067557121_i64),
    );
    check(
        "$toMillis('07/11/2017', '[D01]/[M01]/[Y0001]')",
        json!(null),
        json!(1510012800000_i64),
    );
    check("$formatInteger(1999, 'I')", json!(null), json!("MCMXCIX"));
    check("$formatInteger(21, 'w')", json!(null), json!("twenty-one"));
}

#[test]
fn object_keys_keep_their_order() {
    let out = eval("{'z': 1, 'a': 2, 'm': 3}", json!(null)).unwrap();
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["z", "a", "m"]);
}

#[test]
fn bindings_become_variables() {
    let expr = Expression::compile("$x * factor").unwrap();
    let bindings = json!({"x": 6}).as_object().unwrap().clone();
    let out = expr.evaluate_with(Some(&json!({"factor": 7})), &bindings, Limits::default());
    assert_eq!(out.unwrap(), Some(json!(42)));
}

#[test]
fn errors_carry_jsonata_codes() {
    assert_eq!(error_code("1 +", json!(null)), "S0207");
    assert_eq!(error_code("'a' + 1", json!(null)), "T2001");
    assert_eq!(error_code("$number('x')", json!(null)), "D3030");
    assert_eq!(error_code("$length(1)", json!(null)), "T0410");
    assert_eq!(error_code("$substring(1)", json!(null)), "T0411");
    assert_eq!(error_code("$error('stop')", json!(null)), "D3137");
    assert_eq!(error_code("uppercase('a')", json!(null)), "T1005");
    assert_eq!(error_code("[1..10000000000]", json!(null)), "D2014");
    let e = Expression::compile("$assert(false, 'must hold')")
        .unwrap()
        .evaluate(None)
        .unwrap_err();
    assert_eq!((e.code, e.message()), ("D3141", "must hold".to_owned()));
}

#[test]
fn a_predicate_that_is_the_same_for_every_item_selects_as_if_evaluated_per_item() {
    let nums = json!({"n": [10, 11, 12, 13]});
    check("n[[0..1]]", nums.clone(), json!([10, 11]));
    check("n[[-1, 0]]", nums.clone(), json!([10, 13]));
    // a position named twice selects its item twice, in item order
    check("n[[2, 0, 2]]", nums.clone(), json!([10, 12, 12]));
    check("n[[1.7]]", nums.clone(), json!(11));
    check("n[[0..9]]", nums.clone(), json!([10, 11, 12, 13]));
    check("n[true]", nums.clone(), json!([10, 11, 12, 13]));
    check("n[1 = 1 and \"a\"]", nums.clone(), json!([10, 11, 12, 13]));
    assert_eq!(eval("n[false]", nums.clone()), None);
    assert_eq!(eval("n[[]]", nums.clone()), None);
    assert_eq!(eval("n[[7..9]]", nums), None);
    assert_eq!(
        error_code("n[[1..10000000000]]", json!({"n": [1]})),
        "D2014"
    );
}

#[test]
fn field_paths_through_nested_objects_meet_arrays_and_missing_fields_as_the_general_walk_does() {
    let doc = json!({"a": {"b": {"c": [{"d": 1}, {"d": 2}], "e": {"f": "x"}, "g": [5]}}});
    check("a.b.e.f", doc.clone(), json!("x"));
    check("a.b.c.d", doc.clone(), json!([1, 2]));
    check("a.b.c", doc.clone(), json!([{"d": 1}, {"d": 2}]));
    check("a.b.g", doc.clone(), json!([5]));
    check("a.b.g[]", doc.clone(), json!([5]));
    assert_eq!(eval("a.b.x.y", doc.clone()), None);
    assert_eq!(eval("a.b.e.f.g", doc.clone()), None);
    check("[a.b.e.f]", doc, json!(["x"]));
}

#[test]
fn grouping_many_items_appends_each_group_in_order() {
    let people = json!({"p": [
        {"k": "x", "v": 1}, {"k": "y", "v": [2, 3]}, {"k": "x", "v": [4]}, {"k": "x", "v": 5}
    ]});
    check(
        "p{k: v}",
        people.clone(),
        json!({"x": [1, 4, 5], "y": [2, 3]}),
    );
    check("p{k: $count(v)}", people.clone(), json!({"x": 3, "y": 2}));
    check(
        "p.{k: v}",
        people,
        json!([{"x": 1}, {"y": [2, 3]}, {"x": [4]}, {"x": 5}]),
    );
}

#[test]
fn now_is_one_instant_for_the_whole_evaluation() {
    check(
        "$now() = $now() and $millis() = $millis()",
        json!({}),
        json!(true),
    );
}
