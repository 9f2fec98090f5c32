//! Evaluation: values, the evaluator and the function library, which call each other (a
//! built-in applies user functions, the evaluator calls built-ins), so they live under one
//! module.
//!
//! - [`value`]: values and sequences.
//! - [`evaluator`]: paths and tuple streams, operators, function application, transforms, scopes.
//! - [`functions`]: the library, one module per family.
//! - [`validate`]: checking arguments against signatures.
//! - [`native`]: functions an embedder adds to the library.

pub mod evaluator;
pub mod functions;
pub mod native;
pub mod validate;
pub mod value;
