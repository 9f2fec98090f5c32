//! Variable scopes: a frame per block, function call and tuple; lookups walk outwards.

use std::cell::RefCell;
use std::rc::Rc;

use crate::runtime::value::Value;

/// A shared scope.
pub type Env = Rc<Frame>;

/// One scope: its own bindings and the enclosing scope.
#[derive(Debug, Default)]
pub struct Frame {
    vars: RefCell<Vec<(Rc<str>, Value)>>,
    parent: Option<Env>,
}

impl Frame {
    /// The outermost scope.
    pub fn root() -> Env {
        Rc::new(Frame::default())
    }

    /// A scope inside `parent`.
    pub fn child(parent: &Env) -> Env {
        Rc::new(Frame {
            vars: RefCell::new(Vec::new()),
            parent: Some(parent.clone()),
        })
    }

    /// Binds (or rebinds) `name` in this scope.
    pub fn bind(&self, name: &str, value: Value) {
        let mut vars = self.vars.borrow_mut();
        if let Some(slot) = vars.iter_mut().find(|(k, _)| &**k == name) {
            slot.1 = value;
        } else {
            vars.push((Rc::from(name), value));
        }
    }

    /// Binds with a name that is already shared.
    pub fn bind_rc(&self, name: &Rc<str>, value: Value) {
        let mut vars = self.vars.borrow_mut();
        if let Some(slot) = vars.iter_mut().find(|(k, _)| k == name) {
            slot.1 = value;
        } else {
            vars.push((name.clone(), value));
        }
    }

    /// The innermost binding of `name`.
    pub fn lookup(&self, name: &str) -> Option<Value> {
        let mut frame = self;
        loop {
            if let Some((_, v)) = frame.vars.borrow().iter().rev().find(|(k, _)| &**k == name) {
                return Some(v.clone());
            }
            frame = frame.parent.as_deref()?;
        }
    }

    /// Drops every binding: breaks the cycles closures make with the scope they live in.
    /// (`Drop` below: a scope's contents are dropped without deep recursion.)
    pub fn clear(&self) {
        let taken = std::mem::take(&mut *self.vars.borrow_mut());
        drop(taken);
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        let vars = std::mem::take(self.vars.get_mut());
        crate::runtime::teardown::release_scope(vars, self.parent.take());
    }
}
