"""psycopg 3 over TLS: sslmode=require, SCRAM, a query with a bound parameter, and 28P01.

Usage: tls_check.py PORT (a spirit serve started with tls_cert and tls_key).
"""

import sys

import psycopg

port = int(sys.argv[1])
dsn = f"host=127.0.0.1 port={port} user=spirit dbname=spirit sslmode=require"

with psycopg.connect(dsn, password="spirit", autocommit=True) as conn:
    assert conn.info.pgconn.ssl_in_use, "the connection is not encrypted"
    row = conn.execute(
        "SELECT count(*) FROM tours WHERE tour_id <= %s", (10,), binary=True
    ).fetchone()
    assert row == (10,), row

try:
    psycopg.connect(dsn, password="nope")
    raise AssertionError("a wrong password must be refused")
except psycopg.OperationalError as e:
    # libpq reports start-up errors as text only.
    assert "password authentication failed" in str(e).lower(), e

print("ok")
