//! JSONata 2.x: compile an expression once, evaluate it over JSON many times.
//!
//! ```
//! let expr = stepscore_jsonata::Expression::compile("$sum(orders.(price * qty))").unwrap();
//! let input = serde_json::json!({"orders": [{"price": 2, "qty": 3}, {"price": 1, "qty": 4}]});
//! assert_eq!(expr.evaluate(Some(&input)).unwrap(), Some(serde_json::json!(10)));
//! ```
//!
//! The semantics, the function library and the error codes are those of the reference
//! implementation (jsonata-js), checked case by case against its test suite ([`suite`]).
//! Evaluation is bounded: nesting depth, an optional time limit and the size of ranges and
//! padded strings end in errors (`U1001`, `D2014`…) rather than in a stack overflow, a hang or
//! an exhausted memory.
//!
//! # Layout
//! - [`lexer`], [`parser`], `process`: text → tokens → raw tree → the evaluator's [`ast`].
//! - [`runtime`]: values, the evaluator (paths and tuple streams, operators, function
//!   application, transforms) and the function library, one module per family (string,
//!   numeric, aggregate, array, object, higher-order, regex, URL, date/time, number and integer
//!   pictures).
//! - [`jsregex`], [`signature`], [`number`], [`error`]: regex literals (JavaScript syntax on the
//!   `regex` crate), function signatures, JavaScript number formatting, error codes.
//! - `stack`: the native stack budget every recursion checks.
//! - [`suite`]: runs the reference test suite (`stepscore asl jsonata-suite`).

pub mod ast;
pub mod error;
pub mod jsregex;
pub mod lexer;
pub mod number;
pub mod parser;
mod process;
pub mod runtime;
pub mod signature;
mod stack;
pub mod suite;

use std::rc::Rc;

pub use error::Error;
pub use runtime::evaluator::Limits;
use runtime::evaluator::frame::Frame;
pub use runtime::native::NativeFunction;
use runtime::value::{Value, flags};

/// A compiled expression.
#[derive(Debug)]
pub struct Expression {
    root: Rc<ast::Node>,
}

thread_local! {
    /// The name of the context binding, shared so an evaluation does not allocate it.
    static DOLLAR: Rc<str> = Rc::from("$");
}

/// Parses and processes expression text into the evaluator's tree.
pub(crate) fn compile_node(text: &str) -> Result<ast::Node, Error> {
    process::process(parser::parse(text)?)
}

impl Expression {
    /// Compiles `text`; syntax errors carry their `S0xxx` code and position.
    pub fn compile(text: &str) -> Result<Expression, Error> {
        Ok(Expression {
            root: Rc::new(compile_node(text)?),
        })
    }

    /// Evaluates over `input` (`None`: no input) with default limits; `Ok(None)` is JSONata's
    /// undefined.
    pub fn evaluate(
        &self,
        input: Option<&serde_json::Value>,
    ) -> Result<Option<serde_json::Value>, Error> {
        self.evaluate_with(input, &serde_json::Map::new(), Limits::default())
    }

    /// Evaluates with variable bindings (`{"x": 1}` binds `$x`) and limits.
    pub fn evaluate_with(
        &self,
        input: Option<&serde_json::Value>,
        bindings: &serde_json::Map<String, serde_json::Value>,
        limits: Limits,
    ) -> Result<Option<serde_json::Value>, Error> {
        let mut bound = Bindings::new();
        for (k, v) in bindings {
            bound.value(k, v);
        }
        self.evaluate_bound(input, &bound, limits)
    }

    /// Evaluates with [`Bindings`] (values and native functions) and limits.
    pub fn evaluate_bound(
        &self,
        input: Option<&serde_json::Value>,
        bindings: &Bindings,
        limits: Limits,
    ) -> Result<Option<serde_json::Value>, Error> {
        self.evaluate_document(&Document::new(input), bindings, limits)
    }

    /// Evaluates over a document converted beforehand: the way to evaluate many times over the
    /// same data, whose conversion into the evaluator's values otherwise costs as much as a
    /// simple expression's evaluation (a 1.5 MB document: about 15 ms).
    pub fn evaluate_document(
        &self,
        document: &Document,
        bindings: &Bindings,
        limits: Limits,
    ) -> Result<Option<serde_json::Value>, Error> {
        let input = document.value.clone();
        let env = Frame::root();
        DOLLAR.with(|d| env.bind_rc(d, input.clone()));
        for (k, v) in &bindings.entries {
            env.bind_rc(k, v.clone());
        }
        let mut ev = runtime::evaluator::Evaluator::new(limits);
        let result = ev.evaluate_root(&self.root, &input, &env);
        let json = match result {
            Ok(v) => result_to_json(&v),
            Err(e) => Err(e),
        };
        ev.release();
        env.clear();
        json
    }
}

/// An input document in the evaluator's own values, converted from JSON once.
#[derive(Debug, Clone)]
pub struct Document {
    value: Value,
}

impl Document {
    /// Converts `input` (`None`: no input).
    pub fn new(input: Option<&serde_json::Value>) -> Document {
        let mut value = input.map_or(Value::Undefined, Value::from_json);
        // an array document is one value: wrapped so that paths do not map over it
        if let Value::Array(a) = &value
            && !a.has(flags::SEQUENCE)
        {
            value = Value::array_with(vec![value.clone()], flags::SEQUENCE | flags::OUTER_WRAPPER);
        }
        Document { value }
    }
}

/// Variables and functions an evaluation starts with, each bound as `$name`: JSON values,
/// objects assembled from borrowed JSON members, and the embedder's [`NativeFunction`]s.
#[derive(Debug, Default, Clone)]
pub struct Bindings {
    entries: Vec<(Rc<str>, Value)>,
}

impl Bindings {
    /// No bindings.
    pub fn new() -> Bindings {
        Bindings::default()
    }

    /// Binds `$name` to a JSON value.
    pub fn value(&mut self, name: &str, value: &serde_json::Value) {
        self.entries.push((Rc::from(name), Value::from_json(value)));
    }

    /// Binds `$name` to an object of these members (without first assembling it as JSON).
    pub fn object(&mut self, name: &str, members: &[(&str, &serde_json::Value)]) {
        let map: runtime::value::Object = members
            .iter()
            .map(|(k, v)| (Rc::from(*k), Value::from_json(v)))
            .collect();
        self.entries.push((Rc::from(name), Value::object(map)));
    }

    /// Binds `$<its name>` to a native function.
    pub fn function(&mut self, function: Rc<NativeFunction>) {
        let name: Rc<str> = Rc::from(function.name());
        self.entries.push((
            name,
            Value::Function(Rc::new(runtime::value::Function::Native(function))),
        ));
    }
}

fn result_to_json(v: &Value) -> Result<Option<serde_json::Value>, Error> {
    check_finite(v)?;
    Ok(v.to_json())
}

/// A result holding Infinity or NaN has no JSON form: D1001, as the reference implementation
/// reports it when serializing.
pub(crate) fn check_finite(v: &Value) -> Result<(), Error> {
    match v {
        Value::Number(n) if !n.is_finite() => {
            Err(Error::new("D1001").with_value(number::js_to_string(*n)))
        }
        Value::Array(a) => a.items.iter().try_for_each(check_finite),
        Value::Object(o) => o.values().try_for_each(check_finite),
        _ => Ok(()),
    }
}
