//! Compiled expressions, per thread: the evaluator's tree shares `Rc`s with the values it
//! makes, so a compiled expression never crosses threads; each thread compiles an expression
//! once, on first use, and keeps it under the expression's process-unique id.
//!
//! Also per thread: the `$states` binding last made from a state input. Consecutive states
//! mostly read the same input (a Choice passes its input on as its output), and converting it
//! into the evaluator's values costs as much as evaluating a simple expression.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Weak};

use serde_json::Value;
use stepscore_jsonata::{Bound, Error, Expression};

/// Expressions a thread keeps before it starts over (definitions loaded and dropped over a long
/// run would otherwise grow the cache without end).
const MAX_CACHED: usize = 4096;

/// Keyed by id with foldhash: a lookup per evaluation, where SipHash showed in profiles.
type ById = HashMap<u64, Rc<Expression>, foldhash::fast::FixedState>;

thread_local! {
    static COMPILED: RefCell<ById> = RefCell::new(ById::default());
    /// The input a `$states` object was last made from, and that object. The `Weak` keeps the
    /// input's allocation from being reused while it is the key, so an equal pointer is the same
    /// input, which no one can change (`Arc::get_mut` refuses while a `Weak` exists). Holds one
    /// converted input per thread (state inputs are bounded by the payload limit).
    static STATES_OF_INPUT: RefCell<Option<(Weak<Value>, Bound)>> = const { RefCell::new(None) };
}

thread_local! {
    static STATES: Rc<str> = Rc::from("states");
}

/// The name `states`, to bind without allocating it each time.
pub(super) fn states_name() -> Rc<str> {
    STATES.with(Rc::clone)
}

/// `$states` with only `input`, converted once per input.
pub(super) fn states_of_input(input: &Arc<Value>) -> Bound {
    STATES_OF_INPUT.with(|slot| {
        let mut slot = slot.borrow_mut();
        if let Some((key, states)) = &*slot
            && std::ptr::eq(key.as_ptr(), Arc::as_ptr(input))
        {
            return states.clone();
        }
        let states = Bound::object(&[("input", input)]);
        *slot = Some((Arc::downgrade(input), states.clone()));
        states
    })
}

/// Checks that `text` compiles (at definition load).
pub(super) fn check(text: &str) -> Result<(), Error> {
    Expression::compile(text).map(drop)
}

/// The compiled form of expression `id` on this thread.
pub(super) fn compiled(id: u64, text: &str) -> Result<Rc<Expression>, Error> {
    if let Some(e) = COMPILED.with(|c| c.borrow().get(&id).cloned()) {
        return Ok(e);
    }
    let e = Rc::new(Expression::compile(text)?);
    COMPILED.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= MAX_CACHED {
            c.clear();
        }
        c.insert(id, e.clone());
    });
    Ok(e)
}
