-- Grafana PostgreSQL data source (grafana/grafana; frontend public/app/plugins/datasource/grafana-postgresql-datasource,
-- backend pkg/tsdb/grafana-postgresql-datasource). Commits per file are listed in README.md.
-- Flow: Save & test -> config auto-detect -> query-editor pickers -> panel queries.
-- Panel time range: 2026-06-01T00:00:00Z .. 2026-06-30T23:59:59Z (RFC3339Nano, UTC; epoch 1780272000 .. 1782863999).

-- source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/sqleng/handler_checkhealth.go (CheckHealth -> e.Ping()) + lib/pq conn.Ping => cn.simpleQuery(";")
-- source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/pgx/handler_checkhealth.go (CheckHealth -> pool.Ping) + jackc/pgx/v5 pgconn.PgConn.Ping => Exec(ctx, "-- ping")
-- "Save & test" sends NO regular statement: the wire text is either the empty statement ";" (lib/pq backend)
-- or the comment-only string "-- ping" (pgx backend). Both must return EmptyQueryResponse. Not written as statements here.

-- source: grafana/grafana public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts (getVersion) <- datasource.ts getVersion <- configuration/useAutoDetectFeatures.ts
-- config page, only while postgresVersion is not yet set (auto-detect)
SELECT current_setting('server_version_num')::int/100 as version;

-- source: grafana/grafana public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts (getTimescaleDBVersion) <- configuration/useAutoDetectFeatures.ts
-- only if the version above is >= 906 and the TimescaleDB toggle is off. An empty result leaves TimescaleDB disabled
SELECT extversion FROM pg_extension WHERE extname = 'timescaledb';

-- source: grafana/grafana public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts @12f912ab (showSchemas) <- datasource.ts fetchSchemas (DB.datasets)
-- builder "Schema" (dataset) picker — newer frontend only (older frontends return datasets = [] and never send it).
-- The newest datasource.ts reads a field named schema_name, so the newest showSchemas text may differ (not found in the index)
SELECT schema_name AS "name"
    FROM information_schema.schemata
    WHERE schema_name NOT IN ('information_schema',
                              'pg_catalog',
                              'pg_toast',
                              '_timescaledb_cache',
                              '_timescaledb_catalog',
                              '_timescaledb_internal',
                              '_timescaledb_config',
                              'timescaledb_information',
                              'timescaledb_experimental')
    ORDER BY schema_name;

-- source: grafana/grafana public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts @12f912ab (showTables(schema)) <- datasource.ts fetchTables(schema) (DB.tables)
-- builder "Table" picker after choosing schema 'public'
SELECT quote_ident(table_name) AS "table"
      FROM information_schema.tables
      WHERE quote_ident(table_schema) = 'public'
      ORDER BY 1;

-- source: grafana/grafana public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts @12f912ab (showTables(schema))
-- same picker for schema 'metrics' (views are listed too: information_schema.tables includes VIEWs)
SELECT quote_ident(table_name) AS "table"
      FROM information_schema.tables
      WHERE quote_ident(table_schema) = 'metrics'
      ORDER BY 1;

-- source: grafana/grafana public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts (showTables(), no schema) <- datasource.ts fetchTables() <- DB.lookup / code-editor autocomplete; also the table picker of older versions
-- tables on the search_path are returned bare, others as schema.table (so metrics.revenue_daily)
SELECT
    CASE WHEN 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )
      THEN quote_ident(table_name)
      ELSE quote_ident(table_schema) || '.' || quote_ident(table_name)
    END AS "table"
    FROM information_schema.tables
    WHERE quote_ident(table_schema) NOT IN ('information_schema',
                             'pg_catalog',
                             '_timescaledb_cache',
                             '_timescaledb_catalog',
                             '_timescaledb_internal',
                             '_timescaledb_config',
                             'timescaledb_information',
                             'timescaledb_experimental')
    ORDER BY CASE WHEN 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          ) THEN 0 ELSE 1 END, 1;

-- source: grafana/grafana public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts (getSchema(table)) <- datasource.ts fetchFields (DB.fields, column picker / autocomplete)
-- table = 'bookings' (bare name => matched through search_path)
SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident('bookings'),1) = 2
        THEN quote_ident(table_schema) = (parse_ident('bookings'))[1]
          AND quote_ident(table_name) = (parse_ident('bookings'))[2]
        ELSE quote_ident(table_name) = 'bookings'
          AND 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )
      END;

-- source: grafana/grafana public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts (getSchema(table))
-- table = 'metrics.revenue_daily' (qualified name => parse_ident branch)
SELECT quote_ident(column_name) AS "column", data_type AS "type"
    FROM information_schema.columns
    WHERE
      CASE WHEN array_length(parse_ident('metrics.revenue_daily'),1) = 2
        THEN quote_ident(table_schema) = (parse_ident('metrics.revenue_daily'))[1]
          AND quote_ident(table_name) = (parse_ident('metrics.revenue_daily'))[2]
        ELSE quote_ident(table_name) = 'metrics.revenue_daily'
          AND 
          quote_ident(table_schema) IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )
      END;

-- source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/schema.go @043dd88a (postgresSchema.querySchemas) — newest main only
-- pgx pool.Query (extended protocol). Whitespace inside is Go raw-string indentation (tabs)
SELECT schema_name FROM information_schema.schemata
		 WHERE schema_name NOT LIKE 'pg_%' AND schema_name != 'information_schema'
		 ORDER BY schema_name;

-- source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/schema.go @043dd88a (postgresSchema.queryTables)
-- $1 = 'public' (one query per schema returned above)
SELECT table_name FROM information_schema.tables
		 WHERE table_schema = 'public' AND table_type IN ('BASE TABLE', 'VIEW')
		 ORDER BY table_name;

-- source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/schema.go @043dd88a (postgresSchema.queryColumns)
-- $1 = 'public', $2 = 'bookings'
SELECT column_name, data_type, udt_name, numeric_precision, numeric_scale
		 FROM information_schema.columns
		 WHERE table_schema = 'public' AND table_name = 'bookings'
		 ORDER BY ordinal_position;

-- source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/schema.go @043dd88a (postgresSchema.ColumnValues)
-- one UNION ALL branch per requested column; column 'status' is illustrative
SELECT 'status' AS col_name, "status"::text AS val FROM (SELECT DISTINCT "status" FROM "public"."bookings" WHERE "status" IS NOT NULL ORDER BY "status" LIMIT 100) sub_0;

-- source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/macros.go (__timeGroupAlias -> __timeGroup: floor(extract(epoch from %s)/%v)*%v; __timeFilter: BETWEEN RFC3339Nano)
-- rawSql (user): SELECT\n  $__timeGroupAlias(created_at,'1d'),\n  count(*) AS bookings\nFROM bookings\nWHERE $__timeFilter(created_at)\nGROUP BY 1\nORDER BY 1
-- Sent as one simple-protocol query (lib/pq without args / pgx PgConn().Exec)
SELECT
  floor(extract(epoch from created_at)/86400)*86400 AS "time",
  count(*) AS bookings
FROM bookings
WHERE created_at BETWEEN '2026-06-01T00:00:00Z' AND '2026-06-30T23:59:59Z'
GROUP BY 1
ORDER BY 1;

-- source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/macros.go (__timeGroup with 5m = 300 s; __timeFilter)
-- rawSql: SELECT $__timeGroup(created_at,'5m') AS "time", sum(price_paid) AS revenue FROM bookings WHERE $__timeFilter(created_at) GROUP BY 1 ORDER BY 1
-- (with the TimescaleDB option on, $__timeGroup expands to time_bucket('300.000s',created_at) instead)
SELECT floor(extract(epoch from created_at)/300)*300 AS "time", sum(price_paid) AS revenue FROM bookings WHERE created_at BETWEEN '2026-06-01T00:00:00Z' AND '2026-06-30T23:59:59Z' GROUP BY 1 ORDER BY 1;

-- source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/macros.go (__time; __timeFilter)
-- rawSql: SELECT $__time(created_at), price_paid, status FROM bookings WHERE $__timeFilter(created_at) ORDER BY 1
SELECT created_at AS "time", price_paid, status FROM bookings WHERE created_at BETWEEN '2026-06-01T00:00:00Z' AND '2026-06-30T23:59:59Z' ORDER BY 1;

-- source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/macros.go (__timeEpoch; __timeFrom/__timeTo)
-- rawSql: SELECT $__timeEpoch(day), revenue FROM metrics.revenue_daily WHERE day >= $__timeFrom() AND day <= $__timeTo() ORDER BY 1
SELECT extract(epoch from day) as "time", revenue FROM metrics.revenue_daily WHERE day >= '2026-06-01T00:00:00Z' AND day <= '2026-06-30T23:59:59Z' ORDER BY 1;

-- source: grafana/grafana pkg/tsdb/grafana-postgresql-datasource/macros.go (__unixEpochGroupAlias -> floor((%s)/%v)*%v AS "time"; __unixEpochFilter)
-- rawSql: SELECT $__unixEpochGroupAlias(epoch_s,'1h'), count(*) FROM (SELECT extract(epoch from created_at)::bigint AS epoch_s FROM bookings) b WHERE $__unixEpochFilter(epoch_s) GROUP BY 1 ORDER BY 1
-- __unixEpochFilter => '%s >= %d AND %s <= %d' with From/To .Unix(). The global substitutions $__unixEpochFrom()/$__unixEpochTo()
-- (pgx/sql_engine.go Interpolate) give the same numbers: 1780272000 / 1782863999
SELECT floor((epoch_s)/3600)*3600 AS "time", count(*) FROM (SELECT extract(epoch from created_at)::bigint AS epoch_s FROM bookings) b WHERE epoch_s >= 1780272000 AND epoch_s <= 1782863999 GROUP BY 1 ORDER BY 1;

-- source: grafana/grafana public/app/plugins/datasource/grafana-postgresql-datasource/sqlUtil.ts (toRawSql) + packages/grafana-sql/src/utils/sql.utils.ts (createSelectClause) — visual query builder
-- builder: columns created_at, price_paid; table bookings; order by created_at DESC; default limit 50 (defaults.ts).
-- Note the trailing space produced by toRawSql (kept).
SELECT created_at, price_paid FROM bookings ORDER BY created_at DESC LIMIT 50 ;

-- source: grafana/grafana public/app/plugins/datasource/grafana-postgresql-datasource/sqlUtil.ts (toRawSql) — builder on a metrics view picked from the no-schema table list
SELECT day, revenue FROM metrics.revenue_daily LIMIT 50 ;

-- source: grafana/grafana packages/grafana-sql/src/datasource/SqlDatasource.ts (metricFindQuery) — template-variable query, user SQL sent verbatim (format table)
SELECT DISTINCT status FROM bookings ORDER BY 1;
