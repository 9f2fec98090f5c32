//! Any bytes as a model artifact: loading either refuses them (exit 65) or gives a model that
//! scores rows without panicking; libFuzzer's timeout and RSS limit catch hangs and blow-ups.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepscore_batch::kernel::Predictions;
use stepscore_batch::model::Model;

fuzz_target!(|data: &[u8]| {
    let Ok(model) = Model::from_slice(data, "fuzz.json") else {
        return;
    };
    let nf = model.n_features();
    let x: Vec<f64> = (0..nf * 9).map(|i| (i % 5) as f64 - 2.0).collect();
    let mut out = Predictions::default();
    let _ = model.predict(&x, &mut out);
});
