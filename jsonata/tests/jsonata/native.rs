//! The extension point: functions an embedder binds, called like built-ins, their arguments
//! checked against their signature, their errors carrying the embedder's message.

use std::rc::Rc;

use serde_json::{Value, json};
use stepscore_jsonata::{Bindings, Error, Expression, Limits, NativeFunction};

fn eval(text: &str, bindings: &Bindings) -> Result<Option<Value>, Error> {
    Expression::compile(text)
        .expect("expression compiles")
        .evaluate_bound(None, bindings, Limits::default())
}

fn double() -> Rc<NativeFunction> {
    Rc::new(
        NativeFunction::new("double", "<n:n>", |args| {
            Ok(args[0]
                .as_ref()
                .and_then(Value::as_f64)
                .map(|n| json!(n * 2.0)))
        })
        .expect("signature parses"),
    )
}

#[test]
fn a_native_function_is_called_like_a_builtin() {
    let mut b = Bindings::new();
    b.function(double());
    assert_eq!(eval("$double(21)", &b), Ok(Some(json!(42))));
    assert_eq!(eval("[1, 2, 3].$double($)", &b), Ok(Some(json!([2, 4, 6]))));
    assert_eq!(eval("$map([1, 2], $double)", &b), Ok(Some(json!([2, 4]))));
}

#[test]
fn a_native_functions_arguments_are_checked_against_its_signature() {
    let mut b = Bindings::new();
    b.function(double());
    let e = eval("$double('x')", &b).expect_err("a string is not a number");
    assert_eq!(e.code, "T0410");
    assert_eq!(e.token.as_deref(), Some("double"));
}

#[test]
fn a_native_function_shadows_the_builtin_of_its_name() {
    let mut b = Bindings::new();
    b.function(Rc::new(
        NativeFunction::new("random", "<n?:n>", |_| Ok(Some(json!(0.5)))).expect("parses"),
    ));
    assert_eq!(eval("$random()", &b), Ok(Some(json!(0.5))));
}

#[test]
fn a_native_functions_error_carries_its_own_message() {
    let mut b = Bindings::new();
    b.function(Rc::new(
        NativeFunction::new("fails", "<:x>", |_| {
            Err(Error::custom("D3137", "no, never"))
        })
        .expect("parses"),
    ));
    let e = eval("$fails()", &b).expect_err("it fails");
    assert_eq!(e.message(), "no, never");
}

#[test]
fn a_sequence_returning_function_collapses_a_single_item() {
    let mut b = Bindings::new();
    b.function(Rc::new(
        NativeFunction::new("items", "<n:a<n>>", |args| {
            let n = args[0].as_ref().and_then(Value::as_u64).unwrap_or(0);
            Ok(Some(Value::Array((0..n).map(Value::from).collect())))
        })
        .expect("parses")
        .returning_sequence(),
    ));
    assert_eq!(eval("$items(1)", &b), Ok(Some(json!(0))));
    assert_eq!(eval("$items(2)", &b), Ok(Some(json!([0, 1]))));
}

#[test]
fn values_and_assembled_objects_are_bound_as_variables() {
    let mut b = Bindings::new();
    b.value("x", &json!(2));
    let input = json!({"n": 40});
    b.object("states", &[("input", &input)]);
    assert_eq!(eval("$states.input.n + $x", &b), Ok(Some(json!(42))));
    assert_eq!(eval("$keys($states)", &b), Ok(Some(json!("input"))));
}

#[test]
fn a_bad_signature_is_refused_when_the_function_is_made() {
    assert!(NativeFunction::new("bad", "<n<s>:n>", |_| Ok(None)).is_err());
}
