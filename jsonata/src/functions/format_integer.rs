//! (being written)
use super::Ctx;
use crate::error::Error;
use crate::evaluator::Evaluator;
use crate::value::Value;
pub fn format_integer_fn(_: &mut Evaluator, _: &[Value], _: &Ctx) -> Result<Value, Error> { Err(Error::new("X")) }
pub fn parse_integer_fn(_: &mut Evaluator, _: &[Value], _: &Ctx) -> Result<Value, Error> { Err(Error::new("X")) }
