#!/usr/bin/env bash
# Scoring benchmark: stepscore-batch (release) against pandas + scikit-learn on the same data.
#   bench/scoring/run.sh [ROWS]        (default 1,000,000 rows x 20 features)
# Generates the data (fixed seed), trains both models with stepscore and the peer models with
# scikit-learn on the first 100,000 rows, scores all rows with each, and prints whole-process
# wall time and peak RSS (GNU time) with the ratios. Python deps: requirements.txt, installed
# into bench/.venv on first use.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
rows=${1:-1000000}
venv="$root/bench/.venv"
work=${STEPSCORE_BENCH_DIR:-$root/target/bench-scoring}
mkdir -p "$work"

if ! "$venv/bin/python" -c 'import sklearn, pandas, psutil' 2>/dev/null; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi
[ -x /usr/bin/time ] || { echo "run.sh: needs GNU time (/usr/bin/time; apt-get install time)" >&2; exit 1; }

(cd "$root" && cargo build --release -p stepscore-batch >&2)
bin="$root/target/release/stepscore-batch"

data="$work/data-$rows.csv"
[ -f "$data" ] || "$bin" gen-bench-data --rows "$rows" --seed 7 --output "$data"
head -n 100001 "$data" > "$work/train.csv"

echo "training (100,000 rows)" >&2
"$bin" train --input "$work/train.csv" --target label --exclude id --algorithm logistic-regression \
  --holdout 0.2 --output "$work/logistic.json" 2>/dev/null
"$bin" train --input "$work/train.csv" --target label --exclude id --algorithm random-forest-classifier \
  --n-trees 50 --max-depth 10 --holdout 0.2 --output "$work/forest.json" 2>/dev/null
"$venv/bin/python" "$here/peer.py" train --data "$work/train.csv" --rows 100000 --model-dir "$work"

# runs CMD under GNU time; prints "seconds max_rss_kib"
measure() {
  local log="$work/time.log"
  /usr/bin/time -f '%e %M' -o "$log" "$@" >/dev/null 2>"$work/stderr.log" || {
    cat "$work/stderr.log" >&2
    exit 1
  }
  cat "$log"
}

printf '%-10s %14s %14s %12s %12s %10s %10s\n' model ours_s peer_s ours_MiB peer_MiB speedup rss_ratio
for m in logistic forest; do
  # warm the page cache so both read the file from memory
  cat "$data" >/dev/null
  read -r ours_s ours_kib < <(measure "$bin" score --model "$work/$m.json" --input "$data" \
    --output "$work/out-$m" --id-columns id)
  read -r peer_s peer_kib < <(measure "$venv/bin/python" "$here/peer.py" score --model "$work/$m.pkl" \
    --input "$data" --output "$work/peer-$m.csv")
  awk -v m="$m" -v os="$ours_s" -v ps="$peer_s" -v ok="$ours_kib" -v pk="$peer_kib" 'BEGIN {
    printf "%-10s %14.2f %14.2f %12.1f %12.1f %9.1fx %9.1fx\n", m, os, ps, ok/1024, pk/1024, ps/os, pk/ok }'
done
