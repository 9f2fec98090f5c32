//! `| pattern | update, delete |`: a function that copies its argument and changes the parts
//! the pattern selects. Matches are told apart by identity within the fresh copy; the changes
//! are applied in one rebuild, innermost objects first.

use std::collections::HashMap;
use std::rc::Rc;

use super::Evaluator;
use super::frame::Env;
use crate::ast::TransformDef;
use crate::error::Error;
use crate::runtime::value::{Object, Value, stringify};

/// Changes to one matched object, in the order they apply.
#[derive(Default)]
struct Changes {
    updates: Vec<Object>,
    deletions: Vec<Vec<Rc<str>>>,
}

impl Evaluator {
    #[inline(never)]
    pub(super) fn transform(
        &mut self,
        def: &TransformDef,
        arg: Value,
        env: &Env,
    ) -> Result<Value, Error> {
        if !arg.is_defined() {
            return Ok(Value::Undefined);
        }
        if !matches!(arg, Value::Object(_) | Value::Array(_)) {
            return Err(Error::new("T0410").with_value("1").with_token("transform"));
        }
        let clone_fn = self.lookup(env, "clone");
        if !clone_fn.is_function() {
            return Err(Error::at("T2013", def.pattern.position));
        }
        let copy = deep_clone(&arg);
        let matches = self.eval(&def.pattern, &copy, env)?;
        let mut changes: HashMap<usize, Changes> = HashMap::new();
        for m in matches.members() {
            let Value::Object(obj) = &m else { continue };
            let key = Rc::as_ptr(obj) as usize;
            let update = self.eval(&def.update, &m, env)?;
            match update {
                Value::Undefined => {}
                Value::Object(u) => changes.entry(key).or_default().updates.push(u.map.clone()),
                other => {
                    return Err(Error::at("T2011", def.update.position)
                        .with_value(stringify(&other, false)));
                }
            }
            if let Some(delete) = &def.delete {
                let deletions = self.eval(delete, &m, env)?;
                if deletions.is_defined() {
                    let names: Option<Vec<Rc<str>>> = deletions
                        .members()
                        .into_iter()
                        .map(|d| match d {
                            Value::String(s) => Some(s),
                            _ => None,
                        })
                        .collect();
                    match names {
                        Some(names) => changes.entry(key).or_default().deletions.push(names),
                        None => {
                            return Err(Error::at("T2012", delete.position)
                                .with_value(stringify(&deletions, false)));
                        }
                    }
                }
            }
        }
        Ok(rebuild(&copy, &changes))
    }
}

/// A copy in which every array and object is new (what `$clone` makes).
pub fn deep_clone(v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::array(
            a.items
                .iter()
                .filter(|i| !i.is_function())
                .map(deep_clone)
                .collect(),
        ),
        Value::Object(o) => Value::object(
            o.iter()
                .filter(|(_, v)| v.is_defined() && !v.is_function())
                .map(|(k, v)| (k.clone(), deep_clone(v)))
                .collect(),
        ),
        v => v.clone(),
    }
}

fn rebuild(v: &Value, changes: &HashMap<usize, Changes>) -> Value {
    match v {
        Value::Array(a) => Value::array(a.items.iter().map(|i| rebuild(i, changes)).collect()),
        Value::Object(o) => {
            let mut obj: Object = o
                .iter()
                .map(|(k, v)| (k.clone(), rebuild(v, changes)))
                .collect();
            if let Some(c) = changes.get(&(Rc::as_ptr(o) as usize)) {
                for update in &c.updates {
                    for (k, v) in update {
                        obj.insert(k.clone(), v.clone());
                    }
                }
                for names in &c.deletions {
                    for name in names {
                        obj.shift_remove(name);
                    }
                }
            }
            Value::object(obj)
        }
        v => v.clone(),
    }
}
