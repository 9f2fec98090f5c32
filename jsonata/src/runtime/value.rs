//! JSONata's values: JSON plus `undefined`, functions, and sequences (arrays flagged by how
//! they were made, which decides whether they flatten or collapse to a single value).

use std::fmt::Write as _;
use std::rc::Rc;

use indexmap::IndexMap;

use crate::ast::{LambdaDef, TransformDef};
use crate::jsregex::Matcher;
use crate::number;
use crate::runtime::evaluator::frame::Env;
use crate::runtime::functions::Builtin;
use crate::runtime::native::NativeFunction;

/// An object's members: keys in insertion order. Hashed with foldhash (randomly seeded per
/// process): field lookups are most of the work of a path over many objects, and SipHash made
/// them twice as slow.
pub type Object = IndexMap<Rc<str>, Value, foldhash::fast::RandomState>;

/// An object value: its members and how deeply values nest inside it.
#[derive(Debug, Clone, Default)]
pub struct Obj {
    /// The members.
    pub map: Object,
    /// 1 + the deepest member's height.
    pub height: u32,
}

impl std::ops::Deref for Obj {
    type Target = Object;
    fn deref(&self) -> &Object {
        &self.map
    }
}

/// Deepest nesting of arrays and objects a value may have: every recursive walk over values
/// (serialization, equality, dropping) then stays within a small, fixed native stack.
pub const MAX_VALUE_DEPTH: u32 = 1000;

fn height_of<'a>(values: impl Iterator<Item = &'a Value>) -> u32 {
    1 + values.map(Value::height).max().unwrap_or(0)
}

/// A JSONata value.
#[derive(Debug, Clone)]
pub enum Value {
    /// No value (a missing field, an empty sequence).
    Undefined,
    /// JSON `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number (always an `f64`, as in JavaScript).
    Number(f64),
    /// A string.
    String(Rc<str>),
    /// An array or a sequence.
    Array(Rc<Array>),
    /// An object.
    Object(Rc<Obj>),
    /// A function (lambda, built-in, partial application, regex matcher, transform).
    Function(Rc<Function>),
}

/// Flags that say how an array came about.
pub mod flags {
    /// A sequence: the result of a path or a function, which flattens into its parent.
    pub const SEQUENCE: u8 = 1;
    /// Keep a one-item sequence as an array (`[]` was used).
    pub const KEEP_SINGLETON: u8 = 2;
    /// The input document was an array: wrapped so that it is treated as one value.
    pub const OUTER_WRAPPER: u8 = 4;
    /// A stream of tuples (context plus `@`/`#`/`%` bindings).
    pub const TUPLE_STREAM: u8 = 8;
    /// Made by an array constructor: not flattened by a path step.
    pub const CONS: u8 = 16;
}

/// An array and its flags.
#[derive(Debug, Clone, Default)]
pub struct Array {
    /// The items.
    pub items: Vec<Value>,
    /// `flags::*` bits.
    pub flags: u8,
    /// 1 + the deepest item's height.
    pub height: u32,
}

impl Array {
    /// True if `flag` is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// Callable values.
#[derive(Debug)]
pub enum Function {
    /// A user's `function(…){…}` with the environment it closes over.
    Lambda {
        /// The definition.
        def: Rc<LambdaDef>,
        /// The environment at definition.
        env: Env,
        /// The context at definition.
        input: Value,
    },
    /// A function of the library.
    Builtin(&'static Builtin),
    /// A function the embedder added ([`crate::Bindings::function`]).
    Native(Rc<NativeFunction>),
    /// `f(a, ?)`: the arguments so far, `None` where a `?` stands.
    Partial {
        /// The function applied.
        target: Value,
        /// Bound arguments and placeholders.
        args: Vec<Option<Value>>,
    },
    /// A regular expression literal: called with a string, it returns the first match.
    Regex(Rc<Matcher>),
    /// The `next` of a regex match object: the following match.
    RegexNext {
        /// The expression.
        matcher: Rc<Matcher>,
        /// The string searched.
        text: Rc<str>,
        /// Where to continue (byte offset).
        from: usize,
    },
    /// `f ~> g` for two functions: `g(f(x))`.
    Compose {
        /// Applied first.
        first: Value,
        /// Applied to the result.
        second: Value,
    },
    /// A `| … | … |` transform, applied to an object.
    Transform {
        /// The definition.
        def: Rc<TransformDef>,
        /// The environment at definition.
        env: Env,
    },
}

impl Function {
    /// How many arguments the function declares (higher-order functions pass that many).
    pub fn arity(&self) -> usize {
        match self {
            Function::Lambda { def, .. } => def.params.len(),
            Function::Builtin(b) => b.arity,
            Function::Native(n) => n.arity(),
            Function::Partial { args, .. } => args.iter().filter(|a| a.is_none()).count(),
            Function::Regex(_) => 1,
            Function::RegexNext { .. } => 0,
            Function::Transform { .. } | Function::Compose { .. } => 1,
        }
    }
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<Rc<str>>) -> Value {
        Value::String(s.into())
    }

    /// A plain array.
    pub fn array(items: Vec<Value>) -> Value {
        Value::array_with(items, 0)
    }

    /// A sequence.
    pub fn seq(items: Vec<Value>) -> Value {
        Value::array_with(items, flags::SEQUENCE)
    }

    /// An array with the given flags.
    pub fn array_with(items: Vec<Value>, flags: u8) -> Value {
        let height = height_of(items.iter());
        Value::Array(Rc::new(Array {
            items,
            flags,
            height,
        }))
    }

    /// An object value.
    pub fn object(map: Object) -> Value {
        let height = height_of(map.values());
        Value::Object(Rc::new(Obj { map, height }))
    }

    /// How deeply arrays and objects nest in this value (0 for a scalar).
    pub fn height(&self) -> u32 {
        match self {
            Value::Array(a) => a.height,
            Value::Object(o) => o.height,
            _ => 0,
        }
    }

    /// True unless undefined.
    pub fn is_defined(&self) -> bool {
        !matches!(self, Value::Undefined)
    }

    /// True for a function.
    pub fn is_function(&self) -> bool {
        matches!(self, Value::Function(_))
    }

    /// The array, if this is one.
    pub fn as_array(&self) -> Option<&Rc<Array>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// True for an array with the given flag.
    pub fn has_flag(&self, flag: u8) -> bool {
        matches!(self, Value::Array(a) if a.has(flag))
    }

    /// True for a sequence.
    pub fn is_sequence(&self) -> bool {
        self.has_flag(flags::SEQUENCE)
    }

    /// A number that is not NaN.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) if !n.is_nan() => Some(*n),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Items of an array, or the value alone (nothing for undefined), borrowed: what
    /// [`Value::members`] copies.
    pub fn member_slice(&self) -> &[Value] {
        match self {
            Value::Undefined => &[],
            Value::Array(a) => &a.items,
            v => std::slice::from_ref(v),
        }
    }

    /// Items of an array, or the value alone (nothing for undefined).
    pub fn members(&self) -> Vec<Value> {
        match self {
            Value::Undefined => Vec::new(),
            Value::Array(a) => a.items.clone(),
            v => vec![v.clone()],
        }
    }

    /// A copy of this array with `flag` added (other values unchanged).
    pub fn with_flag(self, flag: u8) -> Value {
        match self {
            Value::Array(mut a) => {
                if !a.has(flag) {
                    Rc::make_mut(&mut a).flags |= flag;
                }
                Value::Array(a)
            }
            v => v,
        }
    }

    /// Converts JSON into a value.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::string(s.as_str()),
            serde_json::Value::Array(a) => Value::array(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::object(
                o.iter()
                    .map(|(k, v)| (Rc::from(k.as_str()), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts to JSON; `None` for undefined. Functions become `""` (as `$string` renders them),
    /// undefined object members are left out and undefined array items become `null`.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        Some(match self {
            Value::Undefined => return None,
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number::to_json(*n),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Array(a) => serde_json::Value::Array(
                a.items
                    .iter()
                    .map(|v| v.to_json().unwrap_or(serde_json::Value::Null))
                    .collect(),
            ),
            Value::Object(o) => serde_json::Value::Object(
                o.iter()
                    .filter_map(|(k, v)| v.to_json().map(|j| (k.to_string(), j)))
                    .collect(),
            ),
            Value::Function(_) => serde_json::Value::String(String::new()),
        })
    }
}

/// Deep equality as JSONata's `=` sees it (functions are never equal).
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Undefined, Value::Undefined) | (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.items.len() == y.items.len()
                && x.items.iter().zip(&y.items).all(|(a, b)| deep_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        (Value::Function(x), Value::Function(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

/// Strict equality (`===`): primitives by value, arrays, objects and functions by identity.
pub fn strict_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => Rc::ptr_eq(x, y),
        (Value::Object(x), Value::Object(y)) => Rc::ptr_eq(x, y),
        (Value::Function(x), Value::Function(y)) => Rc::ptr_eq(x, y),
        _ => deep_equal(a, b),
    }
}

/// Serializes as `JSON.stringify` does, numbers rounded to 15 significant digits and functions
/// as `""` (`$string`'s rules); `indent` pretty-prints with two spaces.
pub fn stringify(v: &Value, indent: bool) -> String {
    let mut out = String::new();
    write_json(&mut out, v, indent, 0);
    out
}

fn write_json(out: &mut String, v: &Value, indent: bool, level: usize) {
    match v {
        Value::Undefined | Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_finite() {
                // integers print exactly; other numbers to 15 significant digits
                let n = if n.fract() == 0.0 {
                    *n
                } else {
                    number::to_precision_15(*n)
                };
                out.push_str(&number::js_to_string(n));
            } else {
                out.push_str("null");
            }
        }
        Value::String(s) => write_string(out, s),
        Value::Function(_) => out.push_str("\"\""),
        Value::Array(a) => {
            if a.items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in a.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, level + 1);
                write_json(out, item, indent, level + 1);
            }
            newline(out, indent, level);
            out.push(']');
        }
        Value::Object(o) => {
            let members: Vec<_> = o.iter().filter(|(_, v)| v.is_defined()).collect();
            if members.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, level + 1);
                write_string(out, k);
                out.push(':');
                if indent {
                    out.push(' ');
                }
                write_json(out, v, indent, level + 1);
            }
            newline(out, indent, level);
            out.push('}');
        }
    }
}

fn newline(out: &mut String, indent: bool, level: usize) {
    if indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str("  ");
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
