//! A section's rows as plain values ([`Table`], [`Cell`]) for templates and charts, and how a
//! value is shown in a report: money in EUR, ratios as percentages, thousands separated, by
//! the column's name (`revenue` → `€12,345`, `success_rate` → `94.2%`).

use arrow::array::{
    Array, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::{Result, error, invalid};

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    Date(NaiveDate),
    Timestamp(NaiveDateTime),
}

impl Cell {
    /// The value as a number, for charts; `None` for text and NULL.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(v) => Some(*v as f64),
            Cell::Float(v) => Some(*v),
            Cell::Bool(v) => Some(f64::from(u8::from(*v))),
            _ => None,
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Null => Ok(()),
            Cell::Int(v) => write!(f, "{v}"),
            Cell::Float(v) => write!(f, "{v}"),
            Cell::Bool(v) => write!(f, "{v}"),
            Cell::Text(v) => f.write_str(v),
            Cell::Date(v) => write!(f, "{v}"),
            Cell::Timestamp(v) => write!(f, "{}", v.format("%Y-%m-%d %H:%M:%S")),
        }
    }
}

impl Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Cell::Null => s.serialize_none(),
            Cell::Int(v) => s.serialize_i64(*v),
            Cell::Float(v) if v.is_finite() => s.serialize_f64(*v),
            Cell::Float(_) => s.serialize_none(),
            Cell::Bool(v) => s.serialize_bool(*v),
            other => s.serialize_str(&other.to_string()),
        }
    }
}

/// Rows with named columns.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// The rows of `batch`.
    pub fn from_batch(batch: &RecordBatch) -> Result<Self> {
        let columns = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let cells = batch
            .columns()
            .iter()
            .map(|array| column_cells(array.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let rows = (0..batch.num_rows())
            .map(|r| cells.iter().map(|column| column[r].clone()).collect())
            .collect();
        Ok(Self { columns, rows })
    }

    /// The index of column `name`; 42703 listing the columns when there is none.
    pub fn column_index(&self, name: &str) -> Result<usize> {
        self.columns.iter().position(|c| c == name).ok_or_else(|| {
            error(
                "42703",
                format!(
                    "column \"{name}\" is not in the section's result; it has {}",
                    self.columns.join(", ")
                ),
            )
        })
    }
}

/// The values of one column.
fn column_cells(array: &dyn Array) -> Result<Vec<Cell>> {
    let n = array.len();
    let typed = |to: &DataType| cast(array, to).map_err(|e| invalid(e.to_string()));
    let data_type = array.data_type();
    let cells = if data_type.is_integer() {
        let values = typed(&DataType::Int64)?;
        let values = values.as_any().downcast_ref::<Int64Array>().expect("Int64");
        values
            .iter()
            .map(|v| v.map_or(Cell::Null, Cell::Int))
            .collect()
    } else if data_type.is_floating()
        || matches!(
            data_type,
            DataType::Decimal128(..) | DataType::Decimal256(..)
        )
    {
        let values = typed(&DataType::Float64)?;
        let values = values
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("Float64");
        values
            .iter()
            .map(|v| v.map_or(Cell::Null, Cell::Float))
            .collect()
    } else if matches!(data_type, DataType::Boolean) {
        let values = array
            .as_any()
            .downcast_ref::<BooleanArray>()
            .expect("Boolean");
        values
            .iter()
            .map(|v| v.map_or(Cell::Null, Cell::Bool))
            .collect()
    } else if matches!(data_type, DataType::Date32 | DataType::Date64) {
        let values = typed(&DataType::Date32)?;
        let values = values
            .as_any()
            .downcast_ref::<Date32Array>()
            .expect("Date32");
        (0..n)
            .map(|i| {
                values
                    .value_as_date(i)
                    .filter(|_| values.is_valid(i))
                    .map_or(Cell::Null, Cell::Date)
            })
            .collect()
    } else if matches!(data_type, DataType::Timestamp(..)) {
        let values = typed(&DataType::Timestamp(TimeUnit::Microsecond, None))?;
        let values = values
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .expect("Timestamp");
        (0..n)
            .map(|i| {
                values
                    .value_as_datetime(i)
                    .filter(|_| values.is_valid(i))
                    .map_or(Cell::Null, Cell::Timestamp)
            })
            .collect()
    } else if matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..)
    ) {
        let values = typed(&DataType::Utf8)?;
        let values = values.as_any().downcast_ref::<StringArray>().expect("Utf8");
        values
            .iter()
            .map(|v| v.map_or(Cell::Null, |s| Cell::Text(s.to_owned())))
            .collect()
    } else {
        let formatter = ArrayFormatter::try_new(array, &FormatOptions::default())
            .map_err(|e| invalid(e.to_string()))?;
        (0..n)
            .map(|i| {
                if array.is_null(i) {
                    Cell::Null
                } else {
                    Cell::Text(formatter.value(i).to_string())
                }
            })
            .collect()
    };
    Ok(cells)
}

/// How a column's values are shown, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Eur,
    Percent,
    Millis,
    Seconds,
    Hours,
    Plain,
}

impl Format {
    /// The format of column `name`: money (`revenue`, `commission`, `cost`, `margin`,
    /// `*_value`, `clv`, `*price*`), ratios (`*rate*`, `share`, `growth_*`, `*_pct`,
    /// `utilisation`, `uptime`, `probability`), durations (`*_ms`, `*_hours`).
    pub fn of(name: &str) -> Self {
        let name = name.to_ascii_lowercase();
        let words: Vec<&str> = name.split('_').collect();
        let any = |set: &[&str]| words.iter().any(|w| set.contains(w));
        if name.ends_with("_ms") {
            Format::Millis
        } else if name.ends_with("_s") {
            Format::Seconds
        } else if any(&["index", "id"]) {
            Format::Plain
        } else if name.ends_with("_hours") {
            Format::Hours
        } else if any(&[
            "rate",
            "share",
            "growth",
            "pct",
            "utilisation",
            "uptime",
            "probability",
            "weight",
        ]) {
            Format::Percent
        } else if any(&[
            "revenue",
            "commission",
            "cost",
            "margin",
            "value",
            "clv",
            "price",
            "eur",
            "savings",
            "fees",
            "collected",
            "refunded",
        ]) {
            Format::Eur
        } else {
            Format::Plain
        }
    }

    /// The format of a value given in `unit`, as `metrics.kpi_overview` gives them: `ratio`,
    /// `ms`, `EUR`, or anything else as a plain number.
    pub fn of_unit(unit: &str) -> Self {
        match unit.to_ascii_lowercase().as_str() {
            "ratio" => Format::Percent,
            "ms" => Format::Millis,
            "eur" => Format::Eur,
            _ => Format::Plain,
        }
    }

    /// `cell` shown in this format.
    pub fn show(self, cell: &Cell) -> String {
        let Some(v) = cell.as_f64().filter(|_| !matches!(cell, Cell::Bool(_))) else {
            return match cell {
                Cell::Null => "–".to_owned(),
                other => other.to_string(),
            };
        };
        match self {
            Format::Eur => format!("€{}", grouped(v, if v.abs() >= 100.0 { 0 } else { 2 })),
            Format::Percent => format!("{:.1}%", v * 100.0),
            Format::Millis => format!("{} ms", grouped(v, 0)),
            Format::Seconds => format!("{} s", grouped(v, 1)),
            Format::Hours => format!("{} h", grouped(v, 1)),
            Format::Plain => match cell {
                Cell::Int(i) => grouped(*i as f64, 0),
                _ if v.fract() == 0.0 && v.abs() < 1e15 => grouped(v, 0),
                _ => grouped(v, 2),
            },
        }
    }
}

/// `v` with `decimals` decimals and thousands separated by commas: `1,234,567.89`.
pub fn grouped(v: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, v.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if v < 0.0 && out.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Decimal128Array, Int32Array};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn columns_are_read_and_shown_by_name() {
        let schema = Schema::new(vec![
            Field::new("channel", DataType::Utf8, false),
            Field::new("bookings", DataType::Int32, false),
            Field::new("revenue", DataType::Decimal128(18, 2), true),
            Field::new("success_rate", DataType::Float64, true),
            Field::new("day", DataType::Date32, false),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from(vec!["B2C", "B2B"])),
                Arc::new(Int32Array::from(vec![1234, 5])),
                Arc::new(
                    Decimal128Array::from(vec![Some(123_456_789), None])
                        .with_precision_and_scale(18, 2)
                        .unwrap(),
                ),
                Arc::new(Float64Array::from(vec![Some(0.9421), None])),
                Arc::new(Date32Array::from(vec![20_634, 20_635])),
            ],
        )
        .unwrap();
        let table = Table::from_batch(&batch).unwrap();
        let row = &table.rows[0];
        assert_eq!(row[0], Cell::Text("B2C".into()));
        assert_eq!(Format::of("bookings").show(&row[1]), "1,234");
        assert_eq!(Format::of("revenue").show(&row[2]), "€1,234,568");
        assert_eq!(Format::of("success_rate").show(&row[3]), "94.2%");
        assert_eq!(row[4].to_string(), "2026-06-30");
        assert_eq!(Format::of("revenue").show(&table.rows[1][2]), "–");
        assert_eq!(
            Format::of("avg_response_ms").show(&Cell::Float(812.4)),
            "812 ms"
        );
        assert_eq!(Format::of("revenue_generated"), Format::Eur, "not a rate");
        assert_eq!(Format::of("avg_price_index"), Format::Plain);
        assert_eq!(Format::of("avg_wait_s").show(&Cell::Float(32.31)), "32.3 s");
        assert_eq!(Format::of_unit("ratio").show(&Cell::Float(0.9)), "90.0%");
        assert_eq!(Format::of("weighted_value"), Format::Eur);
        assert_eq!(Format::of("margin_pct"), Format::Percent);
        assert_eq!(Format::of("cost_savings_vs_human"), Format::Eur);
        assert_eq!(grouped(-1234.5, 1), "-1,234.5");
        assert_eq!(grouped(-0.001, 2), "0.00");
        let err = table.column_index("nope").unwrap_err().to_string();
        assert!(err.contains("channel, bookings"), "{err}");
    }
}
