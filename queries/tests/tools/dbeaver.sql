-- Queries DBeaver's PostgreSQL plugin sends on connect and while browsing, replayed through
-- pgjdbc (ToolQueries.java) as DBeaver runs them. Sources are the plugin's model classes in
-- dbeaver/dbeaver plugins/org.jkiss.dbeaver.ext.postgresql (recalled, not byte-checked).
-- Format: see grafana.sql.

-- source: PostgreDataSource, session start
-- expect: rows
SELECT current_schema(),session_user;

-- source: PostgreDataSource, server version
-- expect: rows
SELECT version();

-- source: PostgreDatabase list
-- expect: rows
SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datallowconn AND NOT datistemplate ORDER BY db.datname;

-- source: PostgreDatabase, schema list
-- expect: rows
SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass ORDER BY nspname;

-- source: PostgreSchema, tables and views of a schema
-- expect: rows
SELECT c.oid,c.*,d.description FROM pg_catalog.pg_class c LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass WHERE c.relnamespace=(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname='metrics') AND c.relkind not in ('i','I','c');

-- source: PostgreTableBase, columns with types and comments
-- expect: rows
SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description FROM pg_catalog.pg_attribute a INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid) LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum) LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid) WHERE NOT a.attisdropped AND c.relname='revenue_daily' ORDER BY a.attnum;

-- source: PostgreRole list
-- expect: rows
SELECT a.oid,a.* FROM pg_catalog.pg_roles a ORDER BY a.oid;

-- source: PostgreDataSource, settings read on connect
SELECT setting FROM pg_catalog.pg_settings WHERE name='max_index_keys';
