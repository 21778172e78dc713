//! Rendering a report: each section's SQL (itself a small template over the report's period)
//! runs on the engine's session, its rows become a table and a chart, and the type's minijinja
//! templates turn them into HTML and plain text. The HTML comes in two forms: one for email,
//! whose charts are PNG parts referenced by `cid:`, and one self-contained, whose charts are
//! SVG data URIs (what `generate_report` returns and files hold). Each shown table is also a
//! CSV attachment.

use std::collections::BTreeMap;

use arrow::record_batch::RecordBatch;
use base64::Engine as _;
use chrono::{Duration, NaiveDateTime};
use datafusion::prelude::SessionContext;
use minijinja::{Environment, Value, context};
use serde::Serialize;

use crate::charts::{self, Chart};
use crate::definitions::{Catalog, ChartSpec, ReportType, Section};
use crate::options::Options;
use crate::table::{Format, Table, grouped};
use crate::{Result, invalid, query};

/// A rendered report.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub report_type: String,
    pub title: String,
    /// Self-contained HTML: charts as SVG data URIs.
    pub html: String,
    /// HTML for email: charts as `cid:` references to [`Rendered::images`].
    pub email_html: String,
    pub text: String,
    /// The charts as PNG, by content id.
    pub images: Vec<InlineImage>,
    /// CSV files of the tables shown.
    pub attachments: Vec<Attachment>,
    /// Headline figures (label, value as shown) for chat messages.
    pub summary: Vec<(String, String)>,
    /// Each shown table as columns and rows, for webhooks.
    pub tables: BTreeMap<String, Table>,
    pub generated_at: NaiveDateTime,
    pub period_start: NaiveDateTime,
    pub period_end: NaiveDateTime,
}

impl Rendered {
    /// `financial_summary_2026-06-30`: the stem of file and attachment names.
    pub fn file_stem(&self) -> String {
        format!(
            "{}_{}",
            self.report_type,
            self.period_end.format("%Y-%m-%d")
        )
    }
}

#[derive(Debug, Clone)]
pub struct InlineImage {
    pub content_id: String,
    pub png: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Attachment {
    pub filename: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// One section after its query ran.
struct SectionResult {
    section: Section,
    batch: RecordBatch,
    table: Table,
    chart: Option<Chart>,
    /// Why the fallback query was used, if it was.
    unavailable: Option<String>,
}

/// Renders report `report` with `options`, its relative period ending at `as_of`.
pub async fn render(
    ctx: &SessionContext,
    catalog: &Catalog,
    report: &ReportType,
    options: &Options,
    as_of: NaiveDateTime,
) -> Result<Rendered> {
    let mut report = report.clone();
    options.apply_custom(&mut report)?;
    let days = options.days.unwrap_or(report.spec.days);
    if !(1..=3660).contains(&days) {
        return Err(invalid(format!(
            "days must be between 1 and 3660, not {days}"
        )));
    }
    let period_start = as_of - Duration::days(i64::from(days));
    let timestamp = |t: NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let date = |t: NaiveDateTime| t.format("%Y-%m-%d").to_string();
    let history_days = i64::from(days).saturating_mul(3).max(90);
    let sql_context = context! {
        as_of => timestamp(as_of),
        period_start => timestamp(period_start),
        period_end => timestamp(as_of),
        previous_start => timestamp(period_start - Duration::days(i64::from(days))),
        start_date => date(period_start),
        end_date => date(as_of),
        previous_start_date => date(period_start - Duration::days(i64::from(days))),
        history_start_date => date(as_of - Duration::days(history_days)),
        days => days,
    };
    let mut sql_env = Environment::new();
    sql_env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);

    let mut results = Vec::new();
    for section in &report.spec.sections {
        let sql = sql_env
            .render_str(&section.sql, &sql_context)
            .map_err(|e| template_error(&report.name, &section.name, &e))?;
        let (batch, unavailable) = match query(ctx, &sql).await {
            Ok(batch) => (batch, None),
            Err(e) => {
                let Some(fallback) = &section.fallback_sql else {
                    return Err(invalid(format!(
                        "report {} section {}: {e}",
                        report.name, section.name
                    )));
                };
                tracing::warn!(report = %report.name, section = %section.name, "section falls back: {e}");
                let sql = sql_env
                    .render_str(fallback, &sql_context)
                    .map_err(|e| template_error(&report.name, &section.name, &e))?;
                (query(ctx, &sql).await?, Some(e.to_string()))
            }
        };
        let table = Table::from_batch(&batch)?;
        let chart = section
            .chart
            .as_ref()
            .map(|spec: &ChartSpec| charts::draw(spec, &table))
            .transpose()
            .map_err(|e| {
                invalid(format!(
                    "report {} section {}: {e}",
                    report.name, section.name
                ))
            })?
            .flatten();
        results.push(SectionResult {
            section: section.clone(),
            batch,
            table,
            chart,
            unavailable,
        });
    }

    let generated_at = chrono::Utc::now().naive_utc();
    let title = options
        .title
        .clone()
        .unwrap_or_else(|| report.spec.title.clone());
    let summary = summary(&report, &results);
    let stem = format!("{}_{}", report.name, as_of.format("%Y-%m-%d"));
    let meta = context! {
        name => report.name.clone(),
        title => title.clone(),
        description => report.spec.description.clone(),
        as_of => timestamp(as_of),
        period_start => period_start.format("%Y-%m-%d").to_string(),
        period_end => as_of.format("%Y-%m-%d").to_string(),
        days => days,
        generated_at => format!("{} UTC", generated_at.format("%Y-%m-%d %H:%M")),
    };
    let env = template_env(catalog, &report)?;
    let order: Vec<String> = results.iter().map(|r| r.section.name.clone()).collect();
    // What the templates see; the email's differs only in how charts are referenced.
    let context = |email: bool| {
        let sections: BTreeMap<String, Value> = results
            .iter()
            .map(|r| (r.section.name.clone(), section_value(r, email, &stem)))
            .collect();
        context! {
            report => meta.clone(),
            sections => sections,
            section_order => order.clone(),
            summary => summary_value(&summary),
            email => email,
        }
    };
    let render = |template: &str, ctx: &Value| {
        env.get_template(template)
            .and_then(|t| t.render(ctx))
            .map_err(|e| {
                // Named as the file the user edits.
                let file = template.replace("report.", "template.");
                template_error(&report.name, &file, &e)
            })
    };
    let browser = context(false);
    let html = render("report.html", &browser)?;
    let text = render("report.txt", &browser)?;
    let email_html = render("report.html", &context(true))?;

    let images = results
        .iter()
        .filter_map(|r| {
            r.chart.as_ref().map(|c| InlineImage {
                content_id: content_id(&r.section.name),
                png: c.png.clone(),
            })
        })
        .collect();
    let mut attachments = Vec::new();
    let mut tables = BTreeMap::new();
    for r in results.iter().filter(|r| r.section.table) {
        attachments.push(Attachment {
            filename: format!("{stem}_{}.csv", r.section.name),
            content_type: "text/csv",
            body: csv(&r.batch)?,
        });
        tables.insert(r.section.name.clone(), r.table.clone());
    }
    Ok(Rendered {
        report_type: report.name.clone(),
        title,
        html,
        email_html,
        text,
        images,
        attachments,
        summary,
        tables,
        generated_at,
        period_start,
        period_end: as_of,
    })
}

fn template_error(
    report: &str,
    part: &str,
    e: &minijinja::Error,
) -> datafusion::error::DataFusionError {
    let mut message = format!("report {report} {part}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        message.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    invalid(message)
}

/// The content id of a section's chart in email.
fn content_id(section: &str) -> String {
    format!("chart-{section}@spirit-analytics")
}

/// The templates of `report` (as `report.html` and `report.txt`), the layouts, and the
/// filters they format values with: `cell(column)` (by the column's name), `in_unit(unit)`,
/// `eur`, `pct`, `signed_pct`, `num`.
fn template_env<'a>(catalog: &'a Catalog, report: &'a ReportType) -> Result<Environment<'a>> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    for (name, text) in &catalog.layouts {
        env.add_template(name, text)
            .map_err(|e| template_error(&report.name, name, &e))?;
    }
    env.add_template("report.html", &report.html_template)
        .map_err(|e| template_error(&report.name, "template.html", &e))?;
    env.add_template("report.txt", &report.text_template)
        .map_err(|e| template_error(&report.name, "template.txt", &e))?;
    env.add_filter("cell", |value: Value, column: String| {
        Format::of(&column).show(&cell_of(&value))
    });
    env.add_filter("in_unit", |value: Value, unit: String| {
        Format::of_unit(&unit).show(&cell_of(&value))
    });
    env.add_filter("eur", |value: Value| Format::Eur.show(&cell_of(&value)));
    env.add_filter("pct", |value: Value| Format::Percent.show(&cell_of(&value)));
    env.add_filter("num", |value: Value| Format::Plain.show(&cell_of(&value)));
    env.add_filter("signed_pct", |value: Value| {
        match cell_of(&value).as_f64() {
            Some(v) => format!(
                "{}{:.1}%",
                if v >= 0.0 { "+" } else { "−" },
                (v * 100.0).abs()
            ),
            None => "–".into(),
        }
    });
    Ok(env)
}

/// A template value back as a cell, to format.
fn cell_of(value: &Value) -> crate::table::Cell {
    use crate::table::Cell;
    if value.is_none() || value.is_undefined() {
        Cell::Null
    } else if let Ok(i) = i64::try_from(value.clone()) {
        Cell::Int(i)
    } else if let Ok(f) = f64::try_from(value.clone()) {
        Cell::Float(f)
    } else {
        Cell::Text(value.to_string())
    }
}

#[derive(Serialize)]
struct ChartValue {
    src: String,
    width: u32,
    height: u32,
    alt: String,
}

/// What templates see of a section: `title`, `note`, `unavailable`, `columns`, `rows` (raw
/// values), `records` (rows as maps by column), `chart` (`src`, `width`, `height`, `alt`),
/// `table` (whether to show it) and `csv` (its attachment's name).
fn section_value(r: &SectionResult, email: bool, stem: &str) -> Value {
    let chart = r.chart.as_ref().map(|c| ChartValue {
        src: if email {
            format!("cid:{}", content_id(&r.section.name))
        } else {
            format!(
                "data:image/svg+xml;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(&c.svg)
            )
        },
        width: c.width,
        height: c.height,
        alt: r.section.title.clone(),
    });
    let records: Vec<BTreeMap<&str, &crate::table::Cell>> = r
        .table
        .rows
        .iter()
        .map(|row| {
            r.table
                .columns
                .iter()
                .map(String::as_str)
                .zip(row)
                .collect()
        })
        .collect();
    to_value(context! {
        name => r.section.name.clone(),
        title => r.section.title.clone(),
        note => r.section.note.clone(),
        unavailable => r.unavailable.clone(),
        columns => r.table.columns.clone(),
        labels => r.table.columns.iter().map(|c| column_label(c)).collect::<Vec<_>>(),
        rows => to_value(&r.table.rows),
        records => to_value(&records),
        chart => chart.map(|c| to_value(&c)),
        table => r.section.table,
        csv => format!("{stem}_{}.csv", r.section.name),
    })
}

/// A template value of anything serde serialises.
fn to_value<T: Serialize>(value: T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

/// `avg_response_ms` → `Avg response (ms)`.
pub fn column_label(column: &str) -> String {
    let (base, unit) = match column.rsplit_once('_') {
        Some((base, "ms")) => (base, " (ms)"),
        Some((base, "eur")) => (base, " (EUR)"),
        _ => (column, ""),
    };
    let text = base.replace('_', " ");
    let mut chars = text.chars();
    let first: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    format!("{first}{}{unit}", chars.as_str())
}

/// The headline figures: the first row of the section `summary` names, formatted.
fn summary(report: &ReportType, results: &[SectionResult]) -> Vec<(String, String)> {
    let Some(name) = &report.spec.summary else {
        return Vec::new();
    };
    let Some(r) = results.iter().find(|r| &r.section.name == name) else {
        return Vec::new();
    };
    let Some(row) = r.table.rows.first() else {
        return Vec::new();
    };
    r.table
        .columns
        .iter()
        .zip(row)
        .map(|(column, cell)| (column_label(column), Format::of(column).show(cell)))
        .collect()
}

fn summary_value(summary: &[(String, String)]) -> Value {
    to_value(
        summary
            .iter()
            .map(|(label, value)| context! { label => label, value => value })
            .collect::<Vec<_>>(),
    )
}

/// `batch` as CSV with a header row.
fn csv(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut writer = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut out);
        writer.write(batch)?;
    }
    Ok(out)
}

/// A size for humans: `12.3 kB`.
pub fn human_bytes(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else if n >= 1_000 {
        format!("{:.1} kB", n as f64 / 1e3)
    } else {
        format!("{} B", grouped(n as f64, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_labels_read_like_headings() {
        assert_eq!(column_label("avg_response_ms"), "Avg response (ms)");
        assert_eq!(column_label("revenue"), "Revenue");
        assert_eq!(human_bytes(12_345), "12.3 kB");
    }
}
