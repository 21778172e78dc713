//! Catalog queries that well-known clients send and DataFusion cannot plan, rewritten into
//! equivalents it can. Each entry names the client and what is lost (nothing a user sees).

use std::borrow::Cow;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{DataType, Expr, Value, visit_expressions_mut};
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
        // Two zipped unnests give the same rows: n = 1.. and x = the key's attnums
        // (`indkey` is an int2vector's text, `'1 2'`).
        "pgjdbc getPrimaryKeys",
        "(information_schema._pg_expandarray(i.indkey)).n",
        "unnest(generate_series(1, CAST(cardinality(string_to_array(i.indkey, ' ')) AS BIGINT)))",
    ),
    (
        "pgjdbc getPrimaryKeys",
        "information_schema._pg_expandarray(i.indkey)",
        "unnest(string_to_array(i.indkey, ' '))",
    ),
    (
        "pgjdbc getPrimaryKeys",
        "(result.KEYS).x",
        "CAST(result.KEYS AS INT)",
    ),
    (
        // Metabase's foreign-key sync matches columns with `attnum = ANY(c.conkey)`; the
        // engine's pg_constraint keeps key columns as text (`[1, 2]`).
        "Metabase describe-fks",
        "ANY(c.conkey)",
        "ANY(CAST(string_to_array(NULLIF(btrim(c.conkey, '[]'), ''), ', ') AS SMALLINT[]))",
    ),
    (
        "Metabase describe-fks",
        "ANY(c.confkey)",
        "ANY(CAST(string_to_array(NULLIF(btrim(c.confkey, '[]'), ''), ', ') AS SMALLINT[]))",
    ),
];

/// `information_schema` relations DataFusion lacks or answers with fewer columns than
/// PostgreSQL, and the engine's views that replace them (engine/core/src/information_schema.rs).
/// Metabase's field sync reads `udt_name` and `is_identity` and joins the constraint views.
const INFORMATION_SCHEMA: &[&str] = &["columns", "table_constraints", "key_column_usage"];

/// `sql` with the known client fragments rewritten.
pub fn rewrite(sql: &str) -> Cow<'_, str> {
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
    if let Cow::Owned(escaped) = rewrite_expressions(&out) {
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
fn rewrite_expressions(sql: &str) -> Cow<'_, str> {
    if !contains_ignore_case(sql, "escape") && !contains_ignore_case(sql, "regclass") {
        return Cow::Borrowed(sql);
    }
    let Ok(mut statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return Cow::Borrowed(sql);
    };
    let mut changed = false;
    for statement in &mut statements {
        let _ = visit_expressions_mut(statement, |expr| {
            changed |= rewrite_expression(expr);
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

/// Rewrites one expression in place if it needs it (see [`rewrite_expressions`]); says whether
/// it did.
fn rewrite_expression(expr: &mut Expr) -> bool {
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
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psql_reloptions_become_empty() {
        let sql = format!(
            "SELECT c.relkind, {}\nFROM pg_catalog.pg_class c",
            REWRITES[0].1
        );
        assert_eq!(
            rewrite(&sql),
            "SELECT c.relkind, ''\nFROM pg_catalog.pg_class c"
        );
        assert!(matches!(rewrite("SELECT 1"), Cow::Borrowed(_)));
    }

    #[test]
    fn system_catalog_regclass_casts_become_their_oids() {
        assert_eq!(
            rewrite("d.classoid = 'pg_class'::regclass AND x = 'pg_catalog.pg_type'::regclass"),
            "d.classoid = 1259 AND x = 1247"
        );
        assert_eq!(rewrite("'bookings'::regclass"), "'bookings'::regclass");
    }

    #[test]
    fn pgjdbc_primary_keys_expand_without_composite_access() {
        let sql = "SELECT (information_schema._pg_expandarray(i.indkey)).n AS KEY_SEQ, \
                   information_schema._pg_expandarray(i.indkey) AS KEYS FROM x \
                   ) result where result.A_ATTNUM = (result.KEYS).x";
        let out = rewrite(sql);
        assert!(!out.contains("_pg_expandarray"), "{out}");
        assert!(
            out.contains("unnest(string_to_array(i.indkey, ' ')) AS KEYS"),
            "{out}"
        );
        assert!(
            out.ends_with("result.A_ATTNUM = CAST(result.KEYS AS INT)"),
            "{out}"
        );
    }

    #[test]
    fn like_with_another_escape_character_uses_like_escape() {
        let out =
            rewrite("SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE $1 || '%' ESCAPE '/'");
        assert_eq!(
            out,
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE like_escape($1 || '%', '/')"
        );
        let plain = "SELECT 1 WHERE 'a' LIKE 'a\\_' ESCAPE '\\'";
        assert_eq!(rewrite(plain), plain);
    }

    #[test]
    fn casts_of_computed_names_to_regclass_use_to_regclass() {
        let out = rewrite(
            "SELECT col_description(CAST(CAST(FORMAT('%I.%I', s, t) AS REGCLASS) AS OID), 1) FROM x",
        );
        assert_eq!(
            out,
            "SELECT col_description(CAST(to_regclass(FORMAT('%I.%I', s, t)) AS OID), 1) FROM x"
        );
        let literal = "SELECT CAST('bookings' AS REGCLASS)";
        assert_eq!(rewrite(literal), literal);
    }
}
