//! JSONPath as Amazon States Language uses it: input paths (`$...`), context object paths
//! (`$$...`) and variable paths (`$name...`), evaluated with the semantics of Jayway JsonPath,
//! the library behind AWS Step Functions.
//!
//! A path is parsed once into a compact list of steps; resolving walks the document by
//! reference and clones only the result. Error texts follow Jayway's wording ("No results for
//! path: $['a']", "Missing property in path $['a']") because AWS embeds them in its causes.
//!
//! Written by hand rather than with a JSONPath crate: the available crates implement RFC 9535
//! or Goessner semantics, which differ from Jayway on definite paths, missing properties,
//! multi-property selection and filters on objects, and none report Jayway's messages.
//!
//! # Layout
//! - this file: [`Scope`] and [`Variables`], what a path is resolved against.
//! - `path`: [`JsonPath`], a parsed path, and resolving it.
//! - `error`: [`JsonPathError`].
//! - `ast`: the steps, filters and operands a path is parsed into, and Jayway's rendering of them.
//! - `parse`: the parser, for steps and (`parse/filter`) for filter expressions.
//! - `evaluate`: walking a document along a definite path, and the evaluator of indefinite ones.
//! - `compare`: comparing JSON values as Jayway does (numbers by value, deep equality).
//! - `write`: [`write_at`], a value written at a ResultPath.

mod ast;
mod compare;
mod error;
mod evaluate;
mod parse;
mod path;
mod write;

pub(crate) use evaluate::type_name;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value};

pub(crate) use compare::{cmp_numbers, json_equal};
pub use error::JsonPathError;
pub use parse::{MAX_NESTING, MAX_PATH_LEN};
pub use path::JsonPath;
pub use write::write_at;

/// Where a path's roots point when it is resolved: state input, context object, variables.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    /// The document `$` refers to (the state's effective input).
    pub input: &'a Value,
    /// The context object `$$` refers to.
    pub context: &'a Value,
    /// Workflow variables that `$name` refers to.
    pub variables: &'a dyn Variables,
}

impl fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("input", self.input)
            .field("context", self.context)
            .finish_non_exhaustive()
    }
}

/// Read access to workflow variables (`Assign`), looked up by name without the `$`.
pub trait Variables {
    /// The value of variable `name`, or `None` when it was never assigned.
    fn get(&self, name: &str) -> Option<Value>;

    /// Like [`Variables::get`], but may borrow; stores that hold values override it so that
    /// reading `$var.field` does not copy the whole variable.
    fn get_ref(&self, name: &str) -> Option<Cow<'_, Value>> {
        self.get(name).map(Cow::Owned)
    }

    /// The names of every variable visible (JSONata's `$eval` may read any of them).
    fn visible_names(&self) -> Vec<String>;
}

impl Variables for Map<String, Value> {
    fn get(&self, name: &str) -> Option<Value> {
        Map::get(self, name).cloned()
    }

    fn get_ref(&self, name: &str) -> Option<Cow<'_, Value>> {
        Map::get(self, name).map(Cow::Borrowed)
    }

    fn visible_names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

impl Variables for HashMap<String, Value> {
    fn get(&self, name: &str) -> Option<Value> {
        HashMap::get(self, name).cloned()
    }

    fn get_ref(&self, name: &str) -> Option<Cow<'_, Value>> {
        HashMap::get(self, name).map(Cow::Borrowed)
    }

    fn visible_names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}
