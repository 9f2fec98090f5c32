"""Runs the predict benchmark (see run.sh) and prints stepscore beside its Python peer.

Measures, for each server on the same model and the same requests:
  cold start  process start -> first prediction answered over HTTP (model load included)
  handler     in-process latency of the predict handler, 1 row and 100 rows (p50, p99)
  warm HTTP   one client, one request at a time, 1 row and 100 rows (p50, p99)
  throughput  16 clients over HTTP for a few seconds, 1 row (requests/s)
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answered(port, path, body):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


class Server:
    def __init__(self, name, command, env, path):
        self.name, self.command, self.env, self.path = name, command, env, path

    def start(self, port, workers):
        cmd = [c.format(port=port, workers=workers) for c in self.command]
        return subprocess.Popen(cmd, env={**os.environ, **self.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def cold_start(self, body, runs):
        times = []
        for _ in range(runs):
            port = free_port()
            t0 = time.perf_counter()
            proc = self.start(port, 1)
            while not answered(port, self.path, body):
                if proc.poll() is not None:
                    sys.exit(f"{self.name} exited with {proc.returncode} before answering")
                time.sleep(0.0005)
            times.append(time.perf_counter() - t0)
            proc.terminate()
            proc.wait()
        return statistics.median(times)

    def running(self, workers, body):
        port = free_port()
        proc = self.start(port, workers)
        deadline = time.time() + 60
        # ready when it scores a row (scikit-learn refuses an empty batch, so no empty probe)
        while not answered(port, self.path, body):
            if time.time() > deadline or proc.poll() is not None:
                sys.exit(f"{self.name} did not start")
            time.sleep(0.01)
        return proc, port


def load(http_load, port, path, body_file, connections, seconds):
    out = subprocess.run(
        [http_load, f"127.0.0.1:{port}", path, body_file, str(connections), str(seconds)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


def peer_handler_latency(python, here, model, body_file, iterations):
    code = f"""
import json, os, sys, time
sys.path.insert(0, {here!r})
os.environ["PEER_MODEL"] = {model!r}
import peer_app
body = open({body_file!r}, "rb").read()
times = []
for i in range({iterations} + {iterations} // 10):
    t0 = time.perf_counter()
    json.dumps(peer_app.PEER.predict(body))
    if i >= {iterations} // 10:
        times.append(time.perf_counter() - t0)
times.sort()
print(json.dumps({{"p50_us": times[len(times) // 2] * 1e6, "p99_us": times[int(len(times) * 0.99)] * 1e6}}))
"""
    return json.loads(subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--stepscore", required=True)
    p.add_argument("--http-load", required=True)
    p.add_argument("--handler-latency", required=True)
    p.add_argument("--python", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--cold-runs", type=int, default=10)
    a = p.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    model, peer_model = f"{a.work}/forest.json", f"{a.work}/forest.joblib"
    path = "/v1/models/forest:predict"
    bodies = {n: f"{a.work}/body-{n}.json" for n in (1, 100)}
    gunicorn = os.path.join(os.path.dirname(a.python), "gunicorn")
    servers = [
        Server("stepscore", [a.stepscore, "serve", "--model", model, "--port", "{port}", "--quiet"], {}, path),
        Server(
            "python",
            [gunicorn, "--chdir", here, "-w", "{workers}", "-b", "127.0.0.1:{port}", "--log-level", "warning", "peer_app:app"],
            {"PEER_MODEL": peer_model},
            path,
        ),
    ]
    one = open(bodies[1], "rb").read()
    results = {}
    for s in servers:
        r = results[s.name] = {}
        print(f"{s.name}: cold start", file=sys.stderr)
        r["cold_ms"] = s.cold_start(one, a.cold_runs) * 1e3
        print(f"{s.name}: handler latency", file=sys.stderr)
        for n, iterations in ((1, 2000), (100, 200)):
            if s.name == "stepscore":
                out = subprocess.run([a.handler_latency, model, bodies[n], str(iterations)], check=True, capture_output=True, text=True)
                r[f"handler_{n}"] = json.loads(out.stdout)
            else:
                r[f"handler_{n}"] = peer_handler_latency(a.python, here, peer_model, bodies[n], iterations)
        print(f"{s.name}: HTTP", file=sys.stderr)
        proc, port = s.running(2, one)
        try:
            for n in (1, 100):
                r[f"http_{n}"] = load(a.http_load, port, path, bodies[n], 1, a.seconds)
            r["throughput"] = load(a.http_load, port, path, bodies[1], 16, a.seconds)
        finally:
            proc.terminate()
            proc.wait()
    json.dump(results, open(f"{a.work}/results.json", "w"), indent=2)
    rs, py = results["stepscore"], results["python"]

    def row(what, key, unit, fmt, better_lower=True):
        x, y = key(rs), key(py)
        ratio = (y / x) if better_lower else (x / y)
        print(f"| {what} | {fmt.format(x)} {unit} | {fmt.format(y)} {unit} | {ratio:.0f}× |")

    print("| measure | stepscore | Python peer | stepscore faster |")
    print("|---|---|---|---|")
    row("cold start → first prediction (median)", lambda r: r["cold_ms"], "ms", "{:.1f}")
    for n in (1, 100):
        for q in ("p50", "p99"):
            row(f"handler, {n} row{'s' if n > 1 else ''}, {q}", lambda r: r[f"handler_{n}"][f"{q}_us"], "µs", "{:.0f}")
    for n in (1, 100):
        for q in ("p50", "p99"):
            row(f"HTTP, {n} row{'s' if n > 1 else ''}, {q}", lambda r: r[f"http_{n}"][f"{q}_us"], "µs", "{:.0f}")
    row("throughput, 1 row, 16 clients, 2 cores", lambda r: r["throughput"]["rps"], "req/s", "{:.0f}", better_lower=False)
    errors = {k: v["throughput"]["errors"] for k, v in results.items()}
    print(f"\nfailed requests under load: {errors}")


if __name__ == "__main__":
    main()
