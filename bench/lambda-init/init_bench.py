"""Lambda init benchmark: process start until the first GET /2018-06-01/runtime/invocation/next.

That GET is the moment a custom runtime tells Lambda it finished initialising, so the span is what
a cold start adds on top of Lambda's own sandbox setup. A local runtime API (http.server on
127.0.0.1, port chosen by the OS) timestamps it; the handler binary runs with
AWS_LAMBDA_RUNTIME_API pointed at it and the environment Lambda and Terraform give it.

For comparison the same span is measured for a Python function's typical init: a process that
imports pandas, pyarrow, numpy and boto3 and then asks the same runtime API for its first event.

Usage: python init_bench.py [--runs N] [--python PYTHON] BINARY...
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NEXT_PATH = "/2018-06-01/runtime/invocation/next"
INIT_ERROR_PATH = "/2018-06-01/runtime/init/error"
PYTHON_INIT = (
    "import pandas, pyarrow, numpy, boto3, os, urllib.request\n"
    "urllib.request.urlopen('http://' + os.environ['AWS_LAMBDA_RUNTIME_API'] + '" + NEXT_PATH + "')"
)
TARGET_MS = 20.0


class Run:
    """What the runtime API saw during one process's life."""

    def __init__(self):
        self.first_next_ns = None
        self.init_error = None
        self.seen = threading.Event()
        self.release = threading.Event()


class RuntimeApi(BaseHTTPRequestHandler):
    """The two runtime API calls an initialising runtime makes: next, or init/error."""

    server_version = "init-bench"
    current = None  # the Run in progress; one process at a time

    def do_GET(self):
        now = time.perf_counter_ns()
        run = RuntimeApi.current
        if self.path != NEXT_PATH or run is None:
            self.send_error(404, f"unexpected GET {self.path}")
            return
        if run.first_next_ns is None:
            run.first_next_ns = now
            run.seen.set()
        # Hold the long poll like Lambda does between events, until the benchmark ends the process.
        run.release.wait(timeout=10)
        self.send_response(204)
        self.end_headers()

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        run = RuntimeApi.current
        if self.path == INIT_ERROR_PATH and run is not None:
            run.init_error = body
            run.seen.set()
        self.send_response(202)
        self.end_headers()

    def log_message(self, format, *args):  # keep the benchmark's output to its results
        pass


def lambda_environment(api, function_name):
    """What Lambda sets for a provided.al2023 function, plus what Terraform sets for ours."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": api,
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        # Static credentials, as Lambda provides them: no credential provider goes to the network.
        "AWS_ACCESS_KEY_ID": "AKIAINITBENCH0000000",
        "AWS_SECRET_ACCESS_KEY": "init-bench-secret",
        "AWS_SESSION_TOKEN": "init-bench-token",
        "_HANDLER": "bootstrap",
        "STEPSCORE_TABLE": "stepscore-jobs",
        "STEPSCORE_STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:stepscore-scoring-pipeline",
    }
    return env


def measure(argv, env, runs):
    """Init times (ms) of `runs` fresh processes, after one discarded warm-up run."""
    times = []
    for index in range(runs + 1):
        run = Run()
        RuntimeApi.current = run
        start = time.perf_counter_ns()
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            # Poll the process too, so one that dies during init is reported at once.
            while not run.seen.wait(timeout=0.005):
                if process.poll() is not None:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"{argv[0]}: no GET {NEXT_PATH} within 60 s")
            if run.init_error is not None:
                raise SystemExit(f"{argv[0]}: init failed, runtime API got init/error: {run.init_error}")
        finally:
            run.release.set()
            process.kill()
            _, stderr = process.communicate(timeout=10)
        if run.first_next_ns is None:
            raise SystemExit(
                f"{argv[0]}: exited with status {process.returncode} without asking for an event: "
                f"{stderr.decode(errors='replace')[-2000:]}"
            )
        if index > 0:
            times.append((run.first_next_ns - start) / 1e6)
    return times


def percentile(values, fraction):
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+", help="handler binaries (bootstrap executables for this machine)")
    parser.add_argument("--runs", type=int, default=20, help="measured runs per program (default 20)")
    parser.add_argument("--python", help="interpreter with pandas, pyarrow, numpy and boto3 (bench/.venv)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be 1 or more")

    server = ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = f"127.0.0.1:{server.server_address[1]}"

    results = []
    for binary in args.binaries:
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"{binary}: not an executable file; build it first (cargo build --release -p stepscore-lambda)")
        name = os.path.basename(binary)
        results.append((name, measure([os.path.abspath(binary)], lambda_environment(api, name), args.runs)))
    python_times = None
    if args.python:
        python_times = measure([args.python, "-c", PYTHON_INIT], lambda_environment(api, "python-init"), args.runs)
    server.shutdown()

    print(f"Lambda init: process start -> first GET {NEXT_PATH}, {args.runs} runs each (+1 warm-up)")
    print(f"{'program':<34} {'median ms':>10} {'p90 ms':>10} {'min ms':>10}")
    for name, times in results:
        print(f"{name:<34} {statistics.median(times):>10.2f} {percentile(times, 0.9):>10.2f} {min(times):>10.2f}")
    if python_times is not None:
        label = "python: pandas+pyarrow+numpy+boto3"
        print(f"{label:<34} {statistics.median(python_times):>10.2f} {percentile(python_times, 0.9):>10.2f} {min(python_times):>10.2f}")
        for name, times in results:
            ratio = statistics.median(python_times) / statistics.median(times)
            print(f"ratio python / {name} (median): {ratio:.1f}x")
    over = [name for name, times in results if statistics.median(times) > TARGET_MS]
    print(f"target: median <= {TARGET_MS:.0f} ms: " + ("met" if not over else f"MISSED by {', '.join(over)}"))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
