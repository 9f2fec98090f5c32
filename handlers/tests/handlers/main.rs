//! Behaviour of the pipeline's handlers over in-memory ports, with real event fixtures.

mod admission;
mod cleanup;
mod contract;
mod fakes;
mod fakes_contract;
mod front_door;
mod machine;
mod notify;
mod schema;
mod tasks;
