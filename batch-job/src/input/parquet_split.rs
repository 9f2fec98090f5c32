//! A Parquet piece's projected columns decoded on several threads at once: the columns are
//! split into parts of about equal compressed size, each part read by a reader of its own on a
//! thread of its own, and their batches joined back side by side.
//!
//! One reader decodes one column after another, so decoding (decompression, page decoding)
//! was the one stage of a Parquet job that ran on a single core, whether the file has one row
//! group or many. Readers of disjoint columns over the same row groups with the same batch size
//! cut the rows at the same places (a batch takes exactly the batch size, across row groups, up
//! to the last), so the n-th batch of every part holds the same rows; a part that disagrees
//! (a corrupt chunk holding fewer values than its row group has rows) fails the file.
//!
//! Each part keeps at most [`BATCHES_AHEAD`] batches decoded ahead of the join, so memory stays
//! a few batches whatever the file size.

use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use arrow_array::RecordBatch;
use arrow_schema::Schema;
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;

use crate::error::Error;

/// Batches a part may decode before the join takes the first of them.
const BATCHES_AHEAD: usize = 2;

/// One part's reader, ready to move to its thread, with its store's first failure.
pub(super) struct PartReader {
    pub reader: ParquetRecordBatchReader,
    pub failure: Arc<Mutex<Option<Error>>>,
}

/// The decoding threads of a piece, and where their batches arrive.
pub(super) struct SplitReader {
    parts: Vec<Part>,
    done: bool,
}

struct Part {
    /// The part's batches in order; an `Err` (why the decoder stopped) ends them.
    batches: Option<Receiver<Result<RecordBatch, String>>>,
    failure: Arc<Mutex<Option<Error>>>,
    thread: Option<JoinHandle<()>>,
}

/// What the join of the parts' next batches found.
pub(super) enum Joined {
    /// The next rows, every part's columns side by side (in the parts' order).
    Batch(RecordBatch),
    /// Every part ended together.
    End,
    /// A part's decoder failed (its store's failure, if any, is in `failure`).
    Failed {
        message: String,
        failure: Arc<Mutex<Option<Error>>>,
    },
    /// The parts disagree on the rows: the file's column chunks do not fit together.
    Mismatch(String),
}

impl SplitReader {
    /// Starts one decoding thread per part; `decode` runs one step of a reader (the caller's
    /// guard against decoder panics).
    pub fn start(
        parts: Vec<PartReader>,
        decode: fn(&mut ParquetRecordBatchReader) -> Result<Option<RecordBatch>, String>,
    ) -> Result<Self, Error> {
        let mut started = Vec::with_capacity(parts.len());
        for (
            i,
            PartReader {
                mut reader,
                failure,
            },
        ) in parts.into_iter().enumerate()
        {
            let (tx, rx) = sync_channel(BATCHES_AHEAD);
            let thread = std::thread::Builder::new()
                .name(format!("parquet-decode-{i}"))
                .spawn(move || {
                    loop {
                        let (item, last) = match decode(&mut reader) {
                            Ok(Some(batch)) => (Ok(batch), false),
                            Ok(None) => break,
                            Err(message) => (Err(message), true),
                        };
                        // a refused send: the piece was dropped, nobody wants the rest
                        if tx.send(item).is_err() || last {
                            break;
                        }
                    }
                })
                .map_err(|e| Error::Internal {
                    message: format!("cannot start a Parquet decoding thread: {e}"),
                })?;
            started.push(Part {
                batches: Some(rx),
                failure,
                thread: Some(thread),
            });
        }
        Ok(SplitReader {
            parts: started,
            done: false,
        })
    }

    /// The next rows: one batch from every part, joined.
    pub fn next(&mut self) -> Joined {
        if self.done {
            return Joined::End;
        }
        let mut got: Vec<Option<RecordBatch>> = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            let next = part.batches.as_ref().and_then(|rx| rx.recv().ok());
            match next {
                Some(Ok(batch)) => got.push(Some(batch)),
                Some(Err(message)) => {
                    self.done = true;
                    return Joined::Failed {
                        message,
                        failure: Arc::clone(&part.failure),
                    };
                }
                None => got.push(None),
            }
        }
        if got.iter().all(Option::is_none) {
            self.done = true;
            return Joined::End;
        }
        let rows: Vec<Option<usize>> = got
            .iter()
            .map(|b| b.as_ref().map(RecordBatch::num_rows))
            .collect();
        if rows.windows(2).any(|w| w[0] != w[1]) {
            self.done = true;
            let said = rows
                .iter()
                .map(|r| r.map_or("none (its columns ended)".to_owned(), |n| n.to_string()))
                .collect::<Vec<_>>()
                .join(", ");
            return Joined::Mismatch(format!(
                "its column chunks hold different numbers of rows for the same row groups (rows read in step by the column parts: {said})"
            ));
        }
        let batches: Vec<RecordBatch> = got.into_iter().flatten().collect();
        if let [one] = batches.as_slice() {
            return Joined::Batch(one.clone());
        }
        let fields: Vec<_> = batches
            .iter()
            .flat_map(|b| b.schema_ref().fields().iter().cloned())
            .collect();
        let columns = batches
            .iter()
            .flat_map(|b| b.columns().iter().cloned())
            .collect();
        match RecordBatch::try_new(Arc::new(Schema::new(fields)), columns) {
            Ok(b) => Joined::Batch(b),
            Err(e) => {
                self.done = true;
                Joined::Mismatch(format!("its column parts cannot be joined: {e}"))
            }
        }
    }
}

impl Drop for SplitReader {
    fn drop(&mut self) {
        // closing the channels first ends each thread at its next send
        for part in &mut self.parts {
            part.batches = None;
        }
        for part in &mut self.parts {
            if let Some(t) = part.thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// Splits columns of compressed sizes `sizes` (in file order) into at most `parts` runs of
/// neighbouring columns of about equal total size; each run is a range of indices, none empty.
pub(super) fn split_by_size(sizes: &[u64], parts: usize) -> Vec<std::ops::Range<usize>> {
    let n = sizes.len();
    let parts = parts.clamp(1, n.max(1));
    let total: u128 = sizes.iter().map(|&s| u128::from(s)).sum();
    let mut runs = Vec::with_capacity(parts);
    let mut start = 0;
    let mut sum = 0u128;
    for (i, &s) in sizes.iter().enumerate() {
        sum += u128::from(s);
        let cut = runs.len() + 1;
        let columns_left = n - (i + 1);
        let parts_left = parts - cut;
        // cut once this run reaches its share, or when each later part needs a column left
        if cut < parts && (sum * parts as u128 >= total * cut as u128 || columns_left == parts_left)
        {
            runs.push(start..i + 1);
            start = i + 1;
        }
    }
    runs.push(start..n);
    runs
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::{ArrayRef, Int64Array};
    use bytes::Bytes;
    use parquet::arrow::ArrowWriter;

    use super::*;

    /// A reader of a one-column Parquet file holding `values`, in batches of 4 rows.
    fn part(name: &str, values: Vec<i64>) -> PartReader {
        let column: ArrayRef = Arc::new(Int64Array::from(values));
        let batch = RecordBatch::try_from_iter([(name, column)]).unwrap();
        let mut file = Vec::new();
        let mut w = ArrowWriter::try_new(&mut file, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        PartReader {
            reader: ParquetRecordBatchReader::try_new(Bytes::from(file), 4).unwrap(),
            failure: Arc::new(Mutex::new(None)),
        }
    }

    fn step(reader: &mut ParquetRecordBatchReader) -> Result<Option<RecordBatch>, String> {
        reader.next().transpose().map_err(|e| e.to_string())
    }

    #[test]
    fn the_parts_batches_are_joined_side_by_side_in_order() {
        let mut r = SplitReader::start(
            vec![
                part("a", (0..10).collect()),
                part("b", (100..110).collect()),
            ],
            step,
        )
        .unwrap();
        let mut rows = Vec::new();
        while let Joined::Batch(b) = r.next() {
            assert_eq!(b.schema().field(0).name(), "a");
            assert_eq!(b.schema().field(1).name(), "b");
            let (a, c) = (
                b.column(0).as_primitive::<Int64Type>(),
                b.column(1).as_primitive::<Int64Type>(),
            );
            rows.extend((0..b.num_rows()).map(|i| (a.value(i), c.value(i))));
        }
        assert_eq!(rows, (0..10).map(|i| (i, i + 100)).collect::<Vec<_>>());
        assert!(matches!(r.next(), Joined::End));
    }

    #[test]
    fn parts_that_disagree_on_the_rows_are_a_mismatch_not_lost_rows() {
        // a column chunk holding 2 rows fewer than its neighbour's: the last batch is short
        let mut r = SplitReader::start(
            vec![part("a", (0..10).collect()), part("b", (0..8).collect())],
            step,
        )
        .unwrap();
        assert!(matches!(r.next(), Joined::Batch(_)));
        assert!(matches!(r.next(), Joined::Batch(_)));
        match r.next() {
            Joined::Mismatch(m) => assert!(
                m.contains("(rows read in step by the column parts: 2, none (its columns ended))"),
                "{m}"
            ),
            _ => panic!("the third step must find the parts disagree"),
        }
        // the reader stays ended, and dropping it ends its threads (the test would hang else)
        assert!(matches!(r.next(), Joined::End));
    }

    #[test]
    fn a_decoder_failure_ends_the_reader_with_its_message() {
        fn failing(_: &mut ParquetRecordBatchReader) -> Result<Option<RecordBatch>, String> {
            Err("page header cut short".into())
        }
        let mut r = SplitReader::start(vec![part("a", vec![1, 2])], failing).unwrap();
        match r.next() {
            Joined::Failed { message, .. } => assert_eq!(message, "page header cut short"),
            _ => panic!("the decoder's failure must come through"),
        }
        assert!(matches!(r.next(), Joined::End));
    }

    #[test]
    fn columns_split_into_runs_of_about_equal_size_none_empty() {
        assert_eq!(split_by_size(&[10; 21], 2), [0..11, 11..21]);
        assert_eq!(split_by_size(&[100, 1, 1, 1, 1], 2), [0..1, 1..5]);
        assert_eq!(split_by_size(&[1, 1, 1, 1, 100], 2), [0..4, 4..5]);
        // more parts than columns: one column each
        assert_eq!(split_by_size(&[5, 5], 8), [0..1, 1..2]);
        assert_eq!(
            split_by_size(&[7], 1),
            std::iter::once(0..1).collect::<Vec<_>>()
        );
        assert_eq!(split_by_size(&[0, 0, 0], 2), [0..1, 1..3]);
        // no columns: one empty run
        assert_eq!(
            split_by_size(&[], 2),
            std::iter::once(0..0).collect::<Vec<_>>()
        );
        for parts in 1..6 {
            let sizes = [3, 9, 1, 1, 4, 7, 2];
            let runs = split_by_size(&sizes, parts);
            assert_eq!(runs.len(), parts);
            assert!(runs.iter().all(|r| !r.is_empty()));
            assert_eq!(runs.first().unwrap().start, 0);
            assert_eq!(runs.last().unwrap().end, sizes.len());
            assert!(runs.windows(2).all(|w| w[0].end == w[1].start));
        }
    }
}
