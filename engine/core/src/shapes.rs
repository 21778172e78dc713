//! Statement shapes: a query with the literals its filters compare columns with taken out as
//! parameters. `… WHERE booking_id = 42` and `… WHERE booking_id = 7` have one shape,
//! `… WHERE booking_id = $1`; so do two refreshes of a dashboard whose time filter moved. The
//! store keeps one DuckDB statement per shape and binds each statement's literals to it (see
//! [`crate::prepared`]), where exact texts would never repeat.
//!
//! - **What is taken out:** in the `WHERE` clause of each `SELECT` (CTEs and set operations
//!   included), a literal compared with a column (`=`, `<>`, `<`, `<=`, `>`, `>=`, `BETWEEN`):
//!   an unsigned integer, a string, `TIMESTAMP '…'` or `DATE '…'`. Literals elsewhere (the select
//!   list, whose column names they would change, `LIMIT`, function arguments) stay in the shape.
//! - **Binding:** a literal binds to the type of the column it is compared with, as DataFusion
//!   would convert it: an integer to an integer column (when it fits), a string to a text,
//!   timestamp or date column, `TIMESTAMP '…'` to a timestamp column, `DATE '…'` to a date
//!   column. Any other pairing does not bind, and the statement is planned as written.

use std::ops::ControlFlow;

use arrow::datatypes::DataType;
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    self, BinaryOperator, Expr, Query, SetExpr, Statement, TimezoneInfo, TypedString, Value,
};

/// A literal taken out of a statement, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// An unsigned integer (`42`).
    Integer(i64),
    /// A string (`'confirmed'`).
    Text(String),
    /// `TIMESTAMP '…'`.
    Timestamp(String),
    /// `DATE '…'`.
    Date(String),
}

/// A statement's shape.
#[derive(Debug, Clone)]
pub struct Shape {
    /// The statement with `$1`, `$2`, … in place of its literals.
    pub statement: Statement,
    /// Its text, which every statement of the shape shares.
    pub text: String,
    /// The literals taken out: parameter `$n` is `literals[n - 1]`.
    pub literals: Vec<Literal>,
}

/// The shape of query `statement`: `None` when it has parameters of its own, or no literal to
/// take out.
pub fn shape(statement: &Statement) -> Option<Shape> {
    let Statement::Query(query) = statement else {
        return None;
    };
    let mut has_parameters = false;
    let _ = ast::visit_expressions(statement, |expr| {
        if matches!(expr, Expr::Value(v) if matches!(v.value, Value::Placeholder(_))) {
            has_parameters = true;
        }
        ControlFlow::<()>::Continue(())
    });
    if has_parameters {
        return None;
    }
    let mut query = query.clone();
    let mut literals = Vec::new();
    shape_query(&mut query, &mut literals);
    if literals.is_empty() {
        return None;
    }
    let statement = Statement::Query(query);
    Some(Shape {
        text: statement.to_string(),
        statement,
        literals,
    })
}

fn shape_query(query: &mut Query, literals: &mut Vec<Literal>) {
    if let Some(with) = &mut query.with {
        for cte in &mut with.cte_tables {
            shape_query(&mut cte.query, literals);
        }
    }
    shape_set_expr(&mut query.body, literals);
}

fn shape_set_expr(body: &mut SetExpr, literals: &mut Vec<Literal>) {
    match body {
        SetExpr::Select(select) => {
            if let Some(selection) = &mut select.selection {
                let _ = ast::visit_expressions_mut(selection, |expr| {
                    take_compared_literals(expr, literals);
                    ControlFlow::<()>::Continue(())
                });
            }
        }
        SetExpr::Query(query) => shape_query(query, literals),
        SetExpr::SetOperation { left, right, .. } => {
            shape_set_expr(left, literals);
            shape_set_expr(right, literals);
        }
        _ => {}
    }
}

/// Takes out the literals `expr` compares a column with (its children were visited before it,
/// so the parameters put in are not visited again).
fn take_compared_literals(expr: &mut Expr, literals: &mut Vec<Literal>) {
    match expr {
        Expr::BinaryOp { left, op, right } if is_comparison(op) => {
            if is_column(left) {
                take(right, literals);
            } else if is_column(right) {
                take(left, literals);
            }
        }
        Expr::Between {
            expr, low, high, ..
        } if is_column(expr) => {
            take(low, literals);
            take(high, literals);
        }
        _ => {}
    }
}

fn is_comparison(op: &BinaryOperator) -> bool {
    matches!(
        op,
        BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
    )
}

fn is_column(expr: &Expr) -> bool {
    matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
}

/// Replaces `expr` by the next parameter when it is a literal that can be taken out.
fn take(expr: &mut Expr, literals: &mut Vec<Literal>) {
    let Some(literal) = literal_of(expr) else {
        return;
    };
    literals.push(literal);
    *expr = Expr::value(Value::Placeholder(format!("${}", literals.len())));
}

fn literal_of(expr: &Expr) -> Option<Literal> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::Number(n, false) => n.parse().ok().map(Literal::Integer),
            Value::SingleQuotedString(s) => Some(Literal::Text(s.clone())),
            _ => None,
        },
        Expr::TypedString(TypedString {
            data_type,
            value,
            uses_odbc_syntax: false,
        }) => {
            let Value::SingleQuotedString(s) = &value.value else {
                return None;
            };
            match data_type {
                ast::DataType::Timestamp(None, TimezoneInfo::None) => {
                    Some(Literal::Timestamp(s.clone()))
                }
                ast::DataType::Date => Some(Literal::Date(s.clone())),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `literal` as a value of `to`, the type of the column it is compared with; `None` when it does
/// not bind to that type (see the module doc).
pub fn bind(literal: &Literal, to: &DataType) -> Option<ScalarValue> {
    let value = match (literal, to) {
        (
            Literal::Integer(i),
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64,
        ) => ScalarValue::Int64(Some(*i)),
        (
            Literal::Text(s),
            DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Timestamp(_, None)
            | DataType::Date32,
        )
        | (Literal::Timestamp(s), DataType::Timestamp(_, None))
        | (Literal::Date(s), DataType::Date32) => ScalarValue::Utf8(Some(s.clone())),
        _ => return None,
    };
    // DataFusion's default cast options are strict: an integer out of the column's range or an
    // unreadable timestamp is an error here, and the statement is planned as written.
    let bound = value.cast_to(to).ok()?;
    (!bound.is_null()).then_some(bound)
}

/// `value` (a [`bind`] result) as DuckDB binds it.
pub fn duckdb_value(value: &ScalarValue) -> Option<duckdb::types::Value> {
    use duckdb::types::{TimeUnit as Unit, Value as V};
    Some(match value {
        ScalarValue::Int8(Some(v)) => V::TinyInt(*v),
        ScalarValue::Int16(Some(v)) => V::SmallInt(*v),
        ScalarValue::Int32(Some(v)) => V::Int(*v),
        ScalarValue::Int64(Some(v)) => V::BigInt(*v),
        ScalarValue::Utf8(Some(v))
        | ScalarValue::LargeUtf8(Some(v))
        | ScalarValue::Utf8View(Some(v)) => V::Text(v.clone()),
        ScalarValue::TimestampSecond(Some(v), None) => V::Timestamp(Unit::Second, *v),
        ScalarValue::TimestampMillisecond(Some(v), None) => V::Timestamp(Unit::Millisecond, *v),
        ScalarValue::TimestampMicrosecond(Some(v), None) => V::Timestamp(Unit::Microsecond, *v),
        ScalarValue::TimestampNanosecond(Some(v), None) => V::Timestamp(Unit::Nanosecond, *v),
        ScalarValue::Date32(Some(v)) => V::Date32(*v),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::TimeUnit;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    fn parse(sql: &str) -> Statement {
        Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .expect("parse")
            .remove(0)
    }

    #[test]
    fn statements_differing_in_filter_literals_share_a_shape() {
        let a = shape(&parse("SELECT * FROM bookings WHERE booking_id = 42")).expect("shape");
        let b = shape(&parse("SELECT * FROM bookings WHERE booking_id = 7")).expect("shape");
        assert_eq!(a.text, "SELECT * FROM bookings WHERE booking_id = $1");
        assert_eq!(a.text, b.text);
        assert_eq!(a.literals, [Literal::Integer(42)]);

        let window = shape(&parse(
            "WITH w AS (SELECT channel, price FROM bookings b WHERE b.created_at >= TIMESTAMP \
             '2026-06-01 00:00:00' AND 'paid' = b.status) SELECT channel, 'x' = channel AS x \
             FROM w WHERE created_at BETWEEN DATE '2026-01-01' AND DATE '2026-02-01' LIMIT 10",
        ))
        .expect("shape");
        assert_eq!(
            window.text,
            "WITH w AS (SELECT channel, price FROM bookings b WHERE b.created_at >= $1 AND $2 \
             = b.status) SELECT channel, 'x' = channel AS x FROM w WHERE created_at BETWEEN $3 \
             AND $4 LIMIT 10"
        );
        assert_eq!(
            window.literals,
            [
                Literal::Timestamp("2026-06-01 00:00:00".into()),
                Literal::Text("paid".into()),
                Literal::Date("2026-01-01".into()),
                Literal::Date("2026-02-01".into()),
            ]
        );
    }

    #[test]
    fn statements_without_literals_or_with_parameters_have_no_shape() {
        for sql in [
            "SELECT * FROM bookings",
            "SELECT * FROM bookings WHERE booking_id = $1 AND status = 'paid'",
            "SELECT * FROM bookings WHERE booking_id = -1 OR price > 1.5 OR now() > TIMESTAMP '2000-01-01 00:00:00'",
            "INSERT INTO t VALUES (1)",
        ] {
            assert!(shape(&parse(sql)).is_none(), "{sql}");
        }
    }

    #[test]
    fn literals_bind_only_as_datafusion_would_convert_them() {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
        assert_eq!(
            bind(&Literal::Integer(7), &DataType::Int32),
            Some(ScalarValue::Int32(Some(7)))
        );
        assert_eq!(
            bind(&Literal::Integer(3_000_000_000), &DataType::Int32),
            None
        );
        assert_eq!(bind(&Literal::Integer(7), &DataType::Float64), None);
        assert_eq!(bind(&Literal::Integer(7), &DataType::Utf8), None);
        assert_eq!(bind(&Literal::Text("7".into()), &DataType::Int64), None);
        assert_eq!(
            bind(&Literal::Timestamp("2026-06-01 00:00:00".into()), &ts),
            Some(ScalarValue::TimestampMicrosecond(
                Some(1_780_272_000_000_000),
                None
            ))
        );
        assert_eq!(bind(&Literal::Text("not a time".into()), &ts), None);
        assert_eq!(bind(&Literal::Date("2026-06-01".into()), &ts), None);
        assert_eq!(
            bind(&Literal::Date("1970-01-02".into()), &DataType::Date32),
            Some(ScalarValue::Date32(Some(1)))
        );
        assert_eq!(
            duckdb_value(&ScalarValue::TimestampMicrosecond(Some(5), None)),
            Some(duckdb::types::Value::Timestamp(
                duckdb::types::TimeUnit::Microsecond,
                5
            ))
        );
    }
}
