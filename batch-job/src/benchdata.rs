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
    let mut generator = Generator::new(features, seed);
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
        let label = generator.row(&mut x);
        for v in &x {
            write!(line, ",{v:.6}")?;
        }
        writeln!(line, ",{label}")?;
        out.write_all(&line)?;
    }
    Ok(())
}

/// The same rows as [`write_bench_data`] as Parquet (`id` int64, `f<i>` double, `label` int64;
/// snappy, `group_rows` rows per row group): each feature is the double the CSV's text parses
/// to, so both files score to the same predictions.
pub fn write_bench_parquet<W: Write + Send>(
    out: W,
    rows: u64,
    features: usize,
    seed: u64,
    group_rows: usize,
) -> Result<(), String> {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;

    let mut fields = vec![Field::new("id", DataType::Int64, false)];
    fields.extend((0..features).map(|i| Field::new(format!("f{i}"), DataType::Float64, false)));
    fields.push(Field::new("label", DataType::Int64, false));
    let schema = Arc::new(Schema::new(fields));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(group_rows.max(1)))
        .build();
    let mut writer =
        ArrowWriter::try_new(out, Arc::clone(&schema), Some(props)).map_err(|e| e.to_string())?;
    let mut generator = Generator::new(features, seed);
    let mut x = vec![0.0; features];
    let mut text = String::new();
    let batch_rows = 65_536u64;
    let mut id = 0u64;
    while id < rows {
        let n = batch_rows.min(rows - id);
        let mut ids = Vec::with_capacity(n as usize);
        let mut cols: Vec<Vec<f64>> = vec![Vec::with_capacity(n as usize); features];
        let mut labels = Vec::with_capacity(n as usize);
        for _ in 0..n {
            ids.push(id as i64);
            labels.push(i64::from(generator.row(&mut x)));
            for (c, v) in cols.iter_mut().zip(&x) {
                text.clear();
                use std::fmt::Write as _;
                let _ = write!(text, "{v:.6}");
                c.push(text.parse().unwrap_or(*v));
            }
            id += 1;
        }
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(ids))];
        arrays.extend(
            cols.into_iter()
                .map(|c| Arc::new(Float64Array::from(c)) as ArrayRef),
        );
        arrays.push(Arc::new(Int64Array::from(labels)));
        let batch = RecordBatch::try_new(Arc::clone(&schema), arrays).map_err(|e| e.to_string())?;
        writer.write(&batch).map_err(|e| e.to_string())?;
    }
    writer.close().map_err(|e| e.to_string())?;
    Ok(())
}

/// The seeded rows: features drawn, then the label from them.
struct Generator {
    rng: rand::rngs::StdRng,
    weights: Vec<f64>,
}

impl Generator {
    fn new(features: usize, seed: u64) -> Self {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let weights: Vec<f64> = (0..features).map(|_| rng.random_range(-1.0..1.0)).collect();
        Generator { rng, weights }
    }

    /// Fills `x` with the next row's features and returns its label.
    fn row(&mut self, x: &mut [f64]) -> u8 {
        for v in x.iter_mut() {
            *v = standard_normal(&mut self.rng);
        }
        let linear: f64 = x.iter().zip(&self.weights).map(|(a, b)| a * b).sum();
        let non_linear = if x.len() >= 2 { 0.5 * x[0] * x[1] } else { 0.0 };
        let p = 1.0 / (1.0 + (-(linear + non_linear)).exp());
        u8::from(self.rng.random::<f64>() < p)
    }
}

/// Box-Muller: rand 0.9 alone has no normal distribution, and one formula does not justify
/// another dependency.
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
