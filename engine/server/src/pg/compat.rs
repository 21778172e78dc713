//! Catalog queries that well-known clients send and DataFusion cannot plan, rewritten into
//! equivalents it can. Each entry names the client and what is lost (nothing a user sees).

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName, SelectItem,
    Value, visit_expressions_mut, visit_relations_mut, visit_statements_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use spirit_core::descriptions::SYSTEM_CATALOG_OIDS;

/// `(client, fragment sent, replacement)`.
const REWRITES: &[(&str, &str, &str)] = &[
    (
        // psql's `\d+`: storage options of the table and its TOAST table. The engine has none,
        // and `array(subquery)` does not plan in DataFusion.
        "psql \\d+",
        "pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x), ', ')",
        "''",
    ),
    (
        // psql's `\d` on a table with foreign keys (PostgreSQL 13 and later): the parent of
        // each trigger of a partition, through a correlated table function DataFusion cannot
        // plan. pg_trigger has no rows; psql sends `NULL AS parent` to older servers.
        "psql \\d",
        "  CASE WHEN t.tgparentid != 0 THEN
    (SELECT u.tgrelid::pg_catalog.regclass
     FROM pg_catalog.pg_trigger AS u,
          pg_catalog.pg_partition_ancestors(t.tgrelid) WITH ORDINALITY AS a(relid, depth)
     WHERE u.tgname = t.tgname AND u.tgrelid = a.relid
           AND u.tgparentid = 0
     ORDER BY a.depth LIMIT 1)
  END AS parent",
        "  NULL AS parent",
    ),
    (
        // pgjdbc's `DatabaseMetaData.getTypeInfo`: types that are not composite. DataFusion
        // refuses a correlated scalar subquery that is not aggregated; in a WHERE clause the
        // EXISTS form keeps exactly the same rows.
        "pgjdbc getTypeInfo",
        "(SELECT c.relkind = 'c' FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid)",
        "EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c')",
    ),
    (
        // pgjdbc's type cache asks whether a type is an array by its input function. The
        // engine's pg_type keeps function names as text, so the name is compared as text
        // (a regproc cast would turn every name into a number).
        "pgjdbc TypeInfoCache",
        "typinput='pg_catalog.array_in'::regproc",
        "typinput='array_in'",
    ),
    (
        "pgjdbc TypeInfoCache",
        "typinput='array_in'::regproc",
        "typinput='array_in'",
    ),
    (
        // pgjdbc's `DatabaseMetaData.getPrimaryKeys` (which Metabase's sync calls) expands each
        // index's key columns with `information_schema._pg_expandarray`, a set-returning
        // function whose (x, n) fields are read with composite access; DataFusion has neither.
        // Two zipped unnests give the same rows: n = 1.. and x = the key's attnums.
        "pgjdbc getPrimaryKeys",
        "(information_schema._pg_expandarray(i.indkey)).n",
        "unnest(generate_series(1, CAST(cardinality(i.indkey) AS BIGINT)))",
    ),
    (
        "pgjdbc getPrimaryKeys",
        "information_schema._pg_expandarray(i.indkey)",
        "unnest(i.indkey)",
    ),
    (
        "pgjdbc getPrimaryKeys",
        "(result.KEYS).x",
        "CAST(result.KEYS AS INT)",
    ),
];

/// `information_schema` relations DataFusion lacks or answers with fewer columns than
/// PostgreSQL, and the engine's views that replace them (engine/core/src/information_schema.rs).
/// Metabase's field sync reads `udt_name` and `is_identity` and joins the constraint views.
const INFORMATION_SCHEMA: &[&str] = &["columns", "table_constraints", "key_column_usage"];

/// Settings a session may change with `SET` (datafusion-postgres keeps them in the connection's
/// metadata, as do the start-up parameters), which `current_setting()` reports for that session.
const SESSION_SETTINGS: &[&str] = &[
    "application_name",
    "bytea_output",
    "client_encoding",
    "datestyle",
    "extra_float_digits",
    "intervalstyle",
    "search_path",
    "timezone",
];

/// What a statement may ask about its own session: the login user and the settings it changed.
/// One DataFusion context serves every connection, so these are substituted into the
/// statement's text.
#[derive(Clone, Copy)]
pub struct Session<'a> {
    metadata: &'a HashMap<String, String>,
}

impl<'a> Session<'a> {
    /// The session a connection's metadata describes.
    pub fn new(metadata: &'a HashMap<String, String>) -> Self {
        Self { metadata }
    }

    fn user(&self) -> Option<&'a str> {
        self.metadata.get("user").map(String::as_str)
    }

    /// The session's value of the setting `name`, when it set or sent one.
    fn setting(&self, name: &str) -> Option<String> {
        let name = name.to_ascii_lowercase();
        if name == "statement_timeout" {
            let millis: u64 = self.metadata.get("statement_timeout_ms")?.parse().ok()?;
            return Some(if millis == 0 {
                "0".to_string()
            } else {
                format!("{millis}ms")
            });
        }
        if !SESSION_SETTINGS.contains(&name.as_str()) {
            return None;
        }
        self.metadata
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(&name))
            .map(|(_, value)| value.clone())
    }
}

/// The session settings `sql` changes with `set_config('name', 'value', is_local)` called with
/// constants; the caller applies them to the session before the statement runs (the function
/// itself only answers the value).
pub fn set_config_calls(sql: &str) -> Vec<(String, String)> {
    if !contains_ignore_case(sql, "set_config") {
        return Vec::new();
    }
    let Ok(statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return Vec::new();
    };
    let mut calls = Vec::new();
    for statement in &statements {
        let _ = datafusion::sql::sqlparser::ast::visit_expressions(statement, |expr| {
            if let Expr::Function(function) = expr
                && function
                    .name
                    .to_string()
                    .to_ascii_lowercase()
                    .ends_with("set_config")
                && let FunctionArguments::List(list) = &function.args
                && let [name, value, _] = list.args.as_slice()
                && let (Some(name), Some(value)) = (string_argument(name), string_argument(value))
                && SESSION_SETTINGS.contains(&name.to_ascii_lowercase().as_str())
            {
                calls.push((name.to_ascii_lowercase(), value));
            }
            ControlFlow::<()>::Continue(())
        });
    }
    calls
}

/// The text of a string-constant function argument.
fn string_argument(arg: &FunctionArg) -> Option<String> {
    match arg {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v))) => match &v.value {
            Value::SingleQuotedString(text) => Some(text.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// `sql` with the known client fragments rewritten.
pub fn rewrite<'s>(sql: &'s str, session: Session<'_>) -> Cow<'s, str> {
    let mut out = Cow::Borrowed(sql);
    for (_, fragment, replacement) in REWRITES {
        if out.contains(fragment) {
            out = Cow::Owned(out.replace(fragment, replacement));
        }
    }
    if contains_ignore_case(&out, "information_schema") {
        for name in INFORMATION_SCHEMA {
            let target = format!("pg_catalog.information_schema_{name}");
            for source in [
                format!("information_schema.{name}"),
                format!("\"information_schema\".\"{name}\""),
                format!("INFORMATION_SCHEMA.{}", name.to_uppercase()),
            ] {
                if out.contains(&source) {
                    out = Cow::Owned(out.replace(&source, &target));
                }
            }
        }
    }
    if let Cow::Owned(escaped) = rewrite_expressions(&out, session) {
        out = Cow::Owned(escaped);
    }
    // pgjdbc (so Metabase and DBeaver) joins descriptions with `d.classoid =
    // 'pg_class'::regclass`; DataFusion resolves `::regclass` in the current schema only, where
    // pg_catalog's tables are not, so the cast becomes the OID PostgreSQL uses.
    if out.contains("::regclass") {
        for (name, oid) in SYSTEM_CATALOG_OIDS {
            for cast in [
                format!("'{name}'::regclass"),
                format!("'pg_catalog.{name}'::regclass"),
            ] {
                if out.contains(&cast) {
                    out = Cow::Owned(out.replace(&cast, oid));
                }
            }
        }
    }
    out
}

/// Expressions DataFusion cannot plan, rewritten on the parsed statement (only when the text
/// mentions them):
/// - `LIKE pattern ESCAPE 'c'` with an escape character other than backslash, which DataFusion
///   refuses, becomes `LIKE like_escape(pattern, 'c')`: PostgreSQL's own `like_escape()` turns
///   the pattern into one escaped with backslashes. SQLAlchemy's inspector escapes with `/`.
/// - `CAST(expr AS regclass)` of anything but a literal (Metabase's field sync casts
///   `format('%I.%I', schema, table)`) becomes `to_regclass(expr)`; datafusion-pg-catalog
///   resolves literal casts itself.
/// - `current_user` and `session_user` (datafusion-pg-catalog answers `postgres`) become the
///   session's login user, and `current_setting('name')` the value the session set, if it set
///   one. In a select list they keep the column name PostgreSQL gives them.
/// - `pg_user` without a schema becomes `pg_catalog.pg_user`.
/// - `generate_subscripts(array, dim)`, which DataFusion lacks, becomes an unnest of
///   `generate_series` over the array's length (SQLAlchemy pairs it with `unnest(indkey)`).
/// - A scalar subquery reading only `pg_attrdef` or `pg_sequence` becomes NULL: neither has a
///   row (no column default or sequence is in the catalog), and DataFusion cannot plan the
///   correlated, unaggregated form SQLAlchemy's column reflection sends.
fn rewrite_expressions<'s>(sql: &'s str, session: Session<'_>) -> Cow<'s, str> {
    let triggers = [
        "escape",
        "regclass",
        "current_user",
        "session_user",
        "current_setting",
        "pg_user",
        "pg_attrdef",
        "pg_sequence",
        "(select",
        "generate_subscripts",
    ];
    if !triggers.iter().any(|t| contains_ignore_case(sql, t)) {
        return Cow::Borrowed(sql);
    }
    let Ok(mut statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return Cow::Borrowed(sql);
    };
    let mut changed = false;
    for statement in &mut statements {
        let _ = visit_relations_mut(statement, |name| {
            changed |= qualify_catalog_view(name);
            ControlFlow::<()>::Continue(())
        });
        let _ = visit_statements_mut(statement, |statement| {
            if let datafusion::sql::sqlparser::ast::Statement::Query(query) = statement {
                changed |= name_session_columns(query);
            }
            ControlFlow::<()>::Continue(())
        });
        let _ = visit_expressions_mut(statement, |expr| {
            changed |= rewrite_expression(expr, session);
            ControlFlow::<()>::Continue(())
        });
    }
    if !changed {
        return Cow::Borrowed(sql);
    }
    Cow::Owned(
        statements
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// Whether `haystack` contains `needle` in any ASCII case, without copying the statement (this
/// runs for every statement).
fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Whether `expr` is a constant datafusion-pg-catalog resolves in a `regclass` cast itself (a
/// bound parameter is not: SQLAlchemy sends `CAST($1 AS REGCLASS)`).
fn is_literal(expr: &Expr) -> bool {
    matches!(expr, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_) | Value::Number(..)))
}

/// Catalogs that never have a row in the engine.
const EMPTY_CATALOGS: &[&str] = &["pg_attrdef", "pg_sequence"];

/// Whether `query` is a plain `SELECT … FROM` one of [`EMPTY_CATALOGS`], without joins.
fn reads_only_empty_catalog(query: &datafusion::sql::sqlparser::ast::Query) -> bool {
    use datafusion::sql::sqlparser::ast::{SetExpr, TableFactor};
    let SetExpr::Select(select) = query.body.as_ref() else {
        return false;
    };
    let [from] = select.from.as_slice() else {
        return false;
    };
    let TableFactor::Table { name, .. } = &from.relation else {
        return false;
    };
    from.joins.is_empty()
        && name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .is_some_and(|i| {
                EMPTY_CATALOGS
                    .iter()
                    .any(|c| i.value.eq_ignore_ascii_case(c))
            })
}

/// Turns `(SELECT x FROM pg_catalog.t WHERE …)` into `(SELECT max(x) FROM …)`: DataFusion only
/// plans correlated scalar subqueries that aggregate, and a catalog lookup by OID finds one
/// row at most (SQLAlchemy's column reflection reads `pg_type.typcollation` and
/// `pg_collation.collname` this way). Only subqueries over one pg_catalog relation change.
fn aggregate_catalog_lookup(query: &mut datafusion::sql::sqlparser::ast::Query) -> bool {
    use datafusion::sql::sqlparser::ast::{GroupByExpr, SetExpr, TableFactor};
    if query.limit_clause.is_some() || query.order_by.is_some() {
        return false;
    }
    let SetExpr::Select(select) = query.body.as_mut() else {
        return false;
    };
    let [from] = select.from.as_slice() else {
        return false;
    };
    let TableFactor::Table {
        name, args: None, ..
    } = &from.relation
    else {
        return false;
    };
    let in_catalog = match name.0.as_slice() {
        [schema, _] => schema
            .as_ident()
            .is_some_and(|i| i.value.eq_ignore_ascii_case("pg_catalog")),
        [table] => table
            .as_ident()
            .is_some_and(|i| i.value.to_ascii_lowercase().starts_with("pg_")),
        _ => false,
    };
    let grouped = !matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty());
    if !in_catalog || !from.joins.is_empty() || grouped || select.distinct.is_some() {
        return false;
    }
    let [item] = select.projection.as_mut_slice() else {
        return false;
    };
    let (SelectItem::UnnamedExpr(inner) | SelectItem::ExprWithAlias { expr: inner, .. }) = item
    else {
        return false;
    };
    if matches!(inner, Expr::Function(_)) {
        // Possibly an aggregate already; nothing SQLAlchemy or pgjdbc sends needs it.
        return false;
    }
    let Ok(wrapped) = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&format!("max({inner})"))
        .and_then(|mut p| p.parse_expr())
    else {
        return false;
    };
    *inner = wrapped;
    true
}

/// A NULL that still mentions the bound parameters of `query` (with their casts, which type
/// them): the statement's parameters are numbered, and each must stay in the plan.
fn null_keeping_placeholders(query: &datafusion::sql::sqlparser::ast::Query) -> String {
    let mut names: Vec<String> = Vec::new();
    let mut placeholders: Vec<String> = Vec::new();
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(query, |expr| {
        let (placeholder, cast) = match expr {
            Expr::Cast {
                expr: inner,
                data_type,
                ..
            } => match inner.as_ref() {
                Expr::Value(v) => (&v.value, Some(data_type)),
                _ => return ControlFlow::<()>::Continue(()),
            },
            Expr::Value(v) => (&v.value, None),
            _ => return ControlFlow::Continue(()),
        };
        if let Value::Placeholder(name) = placeholder {
            let text = match cast {
                Some(data_type) => format!("CAST({name} AS {data_type})"),
                None => name.clone(),
            };
            // A cast is visited before the placeholder inside it.
            if !names.contains(name) {
                names.push(name.clone());
                placeholders.push(text);
            }
        }
        ControlFlow::Continue(())
    });
    if placeholders.is_empty() {
        return "NULL".to_string();
    }
    let checks: Vec<String> = placeholders
        .iter()
        .map(|p| format!("{p} IS NULL"))
        .collect();
    format!("CASE WHEN false AND {} THEN NULL END", checks.join(" AND "))
}

/// Qualifies `pg_user`, which PostgreSQL finds through the search path's implicit `pg_catalog`
/// and datafusion-pg-catalog does not (its list of such names is fixed).
fn qualify_catalog_view(name: &mut ObjectName) -> bool {
    let [part] = name.0.as_slice() else {
        return false;
    };
    if !part
        .as_ident()
        .is_some_and(|i| i.quote_style.is_none() && i.value.eq_ignore_ascii_case("pg_user"))
    {
        return false;
    }
    *name = ObjectName::from(vec![Ident::new("pg_catalog"), Ident::new("pg_user")]);
    true
}

/// The name of the session function `expr` calls without arguments (`current_user`,
/// `session_user`), or of `current_setting` called with a literal name.
fn session_function(expr: &Expr) -> Option<(String, Option<String>)> {
    let Expr::Function(function) = expr else {
        return None;
    };
    let name = function.name.to_string().to_ascii_lowercase();
    match (&function.args, name.as_str()) {
        (FunctionArguments::None, "current_user" | "session_user") => Some((name, None)),
        (FunctionArguments::List(list), "current_setting" | "pg_catalog.current_setting") => {
            let setting = string_argument(list.args.first()?)?;
            Some(("current_setting".to_string(), Some(setting)))
        }
        _ => None,
    }
}

/// Gives session functions in select lists the column name PostgreSQL gives them, before
/// [`rewrite_expression`] turns them into literals (which DataFusion would name after the
/// value).
fn name_session_columns(query: &mut datafusion::sql::sqlparser::ast::Query) -> bool {
    let datafusion::sql::sqlparser::ast::SetExpr::Select(select) = query.body.as_mut() else {
        return false;
    };
    let mut changed = false;
    // DataFusion wants distinct column names (PostgreSQL does not): only the first call of a
    // kind takes the name.
    let mut named: Vec<String> = Vec::new();
    for item in &mut select.projection {
        if let SelectItem::UnnamedExpr(expr) = item
            && let Some((name, _)) = session_function(expr)
            && !named.contains(&name)
        {
            named.push(name.clone());
            *item = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias: Ident::new(name),
            };
            changed = true;
        }
    }
    changed
}

/// Rewrites one expression in place if it needs it (see [`rewrite_expressions`]); says whether
/// it did.
fn rewrite_expression(expr: &mut Expr, session: Session<'_>) -> bool {
    let parse = |text: String| {
        Parser::new(&PostgreSqlDialect {})
            .try_with_sql(&text)
            .and_then(|mut p| p.parse_expr())
            .ok()
    };
    match expr {
        Expr::Like {
            pattern,
            escape_char,
            ..
        }
        | Expr::ILike {
            pattern,
            escape_char,
            ..
        } => {
            let Some(escape) = escape_char else {
                return false;
            };
            let Value::SingleQuotedString(c) = &escape.value else {
                return false;
            };
            if c == "\\" {
                return false;
            }
            let Some(escaped) = parse(format!(
                "like_escape({pattern}, '{}')",
                c.replace('\'', "''")
            )) else {
                return false;
            };
            **pattern = escaped;
            *escape_char = None;
            true
        }
        Expr::Cast {
            expr: inner,
            data_type: DataType::Regclass,
            ..
        } if !is_literal(inner) => match parse(format!("to_regclass({inner})")) {
            Some(call) => {
                *expr = call;
                true
            }
            None => false,
        },
        Expr::Subquery(query) if reads_only_empty_catalog(query) => {
            match parse(null_keeping_placeholders(query)) {
                Some(null) => {
                    *expr = null;
                    true
                }
                None => false,
            }
        }
        Expr::Subquery(query) => aggregate_catalog_lookup(query),
        Expr::Function(function)
            if function
                .name
                .to_string()
                .eq_ignore_ascii_case("generate_subscripts") =>
        {
            let FunctionArguments::List(list) = &function.args else {
                return false;
            };
            let [array, dimension] = list.args.as_slice() else {
                return false;
            };
            // One-dimensional arrays only (all the catalog has): 1..n for dimension 1, and no
            // rows for another; the dimension stays in the statement (it may be a parameter).
            match parse(format!(
                "unnest(generate_series(1, CASE WHEN {dimension} = 1 THEN CAST(cardinality({array}) AS BIGINT) ELSE 0 END))"
            )) {
                Some(call) => {
                    *expr = call;
                    true
                }
                None => false,
            }
        }
        Expr::Function(_) => {
            let value = match session_function(expr) {
                Some((_, Some(setting))) => session.setting(&setting),
                Some((_, None)) => session.user().map(str::to_string),
                None => None,
            };
            match value {
                Some(value) => {
                    *expr = Expr::Value(Value::SingleQuotedString(value).into());
                    true
                }
                None => false,
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite_plain(sql: &str) -> Cow<'_, str> {
        rewrite(sql, Session::new(&HashMap::new()))
    }

    #[test]
    fn subqueries_over_empty_catalogs_become_null() {
        assert_eq!(
            rewrite_plain(
                "SELECT a.attname, (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_catalog.pg_attrdef d \
                 WHERE d.adrelid = a.attrelid) AS \"default\" FROM pg_attribute a"
            ),
            "SELECT a.attname, NULL AS \"default\" FROM pg_attribute a"
        );
        assert_eq!(
            rewrite_plain(
                "SELECT (SELECT 1 FROM pg_sequence WHERE a.x != $2::VARCHAR AND seqrelid = $3) AS i, \
                 a.y FROM t AS a WHERE a.z = $4"
            ),
            "SELECT CASE WHEN false AND CAST($2 AS VARCHAR) IS NULL AND $3 IS NULL THEN NULL END AS i, \
             a.y FROM t AS a WHERE a.z = $4"
        );
    }

    #[test]
    fn correlated_catalog_lookups_are_aggregated() {
        assert_eq!(
            rewrite_plain(
                "SELECT (SELECT t.typcollation FROM pg_catalog.pg_type AS t WHERE t.oid = a.atttypid) FROM pg_attribute AS a"
            ),
            "SELECT (SELECT max(t.typcollation) FROM pg_catalog.pg_type AS t WHERE t.oid = a.atttypid) FROM pg_attribute AS a"
        );
        let user = "SELECT (SELECT x FROM bookings WHERE id = 1)";
        assert_eq!(rewrite_plain(user), user);
    }

    #[test]
    fn set_config_with_constants_is_applied_to_the_session() {
        assert_eq!(
            set_config_calls("SELECT set_config('search_path', 'metrics, public', false)"),
            vec![("search_path".to_string(), "metrics, public".to_string())]
        );
        assert!(set_config_calls("SELECT set_config('no_such', 'x', false)").is_empty());
        assert!(set_config_calls("SELECT 1").is_empty());
    }

    #[test]
    fn session_functions_answer_for_the_session() {
        let metadata = HashMap::from([
            ("user".to_string(), "ana".to_string()),
            ("application_name".to_string(), "Metabase".to_string()),
            ("statement_timeout_ms".to_string(), "1500".to_string()),
        ]);
        let session = Session::new(&metadata);
        assert_eq!(
            rewrite(
                "SELECT current_user, session_user AS s, upper(current_user) FROM t",
                session
            ),
            "SELECT 'ana' AS current_user, 'ana' AS s, upper('ana') FROM t"
        );
        assert_eq!(
            rewrite(
                "SELECT current_setting('application_name'), current_setting('statement_timeout'), current_setting('TimeZone')",
                session
            ),
            "SELECT 'Metabase' AS current_setting, '1500ms', current_setting('TimeZone')"
        );
    }

    #[test]
    fn psql_reloptions_become_empty() {
        let sql = format!(
            "SELECT c.relkind, {}\nFROM pg_catalog.pg_class c",
            REWRITES[0].1
        );
        assert_eq!(
            rewrite_plain(&sql),
            "SELECT c.relkind, ''\nFROM pg_catalog.pg_class c"
        );
        assert!(matches!(rewrite_plain("SELECT 1"), Cow::Borrowed(_)));
    }

    #[test]
    fn system_catalog_regclass_casts_become_their_oids() {
        assert_eq!(
            rewrite_plain(
                "d.classoid = 'pg_class'::regclass AND x = 'pg_catalog.pg_type'::regclass"
            ),
            "d.classoid = 1259 AND x = 1247"
        );
        assert_eq!(
            rewrite_plain("'bookings'::regclass"),
            "'bookings'::regclass"
        );
    }

    #[test]
    fn pgjdbc_primary_keys_expand_without_composite_access() {
        let sql = "SELECT (information_schema._pg_expandarray(i.indkey)).n AS KEY_SEQ, \
                   information_schema._pg_expandarray(i.indkey) AS KEYS FROM x \
                   ) result where result.A_ATTNUM = (result.KEYS).x";
        let out = rewrite_plain(sql);
        assert!(!out.contains("_pg_expandarray"), "{out}");
        assert!(out.contains("unnest(i.indkey) AS KEYS"), "{out}");
        assert!(
            out.ends_with("result.A_ATTNUM = CAST(result.KEYS AS INT)"),
            "{out}"
        );
    }

    #[test]
    fn like_with_another_escape_character_uses_like_escape() {
        let out = rewrite_plain(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE $1 || '%' ESCAPE '/'",
        );
        assert_eq!(
            out,
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE like_escape($1 || '%', '/')"
        );
        let plain = "SELECT 1 WHERE 'a' LIKE 'a\\_' ESCAPE '\\'";
        assert_eq!(rewrite_plain(plain), plain);
    }

    #[test]
    fn casts_of_computed_names_to_regclass_use_to_regclass() {
        let out = rewrite_plain(
            "SELECT col_description(CAST(CAST(FORMAT('%I.%I', s, t) AS REGCLASS) AS OID), 1) FROM x",
        );
        assert_eq!(
            out,
            "SELECT col_description(CAST(to_regclass(FORMAT('%I.%I', s, t)) AS OID), 1) FROM x"
        );
        let literal = "SELECT CAST('bookings' AS REGCLASS)";
        assert_eq!(rewrite_plain(literal), literal);
    }
}
