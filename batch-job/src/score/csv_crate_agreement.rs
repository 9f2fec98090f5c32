//! The record splitting, the shard starts and the independent count, checked against the csv
//! crate (the reader the scorer must agree with) on random CSVs.

use std::convert::Infallible;
use std::path::PathBuf;

use proptest::prelude::*;

use super::{Shard, plan_shard};
use crate::csvread::*;
use crate::storage::{InputObject, Location};

/// What one reader made of a file: the header fields and, per data record, its fields or
/// (the scorer's fast path, on a record without the header's field count) that count.
#[derive(Debug, PartialEq, Eq)]
struct Read {
    header: Option<Vec<String>>,
    records: Vec<Result<Vec<Vec<u8>>, usize>>,
}

/// The csv crate with the scorer's settings (flexible only so that ragged rows are kept and
/// compared by field count, as the scorer rejects them).
fn csv_crate(bytes: &[u8]) -> Read {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut all = Vec::new();
    for rec in r.byte_records() {
        let rec = rec.unwrap();
        all.push(rec.iter().map(<[u8]>::to_vec).collect::<Vec<_>>());
    }
    let mut all = all.into_iter();
    let header = all.next().map(|h| {
        h.iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_owned())
            .collect::<Vec<_>>()
    });
    let n = header.as_ref().map_or(0, Vec::len);
    let records = all
        .map(|f| if f.len() == n { Ok(f) } else { Err(f.len()) })
        .collect();
    Read { header, records }
}

/// The scorer's reading: `shards` byte-range shards (as `plan_shard` cuts them) read with
/// `chunk_bytes` chunks, concatenated; each chunk's independent count must match.
fn scorer(bytes: &[u8], shards: u32, chunk_bytes: usize) -> Read {
    let size = bytes.len() as u64;
    let input = InputObject {
        location: Location::Local(PathBuf::from("mem.csv")),
        size,
        etag: None,
    };
    let mut header = None;
    let mut out = Vec::new();
    for index in 0..shards {
        let pieces = plan_shard(
            std::slice::from_ref(&input),
            Shard {
                index,
                count: shards,
            },
            true,
        );
        for piece in pieces {
            if piece.range.is_some_and(|(s, e)| s >= e) {
                continue;
            }
            let open = |r: Option<std::ops::Range<u64>>| {
                let r = r.unwrap_or(0..size);
                Ok::<_, Infallible>(&bytes[r.start as usize..r.end as usize])
            };
            let Some(mut opened) = open_piece(open, size, piece.range, chunk_bytes).unwrap() else {
                continue;
            };
            let names = parse_header(&opened.header).unwrap();
            let plan = ColumnPlan::new(&names, &[], &names).unwrap();
            header.get_or_insert(names);
            while let Some(chunk) = opened.chunker.next_chunk().unwrap() {
                let mut state = ScanState::RecordStart;
                let counted = count_records(&mut state, &chunk.data);
                assert!(
                    chunk.eof || state == ScanState::RecordStart,
                    "chunk at {} ends inside a record",
                    chunk.offset
                );
                let mut parsed = 0;
                for seg in records(&chunk.data, chunk.shape) {
                    if seg.record.is_empty() {
                        continue;
                    }
                    parsed += 1;
                    let mut fields = Vec::new();
                    let r = plan.parse_with(seg.record, &mut [], |ids| {
                        fields = ids.iter().map(|f| f.to_vec()).collect();
                    });
                    out.push(match r {
                        Ok(()) => Ok(fields),
                        Err(fault) => Err(field_count(&fault.reason)),
                    });
                }
                assert_eq!(counted, parsed, "chunk at {}", chunk.offset);
            }
        }
    }
    Read {
        header,
        records: out,
    }
}

fn field_count(reason: &str) -> usize {
    let n = reason
        .strip_prefix("the row has ")
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("not a field-count fault: {reason}"));
    n.parse().unwrap()
}

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let want = csv_crate(bytes);
    for shards in 1..=8 {
        for chunk_bytes in [1, 5, 64, CHUNK_BYTES] {
            let got = scorer(bytes, shards, chunk_bytes);
            prop_assert_eq!(
                &got,
                &want,
                "{} shard(s), {}-byte chunks, input {:?}",
                shards,
                chunk_bytes,
                String::from_utf8_lossy(bytes)
            );
        }
    }
    Ok(())
}

/// A header of `k` distinct names (quoted or not), after an optional BOM and blank lines.
fn header() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        "[\r\n]{0,2}",
        prop_oneof![1usize..=4, 9usize..=10],
        any::<bool>(),
        prop::sample::select(vec!["\n", "\r\n", "\r"]),
    )
        .prop_map(|(bom, blank, k, quoted, end)| {
            let names: Vec<String> = (0..k)
                .map(|i| {
                    if quoted {
                        format!("\"c{i}\"")
                    } else {
                        format!("c{i}")
                    }
                })
                .collect();
            format!(
                "{}{blank}{}{end}",
                if bom { "\u{feff}" } else { "" },
                names.join(",")
            )
        })
}

/// Bytes that matter to CSV, anywhere: quotes inside and around fields, doubled quotes,
/// every line end, blank lines, a BOM in the middle.
fn body() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "a",
            "1.5",
            " ",
            ",",
            ",",
            ",",
            "\"",
            "\"\"",
            "\n",
            "\n",
            "\r",
            "\r\n",
            "\n\n",
            "x\"y",
            "3 5\" screen",
            "\"q,\nr\"",
            "\u{feff}",
        ]),
        0..60,
    )
    .prop_map(|t| t.concat())
}

/// Rows of `k` fields, each plain, quoted (with commas, quotes and line ends inside) or
/// holding a stray quote, with any line end.
fn rows() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        "[a-z0-9 .]{0,4}",
        "\"([a-z,\r\n ]|\"\"){0,5}\"",
        "[a-z ]{0,3}\"[a-z ]{0,3}",
        "\"[a-z]{0,2}\"[a-z\"]{0,2}",
    ];
    let line_end = prop::sample::select(vec!["\n", "\r\n", "\r", "\n\n", "\r\r\n"]);
    prop::collection::vec((prop::collection::vec(field, 1..5), line_end), 0..12).prop_map(|rows| {
        rows.into_iter()
            .map(|(f, end)| f.join(",") + end)
            .collect::<String>()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn scorer_reads_random_bytes_as_the_csv_crate_does(h in header(), b in body(), cut in any::<bool>()) {
        let mut text = h + &b;
        if cut {
            // an input that ends without a line end, possibly inside a quoted field
            text.truncate(text.trim_end_matches(['\r', '\n']).len());
        }
        check(text.as_bytes())?;
    }

    #[test]
    fn scorer_reads_random_rows_as_the_csv_crate_does(h in header(), b in rows()) {
        check((h + &b).as_bytes())?;
    }
}

#[test]
fn edge_cases_read_as_the_csv_crate_reads_them() {
    for text in [
        "",
        "\n\n",
        "\u{feff}",
        "\u{feff}\"c0\",c1\n\"a,b\",2\n",
        "c0,c1\n3 5\" screen,1\n2,x\"y\"z\n",
        "c0,c1\r1,2\r3,4\r",
        "c0,c1\r\n1,2\r\r\n\r\n3,4",
        "c0,c1\n\"a\"b\"c,1\n",
        "c0,c1\n\"a\"\"\",1\n\"unclosed,2\n3,4\n",
        "c0,c1\n1,\"\r\n\"\n",
        "c0\n\u{feff}\"x\"\n",
        "c0,c1\n\"a\r",
    ] {
        check(text.as_bytes()).unwrap();
    }
}
