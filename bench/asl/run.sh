#!/usr/bin/env bash
# State transitions per second, one core, full history recorded: the stepscore ASL engine
# (release build) side by side with moto's Step Functions interpreter on the same definitions.
#   (a) Pass -> Choice loop counting to 6,000 with States.MathAdd    (loop.asl.json)
#   (b) inline Map over 6,000 items                                   (map.asl.json)
# and the same two written in JSONata (loop.jsonata.asl.json, map.jsonata.asl.json) next to
# their JSONPath form, with the ratio JSONPath/JSONata.
# Both stay under the 25,000-event history limit the engine enforces, as AWS does.
# Usage: bench/asl/run.sh            (moto is pinned in bench/.venv, created on first run)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/bench/asl"
venv="$root/bench/.venv"
moto_pin="moto[server]==5.2.5"

if ! "$venv/bin/python" -c 'import moto, sys; sys.exit(moto.__version__ != "5.2.5")' 2>/dev/null; then
  echo "installing $moto_pin into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$moto_pin" >&2
fi
cargo build --quiet --release -p stepscore-asl --example bench --manifest-path "$root/Cargo.toml"
ours="${CARGO_TARGET_DIR:-$root/target}/release/examples/bench"

rate() { sed -n 's/.*rate=\([0-9]*\).*/\1/p'; }

run_case() {
  local label=$1 def=$2 input=$3
  local ours_line moto_line
  ours_line=$(taskset -c 0 "$ours" "$here/$def" "$input" 2>&1 || "$ours" "$here/$def" "$input")
  moto_line=$(taskset -c 0 "$venv/bin/python" "$here/moto_bench.py" "$here/$def" "$input" 2>/dev/null || "$venv/bin/python" "$here/moto_bench.py" "$here/$def" "$input")
  local a b
  a=$(echo "$ours_line" | rate)
  b=$(echo "$moto_line" | rate)
  printf '%-34s stepscore %12s/s   moto %8s/s   ratio %sx\n' "$label" "$a" "$b" "$(( a / (b > 0 ? b : 1) ))"
  echo "  stepscore: $ours_line"
  echo "  moto:      $moto_line"
}

run_case "Pass->Choice loop to 6,000" loop.asl.json '{"count":0}'
run_case "inline Map over 6,000 items" map.asl.json items:6000

# JSONata beside JSONPath: the engine only, best of 20 runs each.
run_query_languages() {
  local label=$1 path_def=$2 ata_def=$3 input=$4
  local a b
  a=$( (taskset -c 0 "$ours" "$here/$path_def" "$input" 20 2>&1 || "$ours" "$here/$path_def" "$input" 20) | rate)
  b=$( (taskset -c 0 "$ours" "$here/$ata_def" "$input" 20 2>&1 || "$ours" "$here/$ata_def" "$input" 20) | rate)
  printf '%-34s JSONPath %12s/s   JSONata %12s/s   JSONPath/JSONata %s\n' "$label" "$a" "$b" \
    "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2fx", a / (b > 0 ? b : 1) }')"
}

run_query_languages "Pass->Choice loop to 6,000" loop.asl.json loop.jsonata.asl.json '{"count":0}'
run_query_languages "inline Map over 6,000 items" map.asl.json map.jsonata.asl.json items:6000
