//! Catalog queries that well-known clients send and DataFusion cannot plan, rewritten into
//! equivalents it can. Each entry names the client and what is lost (nothing a user sees).

use std::borrow::Cow;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{Expr, Value, visit_expressions_mut};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

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
];

/// PostgreSQL's fixed OIDs of the system catalogs that `pg_description.classoid` and
/// `pg_depend.classid` point at. pgjdbc (so Metabase and DBeaver) joins descriptions with
/// `d.classoid = 'pg_class'::regclass`; DataFusion resolves `::regclass` in the current schema
/// only, where pg_catalog's tables are not, so the cast is replaced by the OID PostgreSQL uses.
const CATALOG_OIDS: &[(&str, &str)] = &[
    ("pg_class", "1259"),
    ("pg_namespace", "2615"),
    ("pg_proc", "1255"),
    ("pg_type", "1247"),
    ("pg_constraint", "2606"),
    ("pg_attribute", "1249"),
];

/// `sql` with the known client fragments rewritten.
pub fn rewrite(sql: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(sql);
    for (_, fragment, replacement) in REWRITES {
        if out.contains(fragment) {
            out = Cow::Owned(out.replace(fragment, replacement));
        }
    }
    if let Cow::Owned(escaped) = like_escape(&out) {
        out = Cow::Owned(escaped);
    }
    if out.contains("::regclass") {
        for (name, oid) in CATALOG_OIDS {
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

/// `LIKE pattern ESCAPE 'c'` with an escape character other than backslash, which DataFusion
/// refuses, as `LIKE like_escape(pattern, 'c')`: PostgreSQL's own `like_escape()` turns the
/// pattern into one escaped with backslashes. SQLAlchemy's inspector escapes with `/`.
fn like_escape(sql: &str) -> Cow<'_, str> {
    if !sql.to_ascii_uppercase().contains("ESCAPE") {
        return Cow::Borrowed(sql);
    }
    let Ok(mut statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return Cow::Borrowed(sql);
    };
    let mut changed = false;
    for statement in &mut statements {
        let _ = visit_expressions_mut(statement, |expr| {
            if let Expr::Like {
                pattern,
                escape_char,
                ..
            }
            | Expr::ILike {
                pattern,
                escape_char,
                ..
            } = expr
                && let Some(escape) = escape_char
                && let Value::SingleQuotedString(c) = &escape.value
                && c != "\\"
                && let Ok(escaped) = Parser::new(&PostgreSqlDialect {})
                    .try_with_sql(&format!(
                        "like_escape({pattern}, '{}')",
                        c.replace('\'', "''")
                    ))
                    .and_then(|mut p| p.parse_expr())
            {
                **pattern = escaped;
                *escape_char = None;
                changed = true;
            }
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
}
