#!/usr/bin/env bash
# S3 transfer benchmark: the scorer reading its input from an S3 endpoint that paces every
# connection to 100 MB/s (as one S3 connection roughly delivers), one streaming GET against
# concurrent ranged GETs, and the same file from local disk.
#   bench/s3/run.sh [REPEATS]        (default 3; the median wall time of each is reported)
# Serves (a) the 1M x 20 bench file of bench/scoring (seed 7) and (b) a file of the same shape
# of about 2 GB (10M rows), generated in a temp dir and deleted at the end, from throttled-s3
# (bench/s3/endpoint: a small Rust S3 endpoint, file-backed, one token bucket per connection,
# object bytes sent by sendfile; checked by pacing_check.py before any run). The scorer is the release
# stepscore-batch run as a Batch job runs it: no subcommand, the job in STEPSCORE_* variables,
# s3:// model, input and output. Each run's output must be byte-identical to the local run's and
# its manifest must count every row before a ratio is printed. Peak RSS and CPU are GNU time's;
# the endpoint's CPU (from /proc) is shown apart: on AWS it is not on the scorer's cores (what it
# spends is loopback TCP in the kernel, which any endpoint on this machine pays).
# Environment: STEPSCORE_BENCH_DIR (work dir; default a new temp dir, removed at the end),
# BIG_ROWS (default 10000000), RATE (bytes/s per connection, default 100000000); the scorer's
# STEPSCORE_S3_* settings pass through (e.g. STEPSCORE_S3_MEMORY, bytes of buffers per transfer).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
repeats=${1:-3}
big_rows=${BIG_ROWS:-10000000}
rate=${RATE:-100000000}
[ -x /usr/bin/time ] || { echo "run.sh: needs GNU time (/usr/bin/time; apt-get install time)" >&2; exit 1; }

if [ -n "${STEPSCORE_BENCH_DIR:-}" ]; then
  work=$STEPSCORE_BENCH_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/stepscore-bench-s3.XXXXXX")
fi
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  # the data files are large: never leave them behind
  rm -rf "$work/s3" "$work/big.csv" "$work/small.csv" "$work/out"
  [ -z "${STEPSCORE_BENCH_DIR:-}" ] && rm -rf "$work"
  return 0
}
trap cleanup EXIT

target=${CARGO_TARGET_DIR:-$root/target}
started=$(date +%s)
# two builds: one `-p` each keeps the scorer's features its own (the endpoint's must not change
# what the scorer is built with)
(cd "$root" && cargo build --release --locked -p stepscore-batch >&2)
(cd "$root" && cargo build --release --locked -p stepscore-bench-s3-endpoint >&2)
echo "release build: $(( $(date +%s) - started )) s" >&2
bin="$target/release/stepscore-batch"
endpoint="$target/release/throttled-s3"

echo "generating data" >&2
"$bin" gen-bench-data --rows 1000000 --seed 7 --output "$work/small.csv"
"$bin" gen-bench-data --rows "$big_rows" --seed 8 --output "$work/big.csv"
head -n 100001 "$work/small.csv" > "$work/train.csv"
"$bin" train --input "$work/train.csv" --target label --exclude id --algorithm logistic-regression \
  --holdout 0.2 --output "$work/logistic.json" 2>/dev/null

# the server's bucket holds the very same files (hard links: no second copy on disk)
mkdir -p "$work/s3/bench/in" "$work/s3/bench/models" "$work/out"
ln "$work/small.csv" "$work/s3/bench/in/small.csv"
ln "$work/big.csv" "$work/s3/bench/in/big.csv"
cp "$work/logistic.json" "$work/s3/bench/models/logistic.json"

log="$work/requests.jsonl"
# a work dir kept from an earlier run (STEPSCORE_BENCH_DIR) holds that run's port: not this one's
rm -f "$work/port"
"$endpoint" --root "$work/s3" --rate "$rate" --log "$log" --port-file "$work/port" \
  2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "run.sh: the endpoint did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
port=$(cat "$work/port")
python3 "$here/pacing_check.py" --port "$port" --path /bench/in/big.csv --rate "$rate" >&2

# runs the scorer as a Batch job does; prints "wall_seconds max_rss_kib cpu_seconds"
score() { # mode dataset out_location
  local mode=$1 ds=$2 out=$3 model input
  local -a env=(env -u AWS_BATCH_JOB_ID -u STEPSCORE_LOCAL_S3_ROOT -u AWS_PROFILE
    STEPSCORE_JOB_ID=bench STEPSCORE_ID_COLUMNS=id STEPSCORE_SHARDS=1 AWS_BATCH_JOB_ARRAY_INDEX=0)
  if [ "$mode" = local ]; then
    model=$work/logistic.json input=$work/$ds.csv
  else
    model=s3://bench/models/logistic.json input=s3://bench/in/$ds.csv
    env+=(AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1
      AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_EC2_METADATA_DISABLED=true)
    # one stream: what the scorer did before ranged reads (one GET per object, one upload part
    # at a time); concurrent: the defaults
    [ "$mode" = one-stream ] && env+=(STEPSCORE_S3_CONCURRENCY=1)
  fi
  env+=(STEPSCORE_MODEL="$model" STEPSCORE_INPUT="$input" STEPSCORE_OUTPUT="$out")
  /usr/bin/time -f '%e %M %U %S' -o "$work/time.log" "${env[@]}" "$bin" >/dev/null 2>"$work/stderr.log" || {
    cat "$work/stderr.log" >&2
    exit 1
  }
  awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }' "$work/time.log"
}

# where a run's outputs land on this machine
out_dir() { # mode dataset rep
  if [ "$1" = local ]; then echo "$work/out/$2-$1-$3"; else echo "$work/s3/bench/out/$2-$1-$3"; fi
}

# the endpoint's CPU seconds so far: it runs on the scorer's cores, which S3 does not
tck=$(getconf CLK_TCK)
server_cpu() { awk -v t="$tck" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$server_pid/stat"; }

declare -A wall rss cpu srv digest
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for ds in small big; do
  rows=$(( $(wc -l < "$work/$ds.csv") - 1 ))
  bytes=$(stat -c %s "$work/$ds.csv")
  for mode in local one-stream concurrent; do
    walls=() rsss=() cpus=() srvs=()
    for rep in $(seq "$repeats"); do
      cat "$work/$ds.csv" >/dev/null # every mode reads the file from the page cache
      dir=$(out_dir "$mode" "$ds" "$rep")
      if [ "$mode" = local ]; then loc=$dir/; else loc=s3://bench/out/$ds-$mode-$rep/; fi
      : > "$log"
      s0=$(server_cpu)
      score "$mode" "$ds" "$loc" > "$work/run.out"
      s1=$(server_cpu)
      read -r w k c < "$work/run.out"
      sc=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", b - a }')
      load=$(cut -d' ' -f1 /proc/loadavg)
      # every row in, every row scored, and the same bytes out as every other run
      python3 - "$dir/manifest-0.json" "$rows" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
want = int(sys.argv[2])
if (m["rows_read"], m["rows_scored"], m["rows_rejected"]) != (want, want, 0):
    sys.exit(f"{sys.argv[1]}: {m['rows_read']} read, {m['rows_scored']} scored, expected {want}")
PY
      d=$(sha256sum < "$dir/part-0.csv" | cut -d' ' -f1)
      if [ -z "${digest[$ds]:-}" ]; then digest[$ds]=$d; fi
      if [ "$d" != "${digest[$ds]}" ]; then
        echo "run.sh: $ds $mode run $rep wrote other output than the first run of $ds" >&2
        exit 1
      fi
      calls=$(python3 -c '
import collections, json, sys
ops = collections.Counter(); conns = set()
for line in open(sys.argv[1]):
    e = json.loads(line); ops[e["op"]] += 1
    if e["op"] == "GetObject" and "/in/" in "/" + e["key"]: conns.add(e["conn"])
print(" ".join(f"{k}={v}" for k, v in sorted(ops.items())) + f" input_connections={len(conns)}")' "$log")
      printf '%-5s %-10s run %d: %6.2f s  %6.1f MiB  cpu %5.2f s  endpoint cpu %5.2f s  load %s  %s\n' \
        "$ds" "$mode" "$rep" "$w" "$(awk -v k="$k" 'BEGIN{print k/1024}')" "$c" "$sc" "$load" "${calls:-}" >&2
      rm -rf "$dir"
      walls+=("$w") rsss+=("$k") cpus+=("$c") srvs+=("$sc")
    done
    wall[$ds,$mode]=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    rss[$ds,$mode]=$(printf '%s\n' "${rsss[@]}" | sort -g | tail -1)
    cpu[$ds,$mode]=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    srv[$ds,$mode]=$(printf '%s\n' "${srvs[@]}" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  done
  echo "$ds: $rows rows, $bytes bytes; outputs identical across all runs (sha256 ${digest[$ds]:0:16}…)" >&2
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

printf '\n%-6s %9s %9s %9s %9s %9s %9s %12s %12s\n' file local_s one_s conc_s local_MiB one_MiB conc_MiB \
  one/conc conc/local
for ds in small big; do
  awk -v ds="$ds" -v l="${wall[$ds,local]}" -v o="${wall[$ds,one-stream]}" -v c="${wall[$ds,concurrent]}" \
    -v lk="${rss[$ds,local]}" -v ok="${rss[$ds,one-stream]}" -v ck="${rss[$ds,concurrent]}" 'BEGIN {
    printf "%-6s %9.2f %9.2f %9.2f %9.1f %9.1f %9.1f %11.1fx %11.2fx\n", ds, l, o, c, lk/1024, ok/1024,
      ck/1024, o/c, c/l }'
done
printf '\n%-6s %12s %12s %10s %18s\n' file local_cpu_s conc_cpu_s cpu_ratio endpoint_cpu_s
for ds in small big; do
  awk -v ds="$ds" -v l="${cpu[$ds,local]}" -v c="${cpu[$ds,concurrent]}" -v e="${srv[$ds,concurrent]}" 'BEGIN {
    printf "%-6s %12.2f %12.2f %9.2fx %18.2f\n", ds, l, c, c/l, e }'
done
awk -v o="${wall[big,one-stream]}" -v c="${wall[big,concurrent]}" -v l="${wall[big,local]}" \
  -v ck="${rss[big,concurrent]}" 'BEGIN {
  printf "\ntargets on the 2 GB file: one-stream/concurrent %.1fx (>= 4x: %s), concurrent/local %.2fx (<= 1.3x: %s), peak RSS %.0f MiB (<= 128 MB: %s)\n",
    o/c, (o/c >= 4 ? "met" : "MISSED"), c/l, (c/l <= 1.3 ? "met" : "MISSED"), ck/1024,
    (ck*1024 <= 128e6 ? "met" : "MISSED") }'
