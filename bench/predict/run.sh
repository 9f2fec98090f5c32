#!/usr/bin/env bash
# Online scoring benchmark: `stepscore serve` against a scikit-learn model behind gunicorn, on the
# same data, the same 50-tree forest and the same requests.
#   bench/predict/run.sh [--seconds S] [--cold-runs N]
# Builds stepscore and the two load tools (release), generates 20,000 rows x 20 features
# (fixed seed), trains both forests on them, then prints one table (see bench.py for what each
# line measures) and where stepscore's cold start goes (the load_phases example).
# Python deps: requirements.txt, installed into bench/.venv-predict on first use.
# The load generator runs on the same 2 cores as the server: both sides pay for it alike.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
venv="$root/bench/.venv-predict"
work=${STEPSCORE_BENCH_DIR:-$root/target/bench-predict}
mkdir -p "$work"

if ! "$venv/bin/python" -c 'import sklearn, joblib, gunicorn' 2>/dev/null; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi

# two builds: naming --example targets builds only those, not the stepscore binary
(cd "$root" && cargo build --release -p stepscore >&2 && cargo build --release -p stepscore-predict --example http_load --example handler_latency --example load_phases >&2)
target=$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target/release"

data="$work/data.csv"
[ -f "$data" ] || "$bin/stepscore" batch-container gen-bench-data --rows 20000 --seed 7 --output "$data"
if [ ! -f "$work/forest.json" ] || [ ! -f "$work/forest.joblib" ]; then
  echo "training both forests (20,000 rows)" >&2
  "$bin/stepscore" train --input "$data" --target label --exclude id --algorithm random-forest-classifier \
    --n-trees 50 --max-depth 10 --holdout 0 --output "$work/forest.json" >/dev/null 2>&1
  "$venv/bin/python" "$here/peer_app.py" train --data "$data" --model "$work/forest.joblib"
fi
# the request bodies: rows of the data as objects keyed by feature name
python3 - "$data" "$work" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for n in (1, 100):
    instances = [{k: float(v) for k, v in r.items() if k.startswith("f")} for r in rows[:n]]
    json.dump({"instances": instances}, open(f"{sys.argv[2]}/body-{n}.json", "w"))
PY

python3 "$here/bench.py" --stepscore "$bin/stepscore" --http-load "$bin/examples/http_load" \
  --handler-latency "$bin/examples/handler_latency" --python "$venv/bin/python" --work "$work" "$@"
echo
"$bin/examples/load_phases" "$work/forest.json"
