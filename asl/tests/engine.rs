//! Integration tests for the ASL engine core: conformance against AWS recordings (with a
//! no-regression list), behaviour specifications of the interpreter, and parser robustness.

#[path = "engine/aws_samples.rs"]
mod aws_samples;
#[path = "engine/behaviour.rs"]
mod behaviour;
#[path = "engine/conformance.rs"]
mod conformance;
#[path = "engine/distributed.rs"]
mod distributed;
#[path = "engine/distributed_samples.rs"]
mod distributed_samples;
#[path = "engine/history_limit.rs"]
mod history_limit;
#[path = "engine/integrations.rs"]
mod integrations;
#[path = "engine/item_reader.rs"]
mod item_reader;
#[path = "engine/jsonata.rs"]
mod jsonata;
#[path = "engine/numeric_limits.rs"]
mod numeric_limits;
#[path = "engine/robustness.rs"]
mod robustness;
