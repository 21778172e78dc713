-- DBeaver (Community 24.2.4, dbeaver/dbeaver commit 2428359b, 2024-10-24) + pgjdbc 42.7.12
-- Connect to database 'spirit' with default settings ("Show all databases" off), then navigator:
-- schema public > Tables > bookings > Columns/Constraints/Indexes, then open the Data tab.
-- Bound parameters (?) are substituted; OIDs 2200/16385 are placeholders for whatever Spirit returns.

-- source: pgjdbc/pgjdbc@REL42.7.12 pgjdbc/src/main/java/org/postgresql/core/v3/ConnectionFactoryImpl.java (runInitialQueries, ~line 1095)
-- connection #1 ("Main <spirit>"). Sent by pgjdbc right after startup because DBeaver leaves assumeMinServerVersion unset;
-- default ApplicationName = DriverInfo.DRIVER_NAME. If the server reports server_version < 12 pgjdbc instead sends the single
-- simple-query string: SET extra_float_digits = 3;SET application_name = 'PostgreSQL JDBC Driver'
SET application_name = 'PostgreSQL JDBC Driver';

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDataSource.java (openConnection -> pgConnection.setClientInfo("ApplicationName", ...)) + pgjdbc/pgjdbc@REL42.7.12 pgjdbc/src/main/java/org/postgresql/jdbc/PgConnection.java (setClientInfo)
-- value = DBUtils.getClientApplicationName(container, context, purpose) = "<product> <major.minor.micro> - <context name>"
SET application_name = 'DBeaver 24.2.4 - Main <spirit>';

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreExecutionContext.java (refreshDefaults)
SELECT current_schema(),session_user;

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDatabase.java (SchemaCache.prepareLookupStatement; called from refreshDefaults "Pre-cache schemas")
-- no schema filter configured (default); with a navigator filter DBeaver appends a WHERE nspname IN/LIKE clause
SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass
 ORDER BY nspname;

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreExecutionContext.java (refreshDefaults, JDBCUtils.queryString)
SHOW search_path;

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDatabase.java (readDatabaseInfo)
-- prepared statement; ? bound to the database name from the connection settings
SELECT db.oid,db.* FROM pg_catalog.pg_database db WHERE datname='spirit';

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDataSource.java (initializeRemoteInstance -> SettingCache.prepareLookupStatement)
-- PostgreConstants.OPTION_STANDARD_CONFORMING_STRINGS; errors are ignored
select * from pg_catalog.pg_settings where name='standard_conforming_strings';

-- source: pgjdbc/pgjdbc@REL42.7.12 pgjdbc/src/main/java/org/postgresql/core/v3/ConnectionFactoryImpl.java (runInitialQueries)
-- connection #2 ("Metadata <spirit>", opened by JDBCRemoteInstance.initializeMetaContext; separate meta connection is the default)
SET application_name = 'PostgreSQL JDBC Driver';

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDataSource.java (openConnection -> setClientInfo)
SET application_name = 'DBeaver 24.2.4 - Metadata <spirit>';

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreExecutionContext.java (refreshDefaults; schema list is already cached, so no pg_namespace query here)
SELECT current_schema(),session_user;

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreExecutionContext.java (refreshDefaults)
SHOW search_path;

-- source: pgjdbc/pgjdbc@REL42.7.12 pgjdbc/src/main/java/org/postgresql/jdbc/PgDatabaseMetaData.java (getSQLKeywords) <- dbeaver plugins/org.jkiss.dbeaver.model.jdbc/.../JDBCSQLDialect.java (loadDriverKeywords via initDriverSettings)
-- issued once per pgjdbc connection, only for server >= 9.0
select string_agg(word, ',') from pg_catalog.pg_get_keywords() where word <> ALL ('{a,abs,absolute,action,ada,add,admin,after,all,allocate,alter,always,and,any,are,array,as,asc,asensitive,assertion,assignment,asymmetric,at,atomic,attribute,attributes,authorization,avg,before,begin,bernoulli,between,bigint,binary,blob,boolean,both,breadth,by,c,call,called,cardinality,cascade,cascaded,case,cast,catalog,catalog_name,ceil,ceiling,chain,char,char_length,character,character_length,character_set_catalog,character_set_name,character_set_schema,characteristics,characters,check,checked,class_origin,clob,close,coalesce,cobol,code_units,collate,collation,collation_catalog,collation_name,collation_schema,collect,column,column_name,command_function,command_function_code,commit,committed,condition,condition_number,connect,connection_name,constraint,constraint_catalog,constraint_name,constraint_schema,constraints,constructors,contains,continue,convert,corr,corresponding,count,covar_pop,covar_samp,create,cross,cube,cume_dist,current,current_collation,current_date,current_default_transform_group,current_path,current_role,current_time,current_timestamp,current_transform_group_for_type,current_user,cursor,cursor_name,cycle,data,date,datetime_interval_code,datetime_interval_precision,day,deallocate,dec,decimal,declare,default,defaults,deferrable,deferred,defined,definer,degree,delete,dense_rank,depth,deref,derived,desc,describe,descriptor,deterministic,diagnostics,disconnect,dispatch,distinct,domain,double,drop,dynamic,dynamic_function,dynamic_function_code,each,element,else,end,end-exec,equals,escape,every,except,exception,exclude,excluding,exec,execute,exists,exp,external,extract,false,fetch,filter,final,first,float,floor,following,for,foreign,fortran,found,free,from,full,function,fusion,g,general,get,global,go,goto,grant,granted,group,grouping,having,hierarchy,hold,hour,identity,immediate,implementation,in,including,increment,indicator,initially,inner,inout,input,insensitive,insert,instance,instantiable,int,integer,intersect,intersection,interval,into,invoker,is,isolation,join,k,key,key_member,key_type,language,large,last,lateral,leading,left,length,level,like,ln,local,localtime,localtimestamp,locator,lower,m,map,match,matched,max,maxvalue,member,merge,message_length,message_octet_length,message_text,method,min,minute,minvalue,mod,modifies,module,month,more,multiset,mumps,name,names,national,natural,nchar,nclob,nesting,new,next,no,none,normalize,normalized,not,"null",nullable,nullif,nulls,number,numeric,object,octet_length,octets,of,old,on,only,open,option,options,or,order,ordering,ordinality,others,out,outer,output,over,overlaps,overlay,overriding,pad,parameter,parameter_mode,parameter_name,parameter_ordinal_position,parameter_specific_catalog,parameter_specific_name,parameter_specific_schema,partial,partition,pascal,path,percent_rank,percentile_cont,percentile_disc,placing,pli,position,power,preceding,precision,prepare,preserve,primary,prior,privileges,procedure,public,range,rank,read,reads,real,recursive,ref,references,referencing,regr_avgx,regr_avgy,regr_count,regr_intercept,regr_r2,regr_slope,regr_sxx,regr_sxy,regr_syy,relative,release,repeatable,restart,result,return,returned_cardinality,returned_length,returned_octet_length,returned_sqlstate,returns,revoke,right,role,rollback,rollup,routine,routine_catalog,routine_name,routine_schema,row,row_count,row_number,rows,savepoint,scale,schema,schema_name,scope_catalog,scope_name,scope_schema,scroll,search,second,section,security,select,self,sensitive,sequence,serializable,server_name,session,session_user,set,sets,similar,simple,size,smallint,some,source,space,specific,specific_name,specifictype,sql,sqlexception,sqlstate,sqlwarning,sqrt,start,state,statement,static,stddev_pop,stddev_samp,structure,style,subclass_origin,submultiset,substring,sum,symmetric,system,system_user,table,table_name,tablesample,temporary,then,ties,time,timestamp,timezone_hour,timezone_minute,to,top_level_count,trailing,transaction,transaction_active,transactions_committed,transactions_rolled_back,transform,transforms,translate,translation,treat,trigger,trigger_catalog,trigger_name,trigger_schema,trim,true,type,uescape,unbounded,uncommitted,under,union,unique,unknown,unnamed,unnest,update,upper,usage,user,user_defined_type_catalog,user_defined_type_code,user_defined_type_name,user_defined_type_schema,using,value,values,var_pop,var_samp,varchar,varying,view,when,whenever,where,width_bucket,window,with,within,without,work,write,year,zone}'::text[]);

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDataSource.java (initialize)
SELECT version();

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/PostgreUtils.java (isMetaObjectExists / getQueryForSystemColumnChecking) <- PostgreDataSource.initialize
-- only when server version >= 12 (from pgjdbc getDatabaseMajorVersion, i.e. the server_version ParameterStatus); failure => enums disabled
SELECT * FROM pg_catalog.pg_enum WHERE 1<>1 LIMIT 1;

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/PostgreUtils.java (isMetaObjectExists) <- PostgreDataSource.initialize
SELECT reltype FROM pg_catalog.pg_class WHERE 1<>1 LIMIT 1;

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDatabase.java (cacheDataTypes) + PostgreDataTypeCache.getBaseTypeNameClause
-- default ("read all data types" off); server >= 10 so typcategory support is assumed without a probe query
SELECT t.oid,t.*,c.relkind,format_type(nullif(t.typbasetype, 0), t.typtypmod) as base_type_name, d.description
FROM pg_catalog.pg_type t
LEFT OUTER JOIN pg_catalog.pg_type et ON et.oid=t.typelem 
LEFT OUTER JOIN pg_catalog.pg_class c ON c.oid=t.typrelid
LEFT OUTER JOIN pg_catalog.pg_description d ON t.oid=d.objoid
WHERE t.typname IS NOT NULL
AND (c.relkind IS NULL OR c.relkind = 'c') AND (et.typcategory IS NULL OR et.typcategory <> 'C');

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreDatabase.java (EnumValueCache.prepareObjectsStatement via initEnumTypesCache)
-- only if the pg_enum probe above succeeded; otherwise DBeaver sends: SELECT 1
SELECT * FROM pg_catalog.pg_enum;

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreSchema.java (TableCache.prepareLookupStatement, object == null)
-- navigator: expand schema 'public' > Tables. ? = oid of schema public (2200 in stock PostgreSQL). Server >= 10 adds partition columns.
-- Same query with the oid of 'metrics' lists the views (relkind 'v') of that schema.
SELECT c.oid,c.*,d.description,pg_catalog.pg_get_expr(c.relpartbound, c.oid) as partition_expr,  pg_catalog.pg_get_partkeydef(c.oid) as partition_key 
FROM pg_catalog.pg_class c
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_class'::regclass
WHERE c.relnamespace=2200 AND c.relkind not in ('i','I','c');

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreSchema.java (TableCache.prepareChildrenStatement, forTable != null, supportsSequences = true)
-- navigator: expand table bookings > Columns (also done before reading table data). ? = pg_class.oid of public.bookings.
-- Schema-wide variant (SQL-editor autocomplete, cacheStructure) ends with: AND c.relnamespace=<schema oid>
SELECT c.relname,a.*,pg_catalog.pg_get_expr(ad.adbin, ad.adrelid, true) as def_value,dsc.description,dep.objid
FROM pg_catalog.pg_attribute a
INNER JOIN pg_catalog.pg_class c ON (a.attrelid=c.oid)
LEFT OUTER JOIN pg_catalog.pg_attrdef ad ON (a.attrelid=ad.adrelid AND a.attnum = ad.adnum)
LEFT OUTER JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)
LEFT OUTER JOIN pg_depend dep on dep.refobjid = a.attrelid AND dep.deptype = 'i' and dep.refobjsubid = a.attnum and dep.classid = dep.refclassid
WHERE NOT a.attisdropped AND c.relkind not in ('i','I','c') AND c.oid=16385
ORDER BY a.attnum;

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreSchema.java (ConstraintCache.prepareObjectsStatement, forParent = table)
-- navigator: table > Constraints / Foreign Keys, and the data editor's unique-key lookup
SELECT c.oid,c.*,t.relname as tabrelname,rt.relnamespace as refnamespace,d.description, case when c.contype='c' then "substring"(pg_get_constraintdef(c.oid), 7) else null end consrc_copy
FROM pg_catalog.pg_constraint c
INNER JOIN pg_catalog.pg_class t ON t.oid=c.conrelid
LEFT OUTER JOIN pg_catalog.pg_class rt ON rt.oid=c.confrelid
LEFT OUTER JOIN pg_catalog.pg_description d ON d.objoid=c.oid AND d.objsubid=0 AND d.classoid='pg_constraint'::regclass
WHERE c.conrelid=16385
ORDER BY c.oid;

-- source: dbeaver/dbeaver@2428359b748778a5a345432906ab3da69289c20c plugins/org.jkiss.dbeaver.ext.postgresql/src/org/jkiss/dbeaver/ext/postgresql/model/PostgreSchema.java (IndexCache.prepareObjectsStatement, forTable != null)
-- navigator: table > Indexes (and unique-key lookup for the data editor)
SELECT i.*,i.indkey as keys,c.relname,c.relnamespace,c.relam,c.reltablespace,tc.relname as tabrelname,dsc.description,pg_catalog.pg_get_expr(i.indpred, i.indrelid) as pred_expr,pg_catalog.pg_get_expr(i.indexprs, i.indrelid, true) as expr,pg_catalog.pg_relation_size(i.indexrelid) as index_rel_size,pg_catalog.pg_stat_get_numscans(i.indexrelid) as index_num_scans
FROM pg_catalog.pg_index i
INNER JOIN pg_catalog.pg_class c ON c.oid=i.indexrelid
INNER JOIN pg_catalog.pg_class tc ON tc.oid=i.indrelid
LEFT OUTER JOIN pg_catalog.pg_description dsc ON i.indexrelid=dsc.objoid
WHERE  i.indrelid=16385 ORDER BY c.relname;

-- source: dbeaver/dbeaver@2428359b plugins/org.jkiss.dbeaver.model.jdbc/src/org/jkiss/dbeaver/model/impl/jdbc/struct/JDBCTable.java (readData; DEFAULT_TABLE_ALIAS = "x")
-- open table > Data tab. The viewer always passes a (possibly empty) DBDDataFilter, so needAliasInSelect() is true.
-- Row limit (200 by default) is applied with JDBC setMaxRows, not in SQL (resultset.maxrows.sql defaults to false);
-- with that preference on, QueryTransformerLimit(false, true) would make it "SELECT x.* FROM public.bookings x\nLIMIT 200".
SELECT x.* FROM public.bookings x;

-- source: pgjdbc/pgjdbc@REL42.7.12 pgjdbc/src/main/java/org/postgresql/jdbc/PgResultSetMetaData.java (fetchFieldMetaData) <- DBeaver JDBC result-set metadata (isNullable/isAutoIncrement/getBaseColumnName)
-- only sent when the RowDescription of the previous SELECT carries a non-zero table OID; the (oid, attnum) list is built from
-- the RowDescription (here 4 columns of table oid 16385). Not sent when every field has table OID 0.
SELECT c.oid, a.attnum, a.attname, c.relname, n.nspname, a.attnotnull OR (t.typtype = 'd' AND t.typnotnull), a.attidentity != '' OR pg_catalog.pg_get_expr(d.adbin, d.adrelid) LIKE '%nextval(%' FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON (c.relnamespace = n.oid) JOIN pg_catalog.pg_attribute a ON (c.oid = a.attrelid) JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid) LEFT JOIN pg_catalog.pg_attrdef d ON (d.adrelid = a.attrelid AND d.adnum = a.attnum) JOIN (SELECT 16385 AS oid , 1 AS attnum UNION ALL SELECT 16385, 2 UNION ALL SELECT 16385, 3 UNION ALL SELECT 16385, 4) vals ON (c.oid = vals.oid AND a.attnum = vals.attnum) where c.oid in (16385);
