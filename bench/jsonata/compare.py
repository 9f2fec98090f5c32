"""Reads both runners' JSON lines, checks that every case gave the same result in both, and
prints the table with the ratio (stepscore evaluations/s over jsonata-js evaluations/s)."""
import json
import math
import sys


def load(path):
    return {c["name"]: c for c in map(json.loads, open(path))}


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


ours, peer = load(sys.argv[1]), load(sys.argv[2])
target = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
failed = False
print(f"{'case':36} {'stepscore /s':>14} {'jsonata-js /s':>14} {'ratio':>9}")
for name, p in peer.items():
    o = ours[name]
    if not same(o["result"], p["result"]):
        print(f"{name}: results differ\n  stepscore: {json.dumps(o['result'])[:300]}\n  jsonata-js: {json.dumps(p['result'])[:300]}")
        failed = True
        continue
    ratio = o["per_second"] / p["per_second"]
    mark = "" if ratio >= target else f"  (below the {target:g}x target)"
    print(f"{name:36} {o['per_second']:14,.0f} {p['per_second']:14,.1f} {ratio:8.1f}x{mark}")
sys.exit(1 if failed else 0)
