-- Metabase PostgreSQL driver: add database 'spirit' + initial metadata sync + one GUI question + one native question.
-- Driver source: metabase/metabase commit 008fd667 (src/metabase/driver/postgres.clj); JDBC driver: pgjdbc 42.7.12.
-- Order of the first statements follows the v0.62.1.5 capture cited below; bind parameters substituted.
-- Syncable schemas assumed: metrics, public, spirit (pg_catalog/information_schema are excluded by Metabase).

-- source: pgjdbc/pgjdbc@REL42.7.12 pgjdbc/src/main/java/org/postgresql/core/v3/ConnectionFactoryImpl.java (runInitialQueries) — value from third-party capture "Captured from Metabase v0.62.1.5 syncing a real Postgres 16" (code index file id 55699000340; repository not named by the index)
-- Metabase passes an ApplicationName connection property ("Metabase <version> [<instance uuid>]"); pgjdbc sends it as SQL
-- after startup because assumeMinServerVersion is unset. Server_version < 12 => prefixed by "SET extra_float_digits = 3;".
SET application_name = 'Metabase v0.62.1.5 [d4fe74c4-96c3-4812-b3ae-35e513752b13]';

-- source: metabase/metabase@008fd6675457cdd62da2265628bed3b725a607ea src/metabase/driver/sql_jdbc/connection.clj (can-connect? — (jdbc/query spec ["SELECT 1"])); order per capture
-- "Test connection" / database save. (Pool connections are validated with Connection.isValid(): pgjdbc sends an EMPTY
-- simple query "" — see README.)
SELECT 1;

-- source: pgjdbc/pgjdbc@REL42.7.12 pgjdbc/src/main/java/org/postgresql/jdbc/PgConnection.java (getTransactionIsolation) — caller: c3p0 pool reading connection defaults on acquire (order per capture)
SHOW TRANSACTION ISOLATION LEVEL;

-- source: pgjdbc/pgjdbc@REL42.7.12 pgjdbc/src/main/java/org/postgresql/jdbc/PgConnection.java (getCatalog) — caller: c3p0 defaults, and pgjdbc getColumns/getPrimaryKeys
-- sent once per physical connection (result cached by pgjdbc)
select current_catalog;

-- source: metabase/metabase@008fd6675457cdd62da2265628bed3b725a607ea src/metabase/driver/sql_jdbc/execute.clj (set-best-transaction-level! -> .setTransactionIsolation) + pgjdbc/pgjdbc@REL42.7.12 pgjdbc/src/main/java/org/postgresql/jdbc/PgConnection.java (setTransactionIsolation)
-- sent on every connection checkout by do-with-connection-with-options (set-default-connection-options!)
SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ UNCOMMITTED;

-- source: pgjdbc/pgjdbc@REL42.7.12 pgjdbc/src/main/java/org/postgresql/jdbc/PgConnection.java (setTransactionIsolation) — caller: c3p0 restoring the default isolation on check-in (order per capture)
SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED;

-- source: pgjdbc/pgjdbc@REL42.7.12 pgjdbc/src/main/java/org/postgresql/jdbc/PgDatabaseMetaData.java (getSchemas) <- metabase/metabase@008fd6675457cdd62da2265628bed3b725a607ea src/metabase/driver/sql_jdbc/sync/describe_database.clj (all-schemas / driver/syncable-schemas)
-- Metabase then drops information_schema and pg_catalog (excluded-schemas :postgres) and metabase_cache* schemas
SELECT nspname AS "TABLE_SCHEM", current_database() AS "TABLE_CATALOG" FROM pg_catalog.pg_namespace  WHERE nspname <> 'pg_toast' AND (nspname !~ '^pg_temp_'  OR nspname = (pg_catalog.current_schemas(true))[1]) AND (nspname !~ '^pg_toast_temp_'  OR nspname = replace((pg_catalog.current_schemas(true))[1], 'pg_temp_', 'pg_toast_temp_'))  ORDER BY "TABLE_SCHEM";

-- source: metabase/metabase@008fd6675457cdd62da2265628bed3b725a607ea src/metabase/driver/postgres.clj (sql-jdbc.sync/current-user-table-privileges :postgres, via describe-syncable-tables have-privilege-fn)
-- no bound parameters (plain jdbc/query string)
with table_privileges as (
 select
   NULL as role,
   t.schemaname as schema,
   t.objectname as table,
   pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'update') as update,
   pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'select') as select,
   pg_catalog.has_any_column_privilege(current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'insert') as insert,
   pg_catalog.has_table_privilege(     current_user, '"' || replace(t.schemaname, '"', '""') || '"' || '.' || '"' || replace(t.objectname, '"', '""') || '"',  'delete') as delete
 from (
   select schemaname, tablename as objectname from pg_catalog.pg_tables
   union
   select schemaname, viewname as objectname from pg_catalog.pg_views
   union
   select schemaname, matviewname as objectname from pg_catalog.pg_matviews
 ) t
 where t.schemaname !~ '^pg_'
   and t.schemaname <> 'information_schema'
   and pg_catalog.has_schema_privilege(current_user, t.schemaname, 'usage')
)
select t.*
from table_privileges t;

-- source: metabase/metabase@008fd6675457cdd62da2265628bed3b725a607ea src/metabase/driver/postgres.clj (get-tables-sql, HoneySQL {:dialect :ansi}; describe-database* :postgres)
-- HoneySQL rendering done by hand (not executed); on the wire 0, '^pg_', 'information_schema' and each schema name are
-- bind parameters ($1..$n), as the capture shows. Schema list = syncable schemas returned by the previous getSchemas.
SELECT "n"."nspname" AS "schema", "c"."relname" AS "name", CASE "c"."relkind" WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS "type", "d"."description" AS "description", "stat"."n_live_tup" AS "estimated_row_count" FROM "pg_catalog"."pg_class" AS "c" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid" LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = 0) AND ("d"."classoid" = 'pg_class'::regclass) LEFT JOIN "pg_stat_user_tables" AS "stat" ON ("n"."nspname" = "stat"."schemaname") AND ("c"."relname" = "stat"."relname") WHERE ("c"."relnamespace" = "n"."oid") AND ("n"."nspname" !~ '^pg_') AND ("n"."nspname" <> 'information_schema') AND c.relkind in ('r', 'p', 'v', 'f', 'm') AND ("n"."nspname" IN ('metrics', 'public', 'spirit')) ORDER BY "type" ASC, "schema" ASC, "name" ASC;

-- source: third-party capture "Captured from Metabase v0.62.1.5 syncing a real Postgres 16" (code index file id 55699000340; repository not named by the index) (#9); newer form of the same get-tables-sql (Metabase v0.62)
-- captured with $1..$5 (values '0','0','^pg_','information_schema','public'); substituted here, schema list widened to Spirit's
SELECT "n"."nspname" AS "schema", "c"."relname" AS "name", CASE "c"."relkind" WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS "type", "d"."description" AS "description", NULLIF("stat"."n_live_tup", 0) AS "estimated_row_count" FROM "pg_catalog"."pg_class" AS "c" INNER JOIN "pg_catalog"."pg_namespace" AS "n" ON "c"."relnamespace" = "n"."oid" LEFT JOIN "pg_catalog"."pg_description" AS "d" ON ("c"."oid" = "d"."objoid") AND ("d"."objsubid" = 0) AND ("d"."classoid" = 'pg_class'::regclass) LEFT JOIN "pg_stat_user_tables" AS "stat" ON ("n"."nspname" = "stat"."schemaname") AND ("c"."relname" = "stat"."relname") WHERE ("c"."relnamespace" = "n"."oid") AND ("n"."nspname" !~ '^pg_') AND ("n"."nspname" <> 'information_schema') AND c.relkind in ('r', 'p', 'v', 'f', 'm') AND ("n"."nspname" IN ('metrics', 'public', 'spirit')) ORDER BY "type" ASC, "schema" ASC, "name" ASC;

-- source: metabase/metabase@008fd6675457cdd62da2265628bed3b725a607ea src/metabase/driver/postgres.clj (driver/db-default-timezone :postgres); order per capture
-- the Clojure string is "show timezone;" (the semicolon is part of the text Metabase sends)
show timezone;

-- source: metabase/metabase@008fd6675457cdd62da2265628bed3b725a607ea src/metabase/driver/postgres.clj (enum-types; used by describe-fields-pre-process-xf / dynamic-database-types-lookup)
SELECT nspname, typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid IN (SELECT DISTINCT enumtypid FROM pg_enum e);

-- source: metabase/metabase@008fd6675457cdd62da2265628bed3b725a607ea src/metabase/driver/postgres.clj (sql-jdbc.sync/describe-fields-sql :postgres; called by describe_table.clj describe-fields)
-- HoneySQL rendering done by hand following the rendering seen in the capture; schema names are bind parameters on the wire
SELECT "c"."column_name" AS "name", CASE WHEN "c"."udt_schema" IN ('public', 'pg_catalog') THEN FORMAT('%s', "c"."udt_name") ELSE FORMAT('"%s"."%s"', "c"."udt_schema", "c"."udt_name") END AS "database-type", "c"."ordinal_position" - 1 AS "database-position", "c"."table_schema" AS "table-schema", "c"."table_name" AS "table-name", "pk"."column_name" IS NOT NULL AS "pk?", COL_DESCRIPTION(CAST(CAST(FORMAT('%I.%I', CAST("c"."table_schema" AS TEXT), CAST("c"."table_name" AS TEXT)) AS REGCLASS) AS OID), "c"."ordinal_position") AS "field-comment", (("column_default" IS NULL) OR (LOWER("column_default") = 'null')) AND ("is_nullable" = 'NO') AND NOT ((("column_default" IS NOT NULL) AND ("column_default" LIKE '%nextval(%')) OR ("is_identity" <> 'NO')) AS "database-required", (("column_default" IS NOT NULL) AND ("column_default" LIKE '%nextval(%')) OR ("is_identity" <> 'NO') AS "database-is-auto-increment" FROM "information_schema"."columns" AS "c" LEFT JOIN (SELECT "tc"."table_schema", "tc"."table_name", "kc"."column_name" FROM "information_schema"."table_constraints" AS "tc" INNER JOIN "information_schema"."key_column_usage" AS "kc" ON ("tc"."constraint_name" = "kc"."constraint_name") AND ("tc"."table_schema" = "kc"."table_schema") AND ("tc"."table_name" = "kc"."table_name") WHERE "tc"."constraint_type" = 'PRIMARY KEY') AS "pk" ON ("c"."table_schema" = "pk"."table_schema") AND ("c"."table_name" = "pk"."table_name") AND ("c"."column_name" = "pk"."column_name") WHERE c.table_schema !~ '^information_schema|catalog_history|pg_' AND ("c"."table_schema" IN ('metrics', 'public', 'spirit')) UNION ALL SELECT "pa"."attname" AS "name", CASE WHEN "ptn"."nspname" IN ('public', 'pg_catalog') THEN FORMAT('%s', "pt"."typname") ELSE FORMAT('"%s"."%s"', "ptn"."nspname", "pt"."typname") END AS "database-type", "pa"."attnum" - 1 AS "database-position", "pn"."nspname" AS "table-schema", "pc"."relname" AS "table-name", FALSE AS "pk?", NULL AS "field-comment", FALSE AS "database-required", FALSE AS "database-is-auto-increment" FROM "pg_catalog"."pg_class" AS "pc" INNER JOIN "pg_catalog"."pg_namespace" AS "pn" ON "pn"."oid" = "pc"."relnamespace" INNER JOIN "pg_catalog"."pg_attribute" AS "pa" ON "pa"."attrelid" = "pc"."oid" INNER JOIN "pg_catalog"."pg_type" AS "pt" ON "pt"."oid" = "pa"."atttypid" INNER JOIN "pg_catalog"."pg_namespace" AS "ptn" ON "ptn"."oid" = "pt"."typnamespace" WHERE ("pc"."relkind" = 'm') AND ("pa"."attnum" >= 1) AND ("pn"."nspname" IN ('metrics', 'public', 'spirit')) ORDER BY "table-schema" ASC, "table-name" ASC, "database-position" ASC;

-- source: third-party capture "Captured from Metabase v0.62.1.5 syncing a real Postgres 16" (code index file id 55699000340; repository not named by the index) (#12); newer describe-fields-sql (Metabase v0.62: adds database-default / database-is-generated / database-is-nullable)
-- captured with $1 = 'ALWAYS', $2/$3 = 'public'; substituted
SELECT "c"."column_name" AS "name", CASE WHEN "c"."udt_schema" IN ('public', 'pg_catalog') THEN FORMAT('%s', "c"."udt_name") ELSE FORMAT('"%s"."%s"', "c"."udt_schema", "c"."udt_name") END AS "database-type", "c"."ordinal_position" - 1 AS "database-position", "c"."table_schema" AS "table-schema", "c"."table_name" AS "table-name", "pk"."column_name" IS NOT NULL AS "pk?", COL_DESCRIPTION(CAST(CAST(FORMAT('%I.%I', CAST("c"."table_schema" AS TEXT), CAST("c"."table_name" AS TEXT)) AS REGCLASS) AS OID), "c"."ordinal_position") AS "field-comment", (("column_default" IS NULL) OR (LOWER("column_default") = 'null')) AND ("is_nullable" = 'NO') AND NOT ((("column_default" IS NOT NULL) AND ("column_default" LIKE '%nextval(%')) OR ("is_identity" <> 'NO')) AS "database-required", "column_default" AS "database-default", (("column_default" IS NOT NULL) AND ("column_default" LIKE '%nextval(%')) OR ("is_identity" <> 'NO') AS "database-is-auto-increment", "is_generated" = 'ALWAYS' AS "database-is-generated", "is_nullable" = 'YES' AS "database-is-nullable" FROM "information_schema"."columns" AS "c" LEFT JOIN (SELECT "tc"."table_schema", "tc"."table_name", "kc"."column_name" FROM "information_schema"."table_constraints" AS "tc" INNER JOIN "information_schema"."key_column_usage" AS "kc" ON ("tc"."constraint_name" = "kc"."constraint_name") AND ("tc"."table_schema" = "kc"."table_schema") AND ("tc"."table_name" = "kc"."table_name") WHERE "tc"."constraint_type" = 'PRIMARY KEY') AS "pk" ON ("c"."table_schema" = "pk"."table_schema") AND ("c"."table_name" = "pk"."table_name") AND ("c"."column_name" = "pk"."column_name") WHERE c.table_schema !~ '^information_schema|catalog_history|pg_' AND ("c"."table_schema" IN ('metrics', 'public', 'spirit')) UNION ALL SELECT "pa"."attname" AS "name", CASE WHEN "ptn"."nspname" IN ('public', 'pg_catalog') THEN FORMAT('%s', "pt"."typname") ELSE FORMAT('"%s"."%s"', "ptn"."nspname", "pt"."typname") END AS "database-type", "pa"."attnum" - 1 AS "database-position", "pn"."nspname" AS "table-schema", "pc"."relname" AS "table-name", FALSE AS "pk?", NULL AS "field-comment", FALSE AS "database-required", NULL AS "database-default", FALSE AS "database-is-auto-increment", FALSE AS "database-is-generated", FALSE AS "database-is-nullable" FROM "pg_catalog"."pg_class" AS "pc" INNER JOIN "pg_catalog"."pg_namespace" AS "pn" ON "pn"."oid" = "pc"."relnamespace" INNER JOIN "pg_catalog"."pg_attribute" AS "pa" ON "pa"."attrelid" = "pc"."oid" INNER JOIN "pg_catalog"."pg_type" AS "pt" ON "pt"."oid" = "pa"."atttypid" INNER JOIN "pg_catalog"."pg_namespace" AS "ptn" ON "ptn"."oid" = "pt"."typnamespace" WHERE ("pc"."relkind" = 'm') AND ("pa"."attnum" >= 1) AND ("pn"."nspname" IN ('metrics', 'public', 'spirit')) ORDER BY "table-schema" ASC, "table-name" ASC, "database-position" ASC;

-- source: pgjdbc/pgjdbc@REL42.7.12 pgjdbc/src/main/java/org/postgresql/jdbc/PgDatabaseMetaData.java (getColumns, server >= 12) <- metabase/metabase@008fd6675457cdd62da2265628bed3b725a607ea src/metabase/driver/sql_jdbc/sync/describe_table.clj (jdbc-fields-metadata via describe-table*)
-- one per table (seen in the capture after describe-fields; the exact v0.62 caller was not located). LIKE patterns = schema, table
SELECT * FROM (SELECT current_database() AS current_database, n.nspname,c.relname,a.attname,a.atttypid,a.attnotnull  OR (t.typtype = 'd' AND t.typnotnull) AS attnotnull,a.atttypmod,a.attlen,t.typtypmod,row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS attnum, nullif(a.attidentity, '') as attidentity,nullif(a.attgenerated, '') as attgenerated,pg_catalog.pg_get_expr(def.adbin, def.adrelid) AS adsrc,dsc.description,t.typbasetype,t.typtype  FROM pg_catalog.pg_namespace n  JOIN pg_catalog.pg_class c ON (c.relnamespace = n.oid)  JOIN pg_catalog.pg_attribute a ON (a.attrelid=c.oid)  JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid)  LEFT JOIN pg_catalog.pg_attrdef def ON (a.attrelid=def.adrelid AND a.attnum = def.adnum)  LEFT JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)  LEFT JOIN pg_catalog.pg_class dc ON (dc.oid=dsc.classoid AND dc.relname='pg_class')  LEFT JOIN pg_catalog.pg_namespace dn ON (dc.relnamespace=dn.oid AND dn.nspname='pg_catalog')  WHERE c.relkind in ('r','p','v','f','m') and a.attnum > 0 AND NOT a.attisdropped  AND n.nspname LIKE 'public' AND c.relname LIKE 'bookings') c WHERE true  ORDER BY nspname,c.relname,attnum ;

-- source: pgjdbc/pgjdbc@REL42.7.12 pgjdbc/src/main/java/org/postgresql/jdbc/PgDatabaseMetaData.java (getPrimaryKeys, server >= 11) <- metabase/metabase@008fd6675457cdd62da2265628bed3b725a607ea src/metabase/driver/sql_jdbc/sync/describe_table.clj (get-table-pks :sql-jdbc / add-table-pks)
-- one per table. NB pgjdbc 42.7.13+ rewrote this query to read pg_constraint (contype = 'p') instead of pg_index
SELECT        result.TABLE_CAT AS "TABLE_CAT",        result.TABLE_SCHEM AS "TABLE_SCHEM",        result.TABLE_NAME AS "TABLE_NAME",        result.COLUMN_NAME AS "COLUMN_NAME",        result.KEY_SEQ AS "KEY_SEQ",        result.PK_NAME AS "PK_NAME"FROM      (SELECT current_database() AS TABLE_CAT, n.nspname AS TABLE_SCHEM,   ct.relname AS TABLE_NAME, a.attname AS COLUMN_NAME,   (information_schema._pg_expandarray(i.indkey)).n AS KEY_SEQ, ci.relname AS PK_NAME,   information_schema._pg_expandarray(i.indkey) AS KEYS, a.attnum AS A_ATTNUM, i.indnkeyatts as KEY_COUNT FROM pg_catalog.pg_class ct   JOIN pg_catalog.pg_attribute a ON (ct.oid = a.attrelid)   JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)   JOIN pg_catalog.pg_index i ON ( a.attrelid = i.indrelid)   JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid) WHERE true  AND n.nspname = 'public' AND ct.relname = 'bookings' AND i.indisprimary  ) result where  result.A_ATTNUM = (result.KEYS).x AND result.KEY_SEQ <= KEY_COUNT  ORDER BY result.table_name, result.pk_name, result.key_seq;

-- source: metabase/metabase@008fd6675457cdd62da2265628bed3b725a607ea src/metabase/driver/postgres.clj (sql-jdbc.sync/describe-fks-sql :postgres)
-- identical text in the v0.62 capture (#15)
SELECT "fk_ns"."nspname" AS "fk-table-schema", "fk_table"."relname" AS "fk-table-name", "fk_column"."attname" AS "fk-column-name", "pk_ns"."nspname" AS "pk-table-schema", "pk_table"."relname" AS "pk-table-name", "pk_column"."attname" AS "pk-column-name" FROM "pg_constraint" AS "c" INNER JOIN "pg_class" AS "fk_table" ON "c"."conrelid" = "fk_table"."oid" INNER JOIN "pg_namespace" AS "fk_ns" ON "c"."connamespace" = "fk_ns"."oid" INNER JOIN "pg_attribute" AS "fk_column" ON "c"."conrelid" = "fk_column"."attrelid" INNER JOIN "pg_class" AS "pk_table" ON "c"."confrelid" = "pk_table"."oid" INNER JOIN "pg_namespace" AS "pk_ns" ON "pk_table"."relnamespace" = "pk_ns"."oid" INNER JOIN "pg_attribute" AS "pk_column" ON "c"."confrelid" = "pk_column"."attrelid" WHERE fk_ns.nspname !~ '^information_schema|catalog_history|pg_' AND ("c"."contype" = 'f'::char) AND ("fk_column"."attnum" = ANY(c.conkey)) AND ("pk_column"."attnum" = ANY(c.confkey)) AND ("fk_ns"."nspname" IN ('metrics', 'public', 'spirit')) ORDER BY "fk-table-schema" ASC, "fk-table-name" ASC;

-- source: third-party capture "Captured from Metabase v0.62.1.5 syncing a real Postgres 16" (code index file id 55699000340; repository not named by the index) (#16/#17) — sync fingerprint / field-values sample; query shape only, generated by the Metabase query processor (not read in source)
-- the first line "-- Metabase" is part of the statement text (inject-remark :default => (str "-- " remark "\n" sql)).
-- Text columns are wrapped in SUBSTRING(col, 1, 1234) with generated aliases; column names of bookings are illustrative.
-- Metabase
SELECT SUBSTRING("public"."bookings"."status", 1, 1234) AS "substring4476", "public"."bookings"."price_paid" AS "price_paid", "public"."bookings"."created_at" AS "created_at" FROM "public"."bookings" LIMIT 10000;

-- source: pgjdbc/pgjdbc@REL42.7.12 pgjdbc/src/main/java/org/postgresql/jdbc/PgResultSetMetaData.java (fetchFieldMetaData) <- Metabase reading ResultSetMetaData of the previous query (seen in capture #18)
-- only when RowDescription carries non-zero table OIDs; (oid, attnum) pairs come from RowDescription (16385 = placeholder oid of bookings)
SELECT c.oid, a.attnum, a.attname, c.relname, n.nspname, a.attnotnull OR (t.typtype = 'd' AND t.typnotnull), a.attidentity != '' OR pg_catalog.pg_get_expr(d.adbin, d.adrelid) LIKE '%nextval(%' FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON (c.relnamespace = n.oid) JOIN pg_catalog.pg_attribute a ON (c.oid = a.attrelid) JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid) LEFT JOIN pg_catalog.pg_attrdef d ON (d.adrelid = a.attrelid AND d.adnum = a.attnum) JOIN (SELECT 16385 AS oid , 2 AS attnum UNION ALL SELECT 16385, 3 UNION ALL SELECT 16385, 4) vals ON (c.oid = vals.oid AND a.attnum = vals.attnum) where c.oid in (16385);

-- source: metabase/metabase@008fd6675457cdd62da2265628bed3b725a607ea src/metabase/driver/sql_jdbc/execute.clj (inject-remark :default) — GUI question "Count of Bookings"; SQL shape from third-party capture "Captured from Metabase v0.62.1.5 syncing a real Postgres 16" (code index file id 55699000340; repository not named by the index) (#20)
-- queryHash is the sha256 of the query (value copied from the capture, it will differ)
-- Metabase:: userID: 1 queryType: MBQL queryHash: a54de39466cbf3e82ff09c5a9a2bccf1f922bf9fd59b2717c1ad5e09a1c0bfbc
SELECT COUNT(*) AS "count" FROM "public"."bookings";

-- source: metabase/metabase@008fd6675457cdd62da2265628bed3b725a607ea src/metabase/driver/sql_jdbc/execute.clj (inject-remark :default) — native SQL question; user text passed through verbatim
-- body is user SQL (time range 2026-06-01..2026-06-30 on bookings.created_at); only the remark line comes from Metabase
-- Metabase:: userID: 1 queryType: native queryHash: 0000000000000000000000000000000000000000000000000000000000000000
SELECT date_trunc('day', created_at) AS day, count(*) AS bookings FROM public.bookings WHERE created_at >= '2026-06-01' AND created_at < '2026-07-01' GROUP BY 1 ORDER BY 1;

-- source: metabase/metabase@008fd6675457cdd62da2265628bed3b725a607ea src/metabase/driver/postgres.clj (sql-jdbc.execute/set-timezone-sql :postgres = "SET SESSION TIMEZONE TO %s;") via execute.clj set-time-zone-if-supported!
-- only when a report timezone is configured in Metabase admin settings; sent on each connection checkout before the query.
-- The format string ends with ';' so the wire text is: SET SESSION TIMEZONE TO 'UTC';
SET SESSION TIMEZONE TO 'UTC';
