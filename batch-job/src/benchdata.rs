//! The benchmark data set: `id,f0..f{n-1},label` with standard-normal features and a label
//! drawn from a logistic of a fixed random linear combination plus a small non-linear term.

use std::io::Write;

use rand::{Rng, SeedableRng};

/// Writes `rows` rows of `features` features to `out`, deterministically from `seed`.
pub fn write_bench_data(
    out: &mut impl Write,
    rows: u64,
    features: usize,
    seed: u64,
) -> std::io::Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let weights: Vec<f64> = (0..features).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut line = Vec::with_capacity(32 * features);
    line.extend_from_slice(b"id");
    for i in 0..features {
        write!(line, ",f{i}")?;
    }
    line.extend_from_slice(b",label\n");
    out.write_all(&line)?;
    let mut x = vec![0.0; features];
    for id in 0..rows {
        line.clear();
        write!(line, "{id}")?;
        for v in x.iter_mut() {
            *v = standard_normal(&mut rng);
            write!(line, ",{v:.6}")?;
        }
        let linear: f64 = x.iter().zip(&weights).map(|(a, b)| a * b).sum();
        let non_linear = if features >= 2 {
            0.5 * x[0] * x[1]
        } else {
            0.0
        };
        let p = 1.0 / (1.0 + (-(linear + non_linear)).exp());
        let label = u8::from(rng.random::<f64>() < p);
        writeln!(line, ",{label}")?;
        out.write_all(&line)?;
    }
    Ok(())
}

/// Box-Muller: rand 0.9 alone has no normal distribution, and one formula does not justify
/// another dependency.
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
