#!/usr/bin/env python3
"""Checks that the bench endpoint really paces each connection: one GET of `--bytes` on one
connection, then the same bytes split over `--connections` connections at once. Prints the
rates; exits 1 when one connection goes faster than the limit allows (10% slack) or many
connections are not several times faster than one."""

import argparse
import http.client
import sys
import threading
import time


def get(port, path, first, last, out, i):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path, headers={"Range": f"bytes={first}-{last}"})
    resp = conn.getresponse()
    n = 0
    while True:
        block = resp.read(1 << 20)
        if not block:
            break
        n += len(block)
    conn.close()
    out[i] = n


def timed(port, path, size, connections):
    share = size // connections
    out = [0] * connections
    threads = [
        threading.Thread(target=get, args=(port, path, i * share, (i + 1) * share - 1, out, i))
        for i in range(connections)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    return sum(out), seconds


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True, help="/bucket/key of an object of at least --bytes")
    p.add_argument("--bytes", type=int, default=200_000_000)
    p.add_argument("--rate", type=float, default=100e6)
    p.add_argument("--connections", type=int, default=4)
    a = p.parse_args()
    one, one_s = timed(a.port, a.path, a.bytes, 1)
    many, many_s = timed(a.port, a.path, a.bytes, a.connections)
    one_rate, many_rate = one / one_s / 1e6, many / many_s / 1e6
    print(f"pacing: 1 connection {one_rate:.0f} MB/s, {a.connections} connections "
          f"{many_rate:.0f} MB/s (limit {a.rate / 1e6:.0f} MB/s per connection)")
    if one != a.bytes or many != (a.bytes // a.connections) * a.connections:
        print("pacing: short reads", file=sys.stderr)
        return 1
    if one_rate > a.rate / 1e6 * 1.1:
        print("pacing: one connection beat the limit: the server does not pace", file=sys.stderr)
        return 1
    if many_rate < one_rate * 2:
        print("pacing: more connections were not faster: the limit is not per connection",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
