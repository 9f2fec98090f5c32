//! Amazon States Language: parse a state machine definition into a validated, typed model,
//! then interpret it exactly as AWS Step Functions does.
//!
//! The interpreter does no IO of its own: Task resources, time and persistence come in through
//! traits the embedder implements.

pub mod choice;
pub mod intrinsics;
pub mod jsonpath;
