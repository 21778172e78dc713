//! Catalog queries that well-known clients send and DataFusion cannot plan, rewritten into
//! equivalents it can. Each entry names the client and what is lost (nothing a user sees).

use std::borrow::Cow;

/// `(client, fragment sent, replacement)`.
const REWRITES: &[(&str, &str, &str)] = &[(
    // psql's `\d+`: storage options of the table and its TOAST table. The engine has none, and
    // `array(subquery)` does not plan in DataFusion.
    "psql \\d+",
    "pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x), ', ')",
    "''",
)];

/// `sql` with the known client fragments rewritten.
pub fn rewrite(sql: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(sql);
    for (_, fragment, replacement) in REWRITES {
        if out.contains(fragment) {
            out = Cow::Owned(out.replace(fragment, replacement));
        }
    }
    out
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
}
