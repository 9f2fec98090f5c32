#!/usr/bin/env bash
# The local-pipeline benchmark: one 1,000-row scoring job, drop -> SUCCEEDED, whole-process wall
# time, stepscore's embedded pipeline (compressed waits) against a Metaflow flow doing the same
# scoring with pandas + scikit-learn (local datastore and metadata). Prints both and the ratio.
#
#   bench/pipeline/run.sh [runs]      (default 10 runs each; reports the median)
set -euo pipefail
runs=${1:-10}
root=$(cd "$(dirname "$0")/../.." && pwd)
work="$root/bench/out/pipeline"
venv="$root/bench/.venv-pipeline"
rm -rf "$work" && mkdir -p "$work"

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import metaflow, sklearn, pandas" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/bench/pipeline/requirements.txt"
fi
cargo build --release --quiet -p stepscore -p stepscore-batch --manifest-path "$root/Cargo.toml"
stepscore="$root/target/release/stepscore"

"$venv/bin/python" "$root/bench/pipeline/prepare.py" "$work"
cp "$root/bench/pipeline/flow.py" "$work/"

# stepscore: the same data in the local bucket, a model trained by stepscore on the same rows
state="$work/state"
"$stepscore" --state-dir "$state" train --algorithm logistic-regression --input "$work/train.csv" \
  --target label --output "s3://bench/models/model.json" >/dev/null
"$stepscore" --state-dir "$state" put "$work/job.csv" s3://bench/data/job.csv >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now() { date +%s.%N; }

ours=()
for i in $(seq 1 "$runs"); do
  cat > "$work/job-$i.json" <<JSON
{"name": "bench-$i", "model": "s3://bench/models/model.json", "input": "s3://bench/data/job.csv",
 "output": "s3://bench/predictions/run-$i/", "capacity": "on-demand", "poll_interval_seconds": 1}
JSON
  t0=$(now)
  "$stepscore" --state-dir "$state" run "$work/job-$i.json" --time-scale 1000 --quiet >/dev/null
  t1=$(now)
  ours+=("$(awk "BEGIN{print $t1 - $t0}")")
done

theirs=()
export METAFLOW_DEFAULT_DATASTORE=local METAFLOW_DEFAULT_METADATA=local USERNAME=bench
for i in $(seq 1 "$runs"); do
  t0=$(now)
  (cd "$work" && "$venv/bin/python" flow.py --quiet run --model model.pkl --data job.csv --predictions "pred-$i.csv" >/dev/null 2>&1)
  t1=$(now)
  theirs+=("$(awk "BEGIN{print $t1 - $t0}")")
done

a=$(printf '%s\n' "${ours[@]}" | median)
b=$(printf '%s\n' "${theirs[@]}" | median)
printf 'local pipeline, 1,000-row job, drop -> SUCCEEDED (median of %d runs)\n' "$runs"
printf '  stepscore run (time-scale 1000): %.3f s\n' "$a"
printf '  metaflow start->score->end:      %.3f s\n' "$b"
printf '  ratio: %.1fx faster (target >= 10x; stepscore target <= 0.28 s)\n' "$(awk "BEGIN{print $b / $a}")"
