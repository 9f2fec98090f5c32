//! Compiled expressions, per thread: the evaluator's tree shares `Rc`s with the values it
//! makes, so a compiled expression never crosses threads; each thread compiles an expression
//! once, on first use, and keeps it under the expression's process-unique id.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use stepscore_jsonata::{Error, Expression};

/// Expressions a thread keeps before it starts over (definitions loaded and dropped over a long
/// run would otherwise grow the cache without end).
const MAX_CACHED: usize = 4096;

/// Keyed by id with foldhash: a lookup per evaluation, where SipHash showed in profiles.
type ById = HashMap<u64, Rc<Expression>, foldhash::fast::FixedState>;

thread_local! {
    static COMPILED: RefCell<ById> = RefCell::new(ById::default());
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
