#!/usr/bin/env bash
# Scoring benchmark: stepscore-batch (release) against pandas + scikit-learn on the same data.
#   bench/scoring/run.sh [ROWS]        (default 1,000,000 rows x 20 features)
# Generates the data (fixed seed), trains both models with stepscore and the peer models with
# scikit-learn on the first 100,000 rows, scores all rows with each, and prints whole-process
# wall time, CPU time and peak RSS (GNU time) with the ratios. Python deps: requirements.txt, installed
# into bench/.venv on first use.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
rows=${1:-1000000}
venv="$root/bench/.venv"
work=${STEPSCORE_BENCH_DIR:-$root/target/bench-scoring}
mkdir -p "$work"

if ! "$venv/bin/python" -c 'import sklearn, pandas, psutil, pyarrow' 2>/dev/null; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi
[ -x /usr/bin/time ] || { echo "run.sh: needs GNU time (/usr/bin/time; apt-get install time)" >&2; exit 1; }

(cd "$root" && cargo build --release --locked -p stepscore-batch >&2)
bin="${CARGO_TARGET_DIR:-$root/target}/release/stepscore-batch"

data="$work/data-$rows.csv"
[ -f "$data" ] || "$bin" gen-bench-data --rows "$rows" --seed 7 --output "$data"
head -n 100001 "$data" > "$work/train.csv"

echo "training (100,000 rows)" >&2
"$bin" train --input "$work/train.csv" --target label --exclude id --algorithm logistic-regression \
  --holdout 0.2 --output "$work/logistic.json" 2>/dev/null
"$bin" train --input "$work/train.csv" --target label --exclude id --algorithm random-forest-classifier \
  --n-trees 50 --max-depth 10 --holdout 0.2 --output "$work/forest.json" 2>/dev/null
"$venv/bin/python" "$here/peer.py" train --data "$work/train.csv" --rows 100000 --model-dir "$work"

# runs CMD under GNU time; prints "wall_seconds cpu_seconds max_rss_kib" (CPU = user + sys:
# other processes on the machine stretch wall time far more than CPU time)
measure() {
  local log="$work/time.log"
  /usr/bin/time -f '%e %U %S %M' -o "$log" "$@" >/dev/null 2>"$work/stderr.log" || {
    cat "$work/stderr.log" >&2
    exit 1
  }
  awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$log"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
printf '%-10s %8s %8s %8s %8s %10s %10s %9s %9s %9s\n' model ours_s peer_s ours_cpu peer_cpu ours_MiB \
  peer_MiB speedup cpu_ratio rss_ratio
for m in logistic forest; do
  # warm the page cache so both read the file from memory
  cat "$data" >/dev/null
  read -r ours_s ours_cpu ours_kib < <(measure "$bin" score --model "$work/$m.json" --input "$data" \
    --output "$work/out-$m" --id-columns id)
  read -r peer_s peer_cpu peer_kib < <(measure "$venv/bin/python" "$here/peer.py" score --model "$work/$m.pkl" \
    --input "$data" --output "$work/peer-$m.csv")
  awk -v m="$m" -v os="$ours_s" -v ps="$peer_s" -v oc="$ours_cpu" -v pc="$peer_cpu" -v ok="$ours_kib" \
    -v pk="$peer_kib" 'BEGIN {
    printf "%-10s %8.2f %8.2f %8.2f %8.2f %10.1f %10.1f %8.1fx %8.1fx %8.1fx\n", m, os, ps, oc, pc, ok/1024,
      pk/1024, ps/os, pc/oc, pk/ok }'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Parquet: the same rows written by pandas/pyarrow, one row group and 128k-row groups, scored to
# Parquet by both (the peer: read_parquet -> predict_proba -> to_parquet)
for groups in 1m 128k; do
  pq="$work/data-$rows-$groups.parquet"
  case $groups in 1m) n=$rows ;; 128k) n=131072 ;; esac
  [ -f "$pq" ] || "$venv/bin/python" "$here/peer.py" to-parquet --input "$data" --output "$pq" --row-group-rows "$n"
done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
printf '%-10s %-12s %8s %8s %8s %8s %10s %10s %9s %9s\n' model input ours_s peer_s ours_cpu peer_cpu ours_MiB \
  peer_MiB speedup cpu_ratio
for m in logistic forest; do
  for groups in 1m 128k; do
    pq="$work/data-$rows-$groups.parquet"
    cat "$pq" >/dev/null
    read -r ours_s ours_cpu ours_kib < <(measure "$bin" score --model "$work/$m.json" --input "$pq" \
      --output "$work/out-$m-pq-$groups" --id-columns id --output-format parquet)
    read -r peer_s peer_cpu peer_kib < <(measure "$venv/bin/python" "$here/peer.py" score-parquet \
      --model "$work/$m.pkl" --input "$pq" --output "$work/peer-$m-$groups.parquet")
    awk -v m="$m" -v g="parquet-$groups" -v os="$ours_s" -v ps="$peer_s" -v oc="$ours_cpu" -v pc="$peer_cpu" \
      -v ok="$ours_kib" -v pk="$peer_kib" 'BEGIN {
      printf "%-10s %-12s %8.2f %8.2f %8.2f %8.2f %10.1f %10.1f %8.1fx %8.1fx\n", m, g, os, ps, oc, pc, ok/1024,
        pk/1024, ps/os, pc/oc }'
  done
done
# our Parquet predictions read by pyarrow: every row there
"$venv/bin/python" -c 'import sys, pyarrow.parquet as pq; n = pq.read_metadata(sys.argv[1]).num_rows; assert n == int(sys.argv[2]), n' \
  "$work/out-logistic-pq-128k/part-0.parquet" "$rows"

# gzip-compressed CSV against the plain CSV (ours only: the peer's read_csv decompresses too)
gz="$data.gz"
[ -f "$gz" ] || gzip -c -6 "$data" > "$gz"
printf '%-10s %-12s %8s %8s %10s\n' model input ours_s ours_cpu ours_MiB
for m in logistic forest; do
  for input in "$data" "$gz"; do
    cat "$input" >/dev/null
    read -r s cpu kib < <(measure "$bin" score --model "$work/$m.json" --input "$input" \
      --output "$work/out-$m-gz" --id-columns id)
    name=csv; [ "$input" = "$gz" ] && name=csv.gz
    awk -v m="$m" -v n="$name" -v s="$s" -v c="$cpu" -v k="$kib" 'BEGIN {
      printf "%-10s %-12s %8.2f %8.2f %10.1f\n", m, n, s, c, k/1024 }'
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
