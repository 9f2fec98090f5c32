#!/usr/bin/env bash
# JSONata evaluation speed: stepscore's evaluator (crate jsonata/, release build) side by side
# with jsonata-js 2.2.2 (the reference implementation, on the machine's Node.js) on the same five
# expressions and the same document, one core each (taskset -c 0), each expression compiled once
# and evaluated repeatedly. Checks that both give the same result, then prints the ratio.
# Usage: bench/jsonata/run.sh [seconds per case, default 2]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/bench/jsonata"
seconds=${1:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 "$here/gen_data.py" "$work/data.json"
(cd "$here/node" && npm ci --no-audit --no-fund --silent)
cargo build --quiet --release -p stepscore-jsonata --example bench --manifest-path "$root/Cargo.toml"
pin=()
if taskset -c 0 true 2>/dev/null; then pin=(taskset -c 0); fi
"${pin[@]}" "$root/target/release/examples/bench" "$here/cases.json" "$work/data.json" "$seconds" > "$work/ours.jsonl"
"${pin[@]}" node "$here/node/bench.mjs" "$here/cases.json" "$work/data.json" "$seconds" > "$work/peer.jsonl"
python3 "$here/compare.py" "$work/ours.jsonl" "$work/peer.jsonl" 3
