-- Queries Grafana's PostgreSQL data source sends, replayed by tests/clients.rs
-- (tool_queries.py: psycopg, prepared and binary, then unprepared and text).
-- Format: statements separated by blank lines; `-- source:` says where the tool sends it;
-- `-- expect: rows` means the result must not be empty.

-- source: the data source's health check and version probe (issue 4 text; grafana/grafana pkg/tsdb/grafana-postgresql-datasource)
-- expect: rows
SELECT current_setting('server_version_num')::int/100 as version;

-- source: the TimescaleDB probe of the config page (issue 4 text)
select 1 from pg_extension where extname = 'timescaledb';

-- source: schema picker of the SQL query builder (grafana-postgresql-datasource postgresMetaQuery, recalled, not byte-checked)
-- expect: rows
select quote_ident(table_name) as "table" from information_schema.tables where quote_ident(table_schema) not in ('information_schema', 'pg_catalog', '_timescaledb_cache', '_timescaledb_catalog', '_timescaledb_internal', '_timescaledb_config', 'timescaledb_information', 'timescaledb_experimental') and table_type = 'BASE TABLE' and table_schema = 'public' order by 1;

-- source: table picker restricted to the search_path schemas (current_schemas)
-- expect: rows
select table_name from information_schema.tables where table_schema = ANY(current_schemas(false)) order by table_name;

-- source: column picker (grafana-postgresql-datasource postgresMetaQuery, recalled, not byte-checked)
-- expect: rows
select quote_ident(column_name) as "column", data_type as "type" from information_schema.columns where quote_ident(table_name) = 'bookings' order by ordinal_position;

-- source: a time-series panel, $__timeFilter(created_at) and $__timeGroupAlias(created_at, 5m) expanded (issue 4 text)
-- expect: rows
SELECT floor(extract(epoch from created_at)/300)*300 AS "time", count(*) AS bookings FROM bookings WHERE created_at BETWEEN '2026-06-01T00:00:00Z' AND '2026-06-30T00:00:00Z' GROUP BY 1 ORDER BY 1;

-- source: a panel over a metric view, $__timeFilter(day) expanded
-- expect: rows
SELECT day AS "time", channel AS metric, revenue FROM metrics.revenue_daily WHERE day BETWEEN '2026-06-01T00:00:00Z' AND '2026-06-30T00:00:00Z' ORDER BY 1;

-- source: $__unixEpochFilter / $__timeGroup(created_at, 1h) with a fill of NULL
-- expect: rows
SELECT floor(extract(epoch from created_at)/3600)*3600 AS "time", sum(price_paid) AS revenue FROM bookings WHERE extract(epoch from created_at) BETWEEN 1780272000 AND 1782864000 GROUP BY 1 ORDER BY 1;
