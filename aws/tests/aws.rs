//! The AWS adapters against moto server on 127.0.0.1: one server per test binary (see
//! `stepscore_aws::moto`), a distinct bucket / table / state machine per test.

mod integration;
