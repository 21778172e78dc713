//! PostgreSQL functions BI tools call that DataFusion and datafusion-pg-catalog lack or answer
//! differently: `version()` in PostgreSQL's form (tools parse it), `current_setting()`,
//! `format()` with `%s`/`%I`/`%L`, `has_column_privilege()`, `has_function_privilege()` and
//! `pg_get_triggerdef()` (`pg_get_indexdef()` is in [`keys`](crate::keys)).
//!
//! They are evaluated row by row on text values: they run over catalog rows, never over data.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Int32Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::prelude::SessionContext;

/// The PostgreSQL version the engine presents (what its SQL and catalog follow).
pub const SERVER_VERSION: &str = "16.6";
/// `server_version_num` of [`SERVER_VERSION`].
pub const SERVER_VERSION_NUM: &str = "160006";

/// Settings `current_setting()` knows: the values the engine works with, as PostgreSQL names
/// them.
pub const SETTINGS: &[(&str, &str)] = &[
    ("server_version", SERVER_VERSION),
    ("server_version_num", SERVER_VERSION_NUM),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("datestyle", "ISO, MDY"),
    ("intervalstyle", "postgres"),
    ("timezone", "UTC"),
    ("integer_datetimes", "on"),
    ("standard_conforming_strings", "on"),
    ("search_path", "\"$user\", public"),
    ("max_identifier_length", "63"),
    ("max_index_keys", "32"),
    ("max_function_args", "100"),
    ("default_transaction_read_only", "off"),
    ("transaction_read_only", "off"),
    ("transaction_isolation", "read committed"),
    ("default_transaction_isolation", "read committed"),
    ("lc_collate", "C.UTF-8"),
    ("lc_ctype", "C.UTF-8"),
    ("lc_messages", "C.UTF-8"),
    ("lc_monetary", "C.UTF-8"),
    ("lc_numeric", "C.UTF-8"),
    ("lc_time", "C.UTF-8"),
    ("block_size", "8192"),
    ("statement_timeout", "0"),
    ("application_name", ""),
    ("extra_float_digits", "1"),
    ("bytea_output", "hex"),
];

/// Registers the functions in `ctx`, replacing DataFusion's `version()`.
pub fn install(ctx: &SessionContext) {
    let text = DataType::Utf8;
    for function in [
        RowFunction::new(
            "version",
            Signature::nullary(Volatility::Immutable),
            text.clone(),
            version,
        ),
        RowFunction::new(
            "current_setting",
            Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Utf8]),
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
                ],
                Volatility::Stable,
            ),
            text.clone(),
            current_setting,
        ),
        RowFunction::new(
            "format",
            Signature::variadic_any(Volatility::Immutable),
            text,
            format,
        ),
        RowFunction::new(
            "like_escape",
            Signature::exact(vec![DataType::Utf8, DataType::Utf8], Volatility::Immutable),
            DataType::Utf8,
            like_escape,
        ),
        RowFunction::new(
            "to_regtype",
            Signature::exact(vec![DataType::Utf8], Volatility::Stable),
            DataType::Int32,
            to_regtype,
        ),
        RowFunction::new(
            "has_column_privilege",
            Signature::variadic_any(Volatility::Stable),
            DataType::Boolean,
            read_privilege,
        ),
        RowFunction::new(
            "has_function_privilege",
            Signature::variadic_any(Volatility::Stable),
            DataType::Boolean,
            read_privilege,
        ),
        RowFunction::new(
            "pg_type_is_visible",
            Signature::variadic_any(Volatility::Stable),
            DataType::Boolean,
            // Types live in pg_catalog, which is always on the search path.
            |args| Ok(args.first().cloned().flatten().map(|_| "t".to_string())),
        ),
        RowFunction::new(
            "pg_function_is_visible",
            Signature::variadic_any(Volatility::Stable),
            DataType::Boolean,
            |args| Ok(args.first().cloned().flatten().map(|_| "t".to_string())),
        ),
        RowFunction::new(
            "set_config",
            Signature::exact(
                vec![DataType::Utf8, DataType::Utf8, DataType::Boolean],
                Volatility::Volatile,
            ),
            DataType::Utf8,
            // The server applies the setting to the session before the statement runs (its
            // arguments are constants there); the function answers the new value.
            |args| Ok(args.get(1).cloned().flatten()),
        ),
        RowFunction::new(
            "pg_get_triggerdef",
            Signature::variadic_any(Volatility::Stable),
            DataType::Utf8,
            // pg_trigger has no rows (the engine has no triggers; psql asks once it sees
            // foreign keys); PostgreSQL answers NULL for an OID that is not a trigger.
            |_| Ok(None),
        ),
    ] {
        ctx.register_udf(ScalarUDF::new_from_impl(function));
    }
    ctx.register_udtf("pg_partition_ancestors", Arc::new(PartitionAncestors));
}

/// `pg_partition_ancestors(regclass)`: the relation and the partitioned tables above it. No
/// relation is partitioned, so it is the relation alone (psql's `\d` lists foreign keys with
/// it).
#[derive(Debug)]
struct PartitionAncestors;

impl TableFunctionImpl for PartitionAncestors {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let relid = match args.exprs() {
            [Expr::Literal(value, _)] => value
                .cast_to(&DataType::Int32)
                .ok()
                .filter(|v| !v.is_null()),
            _ => None,
        };
        let Some(relid) = relid else {
            return plan_err!(
                "pg_partition_ancestors takes one relation OID, given as a constant, got {:?}",
                args.exprs()
            );
        };
        let schema = Arc::new(Schema::new(vec![Field::new(
            "relid",
            DataType::Int32,
            false,
        )]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![relid.to_array()?])?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}

/// What a row function computes from its arguments as text (NULL as `None`); boolean
/// functions answer `"t"` or `"f"`, integer ones the number.
type RowFn = fn(&[Option<String>]) -> Result<Option<String>>;

/// A scalar function evaluated row by row on text arguments; one per name.
struct RowFunction {
    name: &'static str,
    signature: Signature,
    returns: DataType,
    f: RowFn,
}

impl std::fmt::Debug for RowFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowFunction")
            .field("name", &self.name)
            .finish()
    }
}

impl PartialEq for RowFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for RowFunction {}

impl std::hash::Hash for RowFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl RowFunction {
    fn new(name: &'static str, signature: Signature, returns: DataType, f: RowFn) -> Self {
        Self {
            name,
            signature,
            returns,
            f,
        }
    }
}

impl ScalarUDFImpl for RowFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let texts = arrays
            .iter()
            .map(|a| {
                let utf8 = cast(a, &DataType::Utf8)?;
                Ok(utf8.as_any().downcast_ref::<StringArray>().cloned())
            })
            .collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            let values: Vec<Option<String>> = texts
                .iter()
                .map(|t| {
                    t.as_ref()
                        .filter(|t| !t.is_null(row))
                        .map(|t| t.value(row).to_string())
                })
                .collect();
            out.push((self.f)(&values)?);
        }
        let array: ArrayRef = match self.returns {
            DataType::Boolean => Arc::new(
                out.iter()
                    .map(|v| v.as_deref().map(|v| v == "t"))
                    .collect::<BooleanArray>(),
            ),
            DataType::Int32 => Arc::new(
                out.iter()
                    .map(|v| v.as_deref().and_then(|v| v.parse::<i32>().ok()))
                    .collect::<Int32Array>(),
            ),
            _ => Arc::new(StringArray::from(out)),
        };
        Ok(ColumnarValue::Array(array))
    }
}

fn version(_: &[Option<String>]) -> Result<Option<String>> {
    Ok(Some(format!(
        "PostgreSQL {SERVER_VERSION} (Spirit Analytics {}, Apache DataFusion {}) on {}-linux, \
         64-bit",
        env!("CARGO_PKG_VERSION"),
        datafusion::DATAFUSION_VERSION,
        std::env::consts::ARCH
    )))
}

/// PostgreSQL's `like_escape(pattern, escape)`: the pattern rewritten to use backslash as its
/// escape character (what DataFusion's LIKE understands).
fn like_escape(args: &[Option<String>]) -> Result<Option<String>> {
    let (Some(Some(pattern)), Some(Some(escape))) = (args.first(), args.get(1)) else {
        return Ok(None);
    };
    let mut escape_chars = escape.chars();
    let (Some(escape), None) = (escape_chars.next(), escape_chars.next()) else {
        return exec_err!("invalid escape string: it must be one character");
    };
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == escape {
            match chars.next() {
                Some(next @ ('%' | '_' | '\\')) => {
                    out.push('\\');
                    out.push(next);
                }
                Some(next) => out.push(next),
                None => return exec_err!("LIKE pattern must not end with escape character"),
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    Ok(Some(out))
}

/// PostgreSQL's OIDs of the built-in types, by every name `to_regtype()` accepts for them.
const TYPE_OIDS: &[(&str, i32)] = &[
    ("bool", 16),
    ("boolean", 16),
    ("bytea", 17),
    ("char", 18),
    ("name", 19),
    ("int8", 20),
    ("bigint", 20),
    ("int2", 21),
    ("smallint", 21),
    ("int2vector", 22),
    ("int4", 23),
    ("int", 23),
    ("integer", 23),
    ("regproc", 24),
    ("text", 25),
    ("oid", 26),
    ("json", 114),
    ("xml", 142),
    ("float4", 700),
    ("real", 700),
    ("float8", 701),
    ("double precision", 701),
    ("money", 790),
    ("bpchar", 1042),
    ("character", 1042),
    ("varchar", 1043),
    ("character varying", 1043),
    ("date", 1082),
    ("time", 1083),
    ("time without time zone", 1083),
    ("timestamp", 1114),
    ("timestamp without time zone", 1114),
    ("timestamptz", 1184),
    ("timestamp with time zone", 1184),
    ("interval", 1186),
    ("timetz", 1266),
    ("numeric", 1700),
    ("decimal", 1700),
    ("regclass", 2205),
    ("regtype", 2206),
    ("uuid", 2950),
    ("jsonb", 3802),
];

/// `to_regtype(name)`: the OID of a built-in type, NULL for a type that does not exist (such
/// as `hstore`, which drivers probe for). Arrays are `name[]` or `_name`.
fn to_regtype(args: &[Option<String>]) -> Result<Option<String>> {
    let Some(name) = args.first().cloned().flatten() else {
        return Ok(None);
    };
    let name = name.trim().to_lowercase();
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    let (base, array) = match name.strip_suffix("[]") {
        Some(base) => (base, true),
        None => match name.strip_prefix('_') {
            Some(base) => (base, true),
            None => (name, false),
        },
    };
    let oid = TYPE_OIDS
        .iter()
        .find(|(n, _)| *n == base)
        .map(|(_, oid)| *oid);
    let oid = match (oid, array) {
        (Some(oid), false) => Some(oid),
        (Some(oid), true) => array_oid(oid),
        (None, _) => None,
    };
    Ok(oid.map(|oid| oid.to_string()))
}

/// The OID of the array type of built-in type `oid`, where PostgreSQL has one.
fn array_oid(oid: i32) -> Option<i32> {
    Some(match oid {
        16 => 1000,
        17 => 1001,
        18 => 1002,
        19 => 1003,
        20 => 1016,
        21 => 1005,
        23 => 1007,
        25 => 1009,
        26 => 1028,
        700 => 1021,
        701 => 1022,
        1042 => 1014,
        1043 => 1015,
        1082 => 1182,
        1114 => 1115,
        1184 => 1185,
        1700 => 1231,
        2950 => 2951,
        3802 => 3807,
        114 => 199,
        _ => return None,
    })
}

fn current_setting(args: &[Option<String>]) -> Result<Option<String>> {
    let Some(name) = args.first().cloned().flatten() else {
        return Ok(None);
    };
    let missing_ok = args.get(1).cloned().flatten().as_deref() == Some("true");
    let key = name.to_lowercase();
    match SETTINGS.iter().find(|(k, _)| *k == key) {
        Some((_, value)) => Ok(Some((*value).to_string())),
        None if missing_ok => Ok(None),
        None => exec_err!("unrecognized configuration parameter \"{name}\""),
    }
}

/// Every user may read every relation, column and function.
fn read_privilege(args: &[Option<String>]) -> Result<Option<String>> {
    let Some(privilege) = args.last().cloned().flatten() else {
        return Ok(None);
    };
    let reads = privilege.split(',').all(|p| {
        let p = p.trim().to_uppercase();
        let p = p.strip_suffix(" WITH GRANT OPTION").unwrap_or(&p);
        matches!(p, "SELECT" | "EXECUTE" | "USAGE" | "REFERENCES")
    });
    Ok(Some(if reads { "t" } else { "f" }.to_string()))
}

/// PostgreSQL's `format()`: `%s` (text, NULL as empty), `%I` (identifier, quoted when needed),
/// `%L` (literal, NULL as `NULL`), `%%`, and positions (`%2$s`).
fn format(args: &[Option<String>]) -> Result<Option<String>> {
    let Some(Some(template)) = args.first() else {
        return Ok(None);
    };
    let values = &args[1..];
    let mut out = String::new();
    let mut next = 0;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = chars.peek() {
            if d.is_ascii_digit() || d == '$' {
                spec.push(d);
                chars.next();
            } else {
                break;
            }
        }
        let Some(kind) = chars.next() else {
            return exec_err!("format: unterminated format specifier");
        };
        if kind == '%' && spec.is_empty() {
            out.push('%');
            continue;
        }
        let index = match spec.strip_suffix('$') {
            Some(position) => match position.parse::<usize>() {
                Ok(p) if p >= 1 => p - 1,
                _ => return exec_err!("format: invalid argument position %{spec}"),
            },
            None if spec.is_empty() => next,
            None => return exec_err!("format: width is not supported (%{spec}{kind})"),
        };
        next = index + 1;
        let Some(value) = values.get(index) else {
            return exec_err!("format: too few arguments");
        };
        match kind {
            's' => out.push_str(value.as_deref().unwrap_or("")),
            'I' => match value {
                Some(v) => out.push_str(&quote_ident(v)),
                None => return exec_err!("format: a NULL cannot be an identifier (%I)"),
            },
            'L' => match value {
                Some(v) => out.push_str(&format!("'{}'", v.replace('\'', "''"))),
                None => out.push_str("NULL"),
            },
            other => {
                return exec_err!("format: unrecognized conversion type specifier \"{other}\"");
            }
        }
    }
    Ok(Some(out))
}

/// `name` as an identifier: bare when it is lower-case letters, digits and underscores not
/// starting with a digit, else double-quoted.
fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn format_follows_postgresql() {
        let out = format(&[s("%s %I %L %L %%"), s("x"), s("a b"), s("it's"), None]).unwrap();
        assert_eq!(out.as_deref(), Some("x \"a b\" 'it''s' NULL %"));
        let out = format(&[s("%2$s-%1$s-%s"), s("a"), s("b")]).unwrap();
        assert_eq!(out.as_deref(), Some("b-a-b"));
        assert!(format(&[s("%s %s"), s("one")]).is_err());
        assert!(format(&[s("%x"), s("one")]).is_err());
        assert_eq!(format(&[None, s("x")]).unwrap(), None);
    }

    #[test]
    fn settings_answer_or_say_which_is_unknown() {
        assert_eq!(
            current_setting(&[s("server_version_num")]).unwrap(),
            s(SERVER_VERSION_NUM)
        );
        assert_eq!(current_setting(&[s("TimeZone")]).unwrap(), s("UTC"));
        assert_eq!(current_setting(&[s("nope"), s("true")]).unwrap(), None);
        let err = current_setting(&[s("nope")]).unwrap_err().to_string();
        assert!(
            err.contains("unrecognized configuration parameter \"nope\""),
            "{err}"
        );
    }

    #[test]
    fn privileges_allow_reading_only() {
        assert_eq!(
            read_privilege(&[s("bookings"), s("channel"), s("SELECT")]).unwrap(),
            s("t")
        );
        assert_eq!(read_privilege(&[s("now()"), s("execute")]).unwrap(), s("t"));
        assert_eq!(
            read_privilege(&[s("bookings"), s("channel"), s("UPDATE")]).unwrap(),
            s("f")
        );
    }

    #[test]
    fn to_regtype_knows_builtin_types_and_their_arrays() {
        assert_eq!(to_regtype(&[s("integer")]).unwrap(), s("23"));
        assert_eq!(to_regtype(&[s("pg_catalog.int4")]).unwrap(), s("23"));
        assert_eq!(to_regtype(&[s("text[]")]).unwrap(), s("1009"));
        assert_eq!(to_regtype(&[s("_int8")]).unwrap(), s("1016"));
        assert_eq!(to_regtype(&[s("hstore")]).unwrap(), None);
    }

    #[test]
    fn like_escape_moves_patterns_to_backslash() {
        assert_eq!(like_escape(&[s("pg/_%"), s("/")]).unwrap(), s("pg\\_%"));
        assert_eq!(like_escape(&[s("a//b"), s("/")]).unwrap(), s("a/b"));
        assert_eq!(like_escape(&[s("a\\b"), s("/")]).unwrap(), s("a\\\\b"));
        assert!(like_escape(&[s("a/"), s("/")]).is_err());
    }

    #[test]
    fn version_starts_like_postgresql() {
        let v = version(&[]).unwrap().unwrap();
        assert!(v.starts_with("PostgreSQL 16.6 (Spirit Analytics "), "{v}");
    }
}
