//! Dropping values without deep native recursion.
//!
//! Arrays and objects nest at most [`super::value::MAX_VALUE_DEPTH`] deep, but closures chain
//! without that bound: `$reduce([1..5000], function($a, $b) { function() { $a } }, 0)` makes a
//! closure whose scope holds the previous closure, whose scope holds the one before, 5,000
//! deep; so do chains of `~>` compositions and partial applications. Dropping such a chain the
//! usual way recurses once per link and overflowed the native stack (found by fuzzing). Scopes
//! and compositions therefore drop their contents here: nested up to [`MAX_NESTED`] levels as
//! usual, deeper than that set aside and dropped by the outermost drop, one after another.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::evaluator::frame::Env;
use super::value::Value;

/// Drops nested inside one another before the rest is set aside.
const MAX_NESTED: u32 = 64;

/// What a scope or a function held.
enum Contents {
    /// A scope's bindings and the enclosing scope.
    Scope(Vec<(Rc<str>, Value)>, Option<Env>),
    /// A function's values (a composition's two functions, a partial application's arguments).
    Values(Vec<Value>),
}

thread_local! {
    static NESTED: Cell<u32> = const { Cell::new(0) };
    static SET_ASIDE: RefCell<Vec<Contents>> = const { RefCell::new(Vec::new()) };
}

/// Drops a scope's bindings and its enclosing scope (taken out of it by its `Drop`).
pub(crate) fn release_scope(vars: Vec<(Rc<str>, Value)>, parent: Option<Env>) {
    if vars.is_empty() && parent.is_none() {
        return;
    }
    release(Contents::Scope(vars, parent));
}

/// Drops the values a function held (taken out of it by its `Drop`).
pub(crate) fn release_values(values: Vec<Value>) {
    if values.is_empty() {
        return;
    }
    release(Contents::Values(values));
}

fn release(contents: Contents) {
    let nested = NESTED.get();
    if nested >= MAX_NESTED {
        SET_ASIDE.with(|s| s.borrow_mut().push(contents));
        return;
    }
    NESTED.set(nested + 1);
    dispose(contents);
    if nested == 0 {
        while let Some(contents) = SET_ASIDE.with(|s| s.borrow_mut().pop()) {
            dispose(contents);
        }
    }
    NESTED.set(nested);
}

/// Drops the contents here, where the nesting count covers them.
fn dispose(contents: Contents) {
    match contents {
        Contents::Scope(vars, parent) => {
            drop(vars);
            drop(parent);
        }
        Contents::Values(values) => drop(values),
    }
}
