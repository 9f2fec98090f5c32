#!/usr/bin/env bash
# The console's API with 10,000 executions in the state directory: executions list (first
# page, 9,000 deep, status filter, job id search) and detail, p50/p99 over real HTTP.
# Target: <= 50 ms. Usage: bench/console/run.sh   (PROFILE=dev for an unoptimised build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
profile=${PROFILE:-release}
cargo run --quiet --profile "$profile" -p stepscore-console --example bench --manifest-path "$root/Cargo.toml"
