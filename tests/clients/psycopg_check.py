"""psycopg 3 against a running spirit server: server-side binding, binary results, types, errors.

Usage: python3 psycopg_check.py PORT   (exits non-zero on the first failed check)
"""

import datetime
import sys
from decimal import Decimal

import psycopg
from psycopg import errors

port = int(sys.argv[1])
conn = psycopg.connect(
    host="127.0.0.1",
    port=port,
    user="spirit",
    password="spirit",
    dbname="spirit",
    autocommit=True,
)

# Server-side parameter binding with values of each common type.
with conn.cursor() as cur:
    cur.execute(
        "SELECT count(*) FROM bookings WHERE channel = %s AND price_paid > %s "
        "AND created_at >= %s AND travel_date >= %s",
        ("B2C", Decimal("100.50"), datetime.datetime(2025, 1, 1), datetime.date(2025, 1, 1)),
    )
    (count,) = cur.fetchone()
    assert isinstance(count, int) and count > 1000, count

# Binary results decode to the right Python types.
with conn.cursor(binary=True) as cur:
    cur.execute(
        "SELECT booking_id, travelers, price_paid, price_index, channel, created_at, travel_date, "
        "status = 'completed' FROM bookings ORDER BY booking_id LIMIT 5"
    )
    rows = cur.fetchall()
    assert len(rows) == 5, rows
    booking_id, travelers, price, index, channel, created, travel, done = rows[0]
    assert booking_id == 1, booking_id
    assert isinstance(travelers, int)
    assert isinstance(price, Decimal), type(price)
    assert isinstance(index, float)
    assert channel in ("B2C", "B2B", "B2B2C")
    assert isinstance(created, datetime.datetime)
    assert isinstance(travel, datetime.date)
    assert isinstance(done, bool)

# The README query.
with conn.cursor() as cur:
    cur.execute("SELECT channel, count(*), sum(price_paid) FROM bookings GROUP BY 1 ORDER BY 1")
    rows = cur.fetchall()
    assert [r[0] for r in rows] == ["B2B", "B2B2C", "B2C"], rows
    assert all(isinstance(r[2], Decimal) for r in rows), rows

# Errors map to psycopg's SQLSTATE classes, and the connection stays usable.
for sql, expected in [
    ("SELECT * FROM no_such_table", errors.UndefinedTable),
    ("SELEC 1", errors.SyntaxError),
    ("SELECT no_such_function(1)", errors.UndefinedFunction),
]:
    try:
        conn.execute(sql)
    except expected:
        pass
    else:
        raise AssertionError(f"{sql} did not raise {expected.__name__}")
    assert conn.execute("SELECT 1").fetchone() == (1,)

# DDL and DML with bound parameters; executemany.
conn.execute("CREATE TABLE psycopg_items (id BIGINT, label TEXT, price DOUBLE PRECISION)")
with conn.cursor() as cur:
    cur.executemany(
        "INSERT INTO psycopg_items VALUES (%s, %s, %s)",
        [(1, "one", 1.5), (2, "two", 2.5), (3, "three", 3.5)],
    )
assert conn.execute("SELECT sum(price) FROM psycopg_items").fetchone() == (7.5,)
conn.execute("DROP TABLE psycopg_items")

conn.close()
print("psycopg: OK")
