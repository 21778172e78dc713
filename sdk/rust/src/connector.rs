//! The [`Connector`] trait a plugin author implements, and the plain Rust types it speaks:
//! tables with Arrow schemas, scan requests, and pages of Arrow record batches.

use std::collections::HashMap;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, SchemaRef};

use crate::Result;

/// A data source. Implement this, then export it with
/// [`export_connector!`](crate::export_connector).
///
/// The engine makes a fresh instance of the component for each scan (kept for all its pages)
/// and for each `tables` call, and calls it from one thread. Read config through
/// [`host::config`](crate::host::config) inside the calls rather than caching it.
pub trait Connector {
    /// The tables this source serves. Called when the source is created and before each scan,
    /// so keep it cheap: build schemas, don't fetch data.
    fn tables(&self) -> Result<Vec<Table>>;

    /// One page of `request.table`.
    ///
    /// Return batches in the table's full schema, as [`tables`](Self::tables) declares it; the
    /// SDK checks them against it and applies `request.projection` and `request.limit`. Use
    /// them, and `request.filters`, only to do less work (a smaller upstream page, a query
    /// parameter); the engine re-applies all filters to the rows you return.
    ///
    /// Keep a page small enough to hold in memory twice (it is encoded once) and hand out a
    /// [`ScanPage::next_cursor`] for the rest.
    fn scan(&self, request: &ScanRequest) -> Result<ScanPage>;
}

/// A table of a connector.
#[derive(Debug, Clone)]
pub struct Table {
    /// SQL name, lower case, e.g. `payments`.
    pub name: String,
    /// One sentence, shown as the table's COMMENT by BI tools.
    pub description: String,
    /// Columns, with their Arrow types and nullability.
    pub schema: SchemaRef,
}

impl Table {
    /// A table called `name`.
    pub fn new(name: impl Into<String>, description: impl Into<String>, schema: SchemaRef) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            schema,
        }
    }
}

/// Arrow field metadata key whose value the engine shows as the column's COMMENT.
pub const DESCRIPTION_KEY: &str = "description";

/// A column of a table's schema, with the description BI tools show for it.
pub fn column(name: &str, data_type: DataType, nullable: bool, description: &str) -> Field {
    Field::new(name, data_type, nullable).with_metadata(HashMap::from([(
        DESCRIPTION_KEY.to_owned(),
        description.to_owned(),
    )]))
}

/// What the engine asks of one [`Connector::scan`] call.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRequest {
    /// The table's name, as in [`Table::name`].
    pub table: String,
    /// Indices of the wanted columns in the table's schema; `None` for all.
    pub projection: Option<Vec<usize>>,
    /// Conditions the engine would like pushed upstream (hints; it re-applies them).
    pub filters: Vec<Filter>,
    /// Rows still wanted, if the query has a LIMIT.
    pub limit: Option<u64>,
    /// The cursor of the previous page; `None` on the first call.
    pub cursor: Option<String>,
}

impl ScanRequest {
    /// Filters on `column`, for connectors that push some columns' filters upstream.
    pub fn filters_on<'a>(&'a self, column: &'a str) -> impl Iterator<Item = &'a Filter> + 'a {
        self.filters
            .iter()
            .filter(move |filter| filter.column == column)
    }
}

/// `column op value`, offered for push-down.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// Column name.
    pub column: String,
    /// Comparison.
    pub op: FilterOp,
    /// Right-hand side, cast to the column's type family.
    pub value: Literal,
}

/// Comparison operator of a [`Filter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    /// `=`
    Eq,
    /// `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

/// Literal of a [`Filter`].
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A BOOLEAN.
    Boolean(bool),
    /// Any integer type.
    Integer(i64),
    /// Any floating-point or decimal type.
    Float(f64),
    /// Any string type.
    Text(String),
    /// A TIMESTAMP, in microseconds since the Unix epoch (UTC).
    TimestampMicros(i64),
}

/// One page of a scan.
#[derive(Debug, Clone, Default)]
pub struct ScanPage {
    /// Rows, in the table's full schema.
    pub batches: Vec<RecordBatch>,
    /// Where the next page starts; `None` if this is the last page.
    pub next_cursor: Option<String>,
    /// Source rows that could not be read and were skipped (say why in a
    /// [`host::log`](crate::host::log) line at warn level).
    pub skipped_rows: u64,
}

impl ScanPage {
    /// The last page.
    pub fn last(batches: Vec<RecordBatch>) -> Self {
        Self {
            batches,
            ..Self::default()
        }
    }

    /// A page followed by the page at `next_cursor`.
    pub fn more(batches: Vec<RecordBatch>, next_cursor: impl Into<String>) -> Self {
        Self {
            batches,
            next_cursor: Some(next_cursor.into()),
            skipped_rows: 0,
        }
    }

    /// This page, reporting `skipped_rows` rows skipped.
    pub fn with_skipped_rows(self, skipped_rows: u64) -> Self {
        Self {
            skipped_rows,
            ..self
        }
    }
}
