#!/usr/bin/env bash
# Distributed Map in the embedded world: a 1,000,000-row CSV in the local directory store,
# ItemBatcher of 1,000 rows, each child execution a Pass state, ResultWriter on, the Map Run
# journal in state.db on (as the local runtime runs it) -- items/s and peak RSS, next to the
# inline Map figure of bench/asl (moto's interpreter cannot read an ItemReader from the local
# store, so there is no moto run of this definition).
# Usage: bench/dmap/run.sh [rows]      (default 1000000)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rows=${1:-1000000}
cargo build --quiet --release -p stepscore-local --example dmap_bench --manifest-path "$root/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/dmap_bench"
echo "journal on (the local runtime's setting):"
"$bin" "$root/bench/dmap/dmap.asl.json" "$rows"
echo "journal off:"
"$bin" "$root/bench/dmap/dmap.asl.json" "$rows" --no-journal
