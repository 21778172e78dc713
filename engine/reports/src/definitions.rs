//! Report types: what each report queries and how it looks. The bundled types live in
//! `queries/reports/<type>/` (`report.toml` with the sections' SQL and charts, `template.html`
//! and `template.txt`, both minijinja; the shared `base.html`, `macros.html` and `base.txt`)
//! and are compiled into the binary; a directory given as `reports_dir` overrides them file
//! by file (`<dir>/<type>/template.html`, `<dir>/base.html` …) and may add types of its own.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::{Result, invalid};

/// One report type.
#[derive(Debug, Clone)]
pub struct ReportType {
    pub name: String,
    pub spec: ReportSpec,
    /// The HTML template (minijinja; it usually extends `base.html`).
    pub html_template: String,
    /// The plain-text template.
    pub text_template: String,
    /// Where the definition came from: `bundled`, or the directory that overrode a part.
    pub source: String,
}

/// `report.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    pub title: String,
    pub description: String,
    /// Days the report covers when the options do not say (`{"days": 7}`).
    #[serde(default = "default_days")]
    pub days: u32,
    /// The section whose first row gives the headline figures (tiles, Slack fields).
    #[serde(default)]
    pub summary: Option<String>,
    /// The sections, in the order they are shown.
    #[serde(default, rename = "section")]
    pub sections: Vec<Section>,
}

fn default_days() -> u32 {
    30
}

/// One table (and chart) of a report.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// Name templates use (`sections.revenue_trend`) and the CSV attachment's name.
    pub name: String,
    pub title: String,
    /// The query, a minijinja template over the period: `period_start`, `period_end`,
    /// `previous_start` (timestamps), `start_date`, `end_date`, `previous_start_date`,
    /// `history_start_date` (dates; the history is 3 periods, at least 90 days), `as_of`
    /// and `days`.
    pub sql: String,
    /// Run instead when `sql` fails (a prediction whose model plugin is not loaded): the
    /// report then says what is missing rather than failing.
    pub fallback_sql: Option<String>,
    /// Shown under the title.
    #[serde(default)]
    pub note: Option<String>,
    pub chart: Option<ChartSpec>,
    /// Whether the table is shown (and attached as CSV); a chart-only section sets false.
    #[serde(default = "yes")]
    pub table: bool,
}

fn yes() -> bool {
    true
}

/// A chart drawn from a section's rows.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChartSpec {
    pub kind: ChartKind,
    /// The x column: dates for a line chart, categories for bars.
    pub x: String,
    /// The value columns, one line or bar series each.
    pub y: Vec<String>,
    /// Lower and upper columns of a band drawn under the lines (a forecast interval).
    #[serde(default)]
    pub band: Option<[String; 2]>,
    /// A horizontal target line, with its label.
    #[serde(default)]
    pub target: Option<f64>,
    #[serde(default)]
    pub target_label: Option<String>,
    /// Axis unit: `eur`, `ratio` (shown as %), or plain numbers.
    #[serde(default)]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ChartKind {
    Line,
    Bar,
}

/// A bundled type's template: its own file, or the layout as it is.
macro_rules! template {
    ($name:literal, $ext:literal, true) => {
        include_str!(concat!(
            "../../../queries/reports/",
            $name,
            "/template.",
            $ext
        ))
    };
    ($name:literal, $ext:literal, false) => {
        concat!("{% extends \"base.", $ext, "\" %}")
    };
}

/// The bundled report types: name, `report.toml`, `template.html`, `template.txt`; a type
/// whose directory has no template of its own gets the shared layout (`base.html`, which
/// shows every section in order).
macro_rules! bundled {
    ($($name:literal html $html:tt),* $(,)?) => {
        &[$((
            $name,
            include_str!(concat!("../../../queries/reports/", $name, "/report.toml")),
            template!($name, "html", $html),
            template!($name, "txt", false),
        )),*]
    };
}

const BUNDLED: &[(&str, &str, &str, &str)] = bundled!(
    "financial_summary" html true,
    "ai_performance" html false,
    "customer_analytics" html false,
    "operational_health" html false,
    "sales_pipeline" html false,
    "revenue_breakdown" html false,
    "custom" html false,
);

/// The shared templates: the HTML layout the types extend, the macros that draw sections,
/// and the plain-text layout.
pub const LAYOUTS: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../../queries/reports/base.html"),
    ),
    (
        "macros.html",
        include_str!("../../../queries/reports/macros.html"),
    ),
    (
        "base.txt",
        include_str!("../../../queries/reports/base.txt"),
    ),
];

/// The report types and the shared layouts.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub types: BTreeMap<String, ReportType>,
    /// Layout templates by name (`base.html`, `base.txt`).
    pub layouts: BTreeMap<String, String>,
}

impl Catalog {
    /// The bundled types, overridden and extended by `dir` when given.
    pub fn load(dir: Option<&Path>) -> Result<Self> {
        let mut types = BTreeMap::new();
        for (name, spec, html, text) in BUNDLED {
            let spec = parse_spec(name, spec, "bundled")?;
            types.insert(
                (*name).to_owned(),
                ReportType {
                    name: (*name).to_owned(),
                    spec,
                    html_template: (*html).to_owned(),
                    text_template: (*text).to_owned(),
                    source: "bundled".into(),
                },
            );
        }
        let mut layouts: BTreeMap<String, String> = LAYOUTS
            .iter()
            .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
            .collect();
        if let Some(dir) = dir {
            override_from(dir, &mut types, &mut layouts)?;
        }
        Ok(Self { types, layouts })
    }

    /// Report type `name`; 22023 listing the types when there is none.
    pub fn get(&self, name: &str) -> Result<&ReportType> {
        self.types.get(name).ok_or_else(|| {
            invalid(format!(
                "unknown report type '{name}'; the report types are {} (spirit.report_types)",
                self.types.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

/// Lists the report types in `spirit.report_types`.
pub fn save_types(store: &spirit_core::store::Store, catalog: &Catalog) -> spirit_core::Result<()> {
    store.with_transaction(|conn| {
        conn.execute_batch(
            "CREATE SCHEMA IF NOT EXISTS spirit;
             CREATE TABLE IF NOT EXISTS spirit.report_types (
                 name VARCHAR NOT NULL, title VARCHAR NOT NULL, description VARCHAR NOT NULL,
                 days INTEGER NOT NULL, sections VARCHAR NOT NULL, source VARCHAR NOT NULL);
             COMMENT ON TABLE spirit.report_types IS 'Report types generate_report() and schedule_report() take: bundled (queries/reports) or from reports_dir.';
             COMMENT ON COLUMN spirit.report_types.days IS 'Days a report covers unless its options say {\"days\": n}.';
             COMMENT ON COLUMN spirit.report_types.sections IS 'Its sections (tables and charts), comma-separated.';
             DELETE FROM spirit.report_types;",
        )?;
        let mut insert = conn.prepare("INSERT INTO spirit.report_types VALUES (?, ?, ?, ?, ?, ?)")?;
        for report in catalog.types.values() {
            let sections: Vec<&str> = report.spec.sections.iter().map(|s| s.name.as_str()).collect();
            insert.execute(duckdb::params![
                report.name,
                report.spec.title,
                report.spec.description,
                report.spec.days,
                sections.join(", "),
                report.source
            ])?;
        }
        Ok(())
    })
}

fn parse_spec(name: &str, text: &str, source: &str) -> Result<ReportSpec> {
    toml::from_str(text).map_err(|e| {
        invalid(format!(
            "report type {name} ({source}): invalid report.toml: {e}"
        ))
    })
}

/// Applies the files of `dir` over `types` and `layouts`.
fn override_from(
    dir: &Path,
    types: &mut BTreeMap<String, ReportType>,
    layouts: &mut BTreeMap<String, String>,
) -> Result<()> {
    let read = |path: &Path| -> Result<Option<String>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(invalid(format!("cannot read {}: {e}", path.display()))),
        }
    };
    for (layout, _) in LAYOUTS {
        if let Some(text) = read(&dir.join(layout))? {
            layouts.insert((*layout).to_owned(), text);
        }
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(invalid(format!(
                "cannot read reports_dir {}: {e}",
                dir.display()
            )));
        }
    };
    let mut dirs: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for path in dirs {
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let source = path.display().to_string();
        let spec = read(&path.join("report.toml"))?
            .map(|text| parse_spec(&name, &text, &source))
            .transpose()?;
        let html = read(&path.join("template.html"))?;
        let text = read(&path.join("template.txt"))?;
        match types.get_mut(&name) {
            Some(report) => {
                if let Some(spec) = spec {
                    report.spec = spec;
                }
                if let Some(html) = html {
                    report.html_template = html;
                }
                if let Some(text) = text {
                    report.text_template = text;
                }
                report.source = source;
            }
            None => {
                let Some(spec) = spec else {
                    return Err(invalid(format!(
                        "{source} is a new report type but has no report.toml; a directory \
                         there either overrides a bundled type ({}) or defines one",
                        types.keys().cloned().collect::<Vec<_>>().join(", ")
                    )));
                };
                let generic = &types["custom"];
                let report = ReportType {
                    name: name.clone(),
                    spec,
                    html_template: html.unwrap_or_else(|| generic.html_template.clone()),
                    text_template: text.unwrap_or_else(|| generic.text_template.clone()),
                    source,
                };
                types.insert(name, report);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_types_parse_and_have_sections() {
        let catalog = Catalog::load(None).unwrap();
        assert_eq!(catalog.types.len(), 7);
        for (name, report) in &catalog.types {
            if name != "custom" {
                assert!(!report.spec.sections.is_empty(), "{name} has no sections");
            }
            for section in &report.spec.sections {
                if let Some(chart) = &section.chart {
                    assert!(
                        !chart.y.is_empty(),
                        "{name}.{} chart has no y",
                        section.name
                    );
                }
            }
        }
        let err = catalog.get("nope").unwrap_err().to_string();
        assert!(err.contains("financial_summary"), "{err}");
    }

    #[test]
    fn a_directory_overrides_templates_and_adds_types() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("financial_summary")).unwrap();
        std::fs::write(
            dir.path().join("financial_summary/template.html"),
            "<p>mine</p>",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("weekly_ops")).unwrap();
        std::fs::write(
            dir.path().join("weekly_ops/report.toml"),
            "title = 'Ops'\ndescription = 'd'\n[[section]]\nname = 'a'\ntitle = 'A'\nsql = 'SELECT 1'\n",
        )
        .unwrap();
        let catalog = Catalog::load(Some(dir.path())).unwrap();
        let financial = catalog.get("financial_summary").unwrap();
        assert_eq!(financial.html_template, "<p>mine</p>");
        assert!(!financial.spec.sections.is_empty(), "the bundled SQL stays");
        assert_eq!(catalog.get("weekly_ops").unwrap().spec.title, "Ops");

        std::fs::create_dir(dir.path().join("orphan")).unwrap();
        std::fs::write(dir.path().join("orphan/template.html"), "x").unwrap();
        let err = Catalog::load(Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("no report.toml"), "{err}");
    }
}
