//! The fakes against the contract suites every adapter passes: a handler test over a fake that
//! behaves unlike S3, DynamoDB, Batch or Step Functions would prove nothing about the pipeline.

use std::time::Duration;

use stepscore_core::batch_contract::{BatchSetup, check_batch_service};
use stepscore_core::executions_contract::check_executions;
use stepscore_core::store_contract::check_object_store;
use stepscore_core::table_contract::check_job_table;

use crate::fakes::*;

#[test]
fn the_fake_store_meets_the_object_store_contract() {
    block_on(check_object_store(&MemStore::default(), "acme-scoring"));
}

#[test]
fn the_fake_table_meets_the_job_table_contract() {
    block_on(check_job_table(|| async { MemTable::default() }));
}

#[test]
fn the_fake_batch_meets_the_batch_contract() {
    let setup = BatchSetup {
        queue: "stepscore-spot".into(),
        other_queue: "stepscore-on-demand".into(),
        job_definition: "stepscore-scoring".into(),
        // the fake changes state only when called
        patience: Duration::ZERO,
    };
    block_on(check_batch_service(&FakeBatch::default(), &setup));
}

#[test]
fn the_fake_executions_meet_the_executions_contract() {
    block_on(check_executions(&RecExecutions::default()));
}
