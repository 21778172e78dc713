"""SQLAlchemy 2 (psycopg 3 driver) against a real spirit serve: engine start-up (server version,
type probes, savepoints), the inspector (schemas, tables, views, comments, columns, keys,
indexes) and a Core query with bound parameters.

Usage: sqlalchemy_check.py PORT
"""

import sys
from datetime import datetime

import sqlalchemy as sa

port = int(sys.argv[1])
engine = sa.create_engine(f"postgresql+psycopg://spirit:spirit@127.0.0.1:{port}/spirit")
insp = sa.inspect(engine)
assert engine.dialect.server_version_info[:2] == (16, 6), engine.dialect.server_version_info

schemas = insp.get_schema_names()  # LIKE … ESCAPE '/' (compat.rs, like_escape())
assert {"public", "metrics", "spirit"} <= set(schemas), schemas

tables = insp.get_table_names()  # the default schema: public
assert {"bookings", "tours", "customers"} <= set(tables), tables

views = insp.get_view_names(schema="metrics")
assert {"revenue_daily", "kpi_overview"} <= set(views), views

comment = insp.get_table_comment("revenue_daily", schema="metrics")["text"]
assert comment and "confirmed or completed" in comment, comment

assert insp.has_table("bookings") and not insp.has_table("no_such_table")

columns = insp.get_columns("bookings")
assert [c["name"] for c in columns][:3] == ["booking_id", "customer_id", "tour_id"], columns
by_name = {c["name"]: c for c in columns}
assert isinstance(by_name["booking_id"]["type"], sa.BigInteger), by_name["booking_id"]
assert isinstance(by_name["price_paid"]["type"], sa.Numeric), by_name["price_paid"]
assert isinstance(by_name["created_at"]["type"], sa.DateTime), by_name["created_at"]
assert by_name["channel"]["comment"].startswith("Sales channel"), by_name["channel"]

pk = insp.get_pk_constraint("bookings")
assert pk["constrained_columns"] == ["booking_id"], pk
assert insp.get_pk_constraint("external_factors")["constrained_columns"] == ["day", "region"]

fks = sorted(insp.get_foreign_keys("bookings"), key=lambda fk: fk["referred_table"])
assert [(fk["constrained_columns"], fk["referred_table"], fk["referred_columns"]) for fk in fks] == [
    (["customer_id"], "customers", ["customer_id"]),
    (["partner_id"], "partners", ["partner_id"]),
    (["tour_id"], "tours", ["tour_id"]),
], fks

# Primary keys are not listed as indexes; the demo tables have no others.
assert insp.get_indexes("bookings") == [], insp.get_indexes("bookings")

bookings = sa.table("bookings", sa.column("channel"), sa.column("created_at"))
query = (
    sa.select(bookings.c.channel, sa.func.count().label("n"))
    .where(bookings.c.created_at >= datetime(2025, 1, 1))
    .group_by(bookings.c.channel)
    .order_by(bookings.c.channel)
)
with engine.connect() as conn:
    rows = conn.execute(query).all()
    assert [r.channel for r in rows] == ["B2B", "B2B2C", "B2C"], rows
    # A nested transaction is a savepoint; rolling it back keeps the outer one usable.
    with conn.begin_nested() as nested:
        conn.execute(sa.text("SELECT 1"))
        nested.rollback()
    assert conn.execute(sa.text("SELECT 2::int")).scalar() == 2
print("sqlalchemy: OK")
