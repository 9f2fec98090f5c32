//! The function library, one file per family. Each built-in has JSONata's signature (checked
//! before it runs, which also fills in the context for `-` parameters) and the arity its
//! reference implementation declares (higher-order functions pass that many arguments).

pub mod aggregate;
pub mod array;
pub mod boolean;
pub mod datetime;
pub mod format_integer;
pub mod format_number;
pub mod hof;
pub mod numeric;
pub mod object;
pub mod regex;
pub mod string;
pub mod url;

use std::sync::OnceLock;

use crate::error::Error;
use crate::runtime::evaluator::Evaluator;
use crate::runtime::evaluator::frame::Env;
use crate::runtime::value::Value;
use crate::signature::Signature;

/// What a built-in sees of its call site.
#[derive(Debug)]
pub struct Ctx {
    /// The context value at the call.
    pub input: Value,
    /// The caller's scope (`$eval` evaluates in it).
    pub env: Env,
}

/// A built-in's implementation.
pub type Implementation = fn(&mut Evaluator, &[Value], &Ctx) -> Result<Value, Error>;

/// A function of the library.
#[derive(Debug)]
pub struct Builtin {
    /// Name without `$`.
    pub name: &'static str,
    /// The signature text.
    pub signature_text: &'static str,
    /// Declared parameter count.
    pub arity: usize,
    /// The code.
    pub implementation: Implementation,
    parsed: OnceLock<Option<Signature>>,
}

impl Builtin {
    /// The parsed signature (the texts are literals; a unit test checks that each parses).
    pub fn signature(&self) -> Option<&Signature> {
        self.parsed
            .get_or_init(|| Signature::parse(self.signature_text).ok())
            .as_ref()
    }
}

macro_rules! builtins {
    ($($name:literal, $sig:literal, $arity:literal, $f:path;)*) => {
        const COUNT: usize = [$($name),*].len();
        static BUILTINS: [Builtin; COUNT] = [
            $(Builtin {
                name: $name,
                signature_text: $sig,
                arity: $arity,
                implementation: $f,
                parsed: OnceLock::new(),
            },)*
        ];
    };
}

builtins! {
    "sum", "<a<n>:n>", 1, aggregate::sum;
    "count", "<a:n>", 1, aggregate::count;
    "max", "<a<n>:n>", 1, aggregate::max;
    "min", "<a<n>:n>", 1, aggregate::min;
    "average", "<a<n>:n>", 1, aggregate::average;
    "string", "<x-b?:s>", 1, string::string;
    "substring", "<s-nn?:s>", 3, string::substring;
    "substringBefore", "<s-s:s>", 2, string::substring_before;
    "substringAfter", "<s-s:s>", 2, string::substring_after;
    "lowercase", "<s-:s>", 1, string::lowercase;
    "uppercase", "<s-:s>", 1, string::uppercase;
    "length", "<s-:n>", 1, string::length;
    "trim", "<s-:s>", 1, string::trim;
    "pad", "<s-ns?:s>", 3, string::pad;
    "match", "<s-f<s:o>n?:a<o>>", 3, regex::match_fn;
    "contains", "<s-(sf):b>", 2, regex::contains;
    "replace", "<s-(sf)(sf)n?:s>", 4, regex::replace;
    "split", "<s-(sf)n?:a<s>>", 3, regex::split;
    "join", "<a<s>s?:s>", 2, string::join;
    "formatNumber", "<n-so?:s>", 3, format_number::format_number;
    "formatBase", "<n-n?:s>", 2, numeric::format_base;
    "formatInteger", "<n-s:s>", 2, format_integer::format_integer_fn;
    "parseInteger", "<s-s:n>", 2, format_integer::parse_integer_fn;
    "number", "<(nsb)-:n>", 1, numeric::number;
    "floor", "<n-:n>", 1, numeric::floor;
    "ceil", "<n-:n>", 1, numeric::ceil;
    "round", "<n-n?:n>", 2, numeric::round_fn;
    "abs", "<n-:n>", 1, numeric::abs;
    "sqrt", "<n-:n>", 1, numeric::sqrt;
    "power", "<n-n:n>", 2, numeric::power;
    "random", "<:n>", 0, numeric::random;
    "boolean", "<x-:b>", 1, boolean::boolean;
    "not", "<x-:b>", 1, boolean::not;
    "map", "<af>", 2, hof::map;
    "zip", "<a+>", 0, array::zip;
    "filter", "<af>", 2, hof::filter;
    "single", "<af?>", 2, hof::single;
    "reduce", "<afj?:j>", 3, hof::reduce;
    "sift", "<o-f?:o>", 2, hof::sift;
    "keys", "<x-:a<s>>", 1, object::keys;
    "lookup", "<x-s:x>", 2, object::lookup;
    "append", "<xx:a>", 2, array::append_fn;
    "exists", "<x:b>", 1, boolean::exists;
    "spread", "<x-:a<o>>", 1, object::spread;
    "merge", "<a<o>:o>", 1, object::merge;
    "reverse", "<a:a>", 1, array::reverse;
    "each", "<o-f:a>", 2, hof::each;
    "error", "<s?:x>", 1, object::error;
    "assert", "<bs?:x>", 2, object::assert;
    "type", "<x:s>", 1, object::type_of;
    "sort", "<af?:a>", 2, array::sort;
    "shuffle", "<a:a>", 1, array::shuffle;
    "distinct", "<x:x>", 1, array::distinct;
    "base64encode", "<s-:s>", 1, url::base64encode;
    "base64decode", "<s-:s>", 1, url::base64decode;
    "encodeUrlComponent", "<s-:s>", 1, url::encode_url_component;
    "encodeUrl", "<s-:s>", 1, url::encode_url;
    "decodeUrlComponent", "<s-:s>", 1, url::decode_url_component;
    "decodeUrl", "<s-:s>", 1, url::decode_url;
    "eval", "<sx?:x>", 2, hof::eval;
    "toMillis", "<s-s?:n>", 2, datetime::to_millis;
    "fromMillis", "<n-s?s?:s>", 3, datetime::from_millis;
    "clone", "<(oa)-:o>", 1, object::clone;
    "now", "<s?s?:s>", 2, datetime::now;
    "millis", "<:n>", 0, datetime::millis;
}

/// The built-in called `name`.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// Argument `i`, or undefined.
pub fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or(Value::Undefined)
}

/// Calls a function value from a built-in (a higher-order function's argument).
pub fn call(ev: &mut Evaluator, f: &Value, args: Vec<Value>, ctx: &Ctx) -> Result<Value, Error> {
    ev.apply(f, args, &Value::Null, &ctx.env)
}

/// The arguments a higher-order function passes: the value, then index and whole array if the
/// function declares them.
pub fn hof_args(f: &Value, value: Value, index: Value, whole: &Value) -> Vec<Value> {
    let arity = match f {
        Value::Function(func) => func.arity(),
        _ => 1,
    };
    let mut args = vec![value];
    if arity >= 2 {
        args.push(index);
    }
    if arity >= 3 {
        args.push(whole.clone());
    }
    args
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_builtin_signature_parses() {
        for b in &super::BUILTINS {
            assert!(
                crate::signature::Signature::parse(b.signature_text).is_ok(),
                "{}",
                b.name
            );
        }
    }
}
