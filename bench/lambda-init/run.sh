#!/usr/bin/env bash
# Lambda init benchmark of the handler binaries against Python's usual data stack.
#   bench/lambda-init/run.sh [--runs N] [BINARY...]     (default: target/release/stepscore-check)
# Build the handlers for this machine first: cargo build --release -p stepscore-lambda
# The Python comparison runs in bench/.venv, created here with pinned pandas, pyarrow, numpy and
# boto3 on first use. Exit status 1 when a handler's median init exceeds 20 ms.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
venv="$root/bench/.venv"
pins=(pandas==3.1.1 pyarrow==26.0.1 numpy==2.4.6 boto3==1.44.5)

runs=()
binaries=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs)
      [ $# -ge 2 ] || { echo "run.sh: --runs needs a number" >&2; exit 2; }
      runs=(--runs "$2")
      shift 2
      ;;
    *)
      binaries+=("$1")
      shift
      ;;
  esac
done
if [ ${#binaries[@]} -eq 0 ]; then
  binaries=("$root/target/release/stepscore-check")
fi

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import pandas, pyarrow, numpy, boto3' 2> /dev/null; then
  echo "run.sh: installing ${pins[*]} into bench/.venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
fi

exec python3 "$here/init_bench.py" "${runs[@]}" --python "$venv/bin/python" "${binaries[@]}"
