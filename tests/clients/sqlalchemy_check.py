"""SQLAlchemy 2 (psycopg 3 driver) against a real spirit serve: the inspector as notebooks,
Superset and pandas use it, and a Core query with bound parameters.

Usage: sqlalchemy_check.py PORT
"""

import sys
from datetime import datetime

import sqlalchemy as sa

port = int(sys.argv[1])
engine = sa.create_engine(f"postgresql+psycopg://spirit:spirit@127.0.0.1:{port}/spirit")
insp = sa.inspect(engine)

schemas = insp.get_schema_names()
assert {"public", "metrics", "spirit"} <= set(schemas), schemas

tables = insp.get_table_names()  # the default schema: public
assert {"bookings", "tours", "customers"} <= set(tables), tables

views = insp.get_view_names(schema="metrics")
assert {"revenue_daily", "kpi_overview"} <= set(views), views

columns = {c["name"]: c for c in insp.get_columns("bookings")}
assert {"booking_id", "channel", "price_paid", "created_at"} <= set(columns), columns
assert isinstance(columns["booking_id"]["type"], sa.BigInteger), columns["booking_id"]
assert isinstance(columns["created_at"]["type"], sa.DateTime), columns["created_at"]

view_columns = {c["name"]: c for c in insp.get_columns("revenue_daily", schema="metrics")}
assert "revenue" in view_columns, view_columns
assert view_columns["revenue"]["comment"], view_columns["revenue"]

comment = insp.get_table_comment("revenue_daily", schema="metrics")["text"]
assert comment and "confirmed" in comment, comment

pk = insp.get_pk_constraint("bookings")
assert isinstance(pk["constrained_columns"], list), pk
assert isinstance(insp.get_foreign_keys("bookings"), list)
assert isinstance(insp.get_indexes("bookings"), list)
assert insp.has_table("bookings") and not insp.has_table("no_such_table")

bookings = sa.table("bookings", sa.column("channel"), sa.column("price_paid"), sa.column("created_at"))
query = (
    sa.select(bookings.c.channel, sa.func.count().label("n"))
    .where(bookings.c.created_at >= datetime(2025, 1, 1))
    .group_by(bookings.c.channel)
    .order_by(bookings.c.channel)
)
with engine.connect() as conn:
    rows = conn.execute(query).all()
assert [r.channel for r in rows] == ["B2B", "B2B2C", "B2C"], rows
print("sqlalchemy: OK")
