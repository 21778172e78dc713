"""Login and concurrency cost over pg-wire: N clients at once each log in (SCRAM-SHA-256) and
run one filtered count, through psycopg. Prints wall time, median login time and the slowest
client, for 1 and N clients, three runs each.

Usage: scripts/bench_connect.py PORT [N]   (a running spirit serve with the demo user)
"""

import statistics
import sys
import threading
import time

import psycopg

port = int(sys.argv[1])
clients = int(sys.argv[2]) if len(sys.argv) > 2 else 64
dsn = f"host=127.0.0.1 port={port} user=spirit password=spirit dbname=spirit"


def one(i, out):
    start = time.perf_counter()
    with psycopg.connect(dsn) as conn:
        logged_in = time.perf_counter()
        conn.execute("SELECT count(*) FROM bookings WHERE tour_id = %s", (i % 60 + 1,)).fetchone()
    out.append((logged_in - start, time.perf_counter() - start))


for n in (1, clients):
    for _ in range(3):
        out = []
        threads = [threading.Thread(target=one, args=(i, out)) for i in range(n)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        assert len(out) == n, f"{n - len(out)} clients failed"
        print(
            f"{n:>3} clients: wall {wall * 1000:.0f} ms, "
            f"login median {statistics.median(o[0] for o in out) * 1000:.1f} ms, "
            f"slowest login+query {max(o[1] for o in out) * 1000:.0f} ms"
        )
