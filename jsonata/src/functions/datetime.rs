//! (being written)
use super::Ctx;
use crate::error::Error;
use crate::evaluator::Evaluator;
use crate::value::Value;
pub fn to_millis(_: &mut Evaluator, _: &[Value], _: &Ctx) -> Result<Value, Error> { Err(Error::new("X")) }
pub fn from_millis(_: &mut Evaluator, _: &[Value], _: &Ctx) -> Result<Value, Error> { Err(Error::new("X")) }
pub fn now(_: &mut Evaluator, _: &[Value], _: &Ctx) -> Result<Value, Error> { Err(Error::new("X")) }
pub fn millis(ev: &mut Evaluator, _: &[Value], _: &Ctx) -> Result<Value, Error> { Ok(Value::Number(ev.now_millis as f64)) }
