"""The measurements of scripts/bench-http.sh; see there. Arguments: the stdout files of the
in-process-cache engine and of the Redis-cache engine (their `spirit listening` lines)."""
import asyncio
import base64
import json
import statistics
import sys
import time

import psycopg
import requests
import websockets

AUTH = "Basic " + base64.b64encode(b"spirit:spirit").decode()
KPIS = "SELECT * FROM metrics.kpi_overview ORDER BY kpi"


def ports(path):
    found = {}
    for line in open(path):
        if line.startswith("spirit listening "):
            key, addr = line.split()[-1].split("=")
            found[key] = int(addr.rsplit(":", 1)[1])
    return found


def http_sql(http, sql, session):
    r = session.post(f"http://127.0.0.1:{http}/api/sql", data=sql,
                     headers={"Authorization": AUTH, "Content-Type": "text/plain"})
    r.raise_for_status()
    return r.headers["x-spirit-cache"]


def median_ms(fn, n):
    runs = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs)


def booking(i, created="2026-06-30T12:00:00"):
    return json.dumps({"booking_id": 20_000_000 + i, "customer_id": 1 + i % 500, "tour_id": 1 + i % 60,
                       "channel": "B2C", "status": "confirmed", "price_paid": 100.0, "commission": 0,
                       "travelers": 1, "unit_price": 100.0, "price_index": 1.0,
                       "created_at": created, "travel_date": "2026-08-01"})


def cache_rows(name, p):
    s = requests.Session()
    pg = psycopg.connect(f"host=127.0.0.1 port={p['pg']} user=spirit password=spirit dbname=spirit", autocommit=True)
    rows = []
    # Misses: before each, one booking is ingested (not timed), which invalidates the entry.
    misses = []
    for i in range(15):
        r = s.post(f"http://127.0.0.1:{p['http']}/api/ingest/bookings", data=booking(900_000 + i),
                   headers={"Authorization": AUTH, "Content-Type": "application/x-ndjson"})
        assert r.status_code == 200, r.text
        t = time.perf_counter()
        assert http_sql(p["http"], KPIS, s) == "miss"
        misses.append((time.perf_counter() - t) * 1000)
    rows.append((name, "HTTP /api/sql, miss (kpi_overview computed)", statistics.median(misses)))
    http_sql(p["http"], KPIS, s)
    def hit():
        assert http_sql(p["http"], KPIS, s) == "hit"
    rows.append((name, "HTTP /api/sql, hit", median_ms(hit, 200)))
    rows.append((name, "HTTP GET /api/analytics/kpis/overview, hit",
                 median_ms(lambda: s.get(f"http://127.0.0.1:{p['http']}/api/analytics/kpis/overview",
                                         headers={"Authorization": AUTH}).raise_for_status(), 200)))
    pg.execute(KPIS).fetchall()
    rows.append((name, "pg-wire simple query, hit", median_ms(lambda: pg.execute(KPIS, prepare=False).fetchall(), 200)))
    return rows


def ingest(p):
    s = requests.Session()
    out, base = [], 0
    for size in (1, 100, 1000, 10000, 50000):
        body = "\n".join(booking(base + i) for i in range(size))
        base += size
        t = time.perf_counter()
        r = s.post(f"http://127.0.0.1:{p['http']}/api/ingest/bookings", data=body,
                   headers={"Authorization": AUTH, "Content-Type": "application/x-ndjson"})
        elapsed = time.perf_counter() - t
        assert r.status_code == 200, r.text
        out.append((size, elapsed * 1000, size / elapsed))
    return out, base


async def feed_latency(p, base):
    uri = f"ws://127.0.0.1:{p['http']}/api/analytics/dashboard/realtime"
    s = requests.Session()
    latencies = []
    async with websockets.connect(uri, additional_headers={"Authorization": AUTH}, max_size=None) as ws:
        await ws.send(json.dumps({"subscribe": ["revenue_by_channel"]}))
        while json.loads(await ws.recv())["type"] != "snapshot":
            pass
        for i in range(10):
            t = time.perf_counter()
            r = await asyncio.to_thread(
                s.post, f"http://127.0.0.1:{p['http']}/api/ingest/bookings", data=booking(base + 100_000 + i),
                headers={"Authorization": AUTH, "Content-Type": "application/x-ndjson"})
            assert r.status_code == 200, r.text
            while True:
                message = json.loads(await ws.recv())
                if message["type"] == "snapshot" and message["reason"] == "data":
                    break
            latencies.append((time.perf_counter() - t) * 1000)
    return latencies


memory, redis = ports(sys.argv[1]), ports(sys.argv[2])
print("\n| cache | what | median ms |\n| --- | --- | --- |")
for name, p in (("in-process (moka)", memory), ("Redis", redis)):
    for cache, what, ms in cache_rows(name, p):
        print(f"| {cache} | {what} | {ms:.2f} |")
print("\n| lines per request | ms | rows/s |\n| --- | --- | --- |")
results, base = ingest(memory)
for size, ms, rate in results:
    print(f"| {size} | {ms:.1f} | {rate:,.0f} |")
lat = asyncio.run(feed_latency(redis, base))
print(f"\nlive feed: ingest acknowledged → pushed snapshot of metrics.revenue_by_channel: median "
      f"{statistics.median(lat):.0f} ms, max {max(lat):.0f} ms over {len(lat)} ingests "
      f"(DASHBOARD_UPDATE_INTERVAL=3600, so every push came from the ingest)")
