//! Charts drawn with plotters from a section's rows: a line chart over dates (with a shaded
//! band, for a forecast's interval) and horizontal bars by category (with a target line,
//! bars that miss it in amber). Each is drawn twice from one routine: PNG for email (mail
//! clients do not show SVG) and SVG for the browser and files. Text is set in the bundled
//! DejaVu Sans, so a PNG looks the same on every machine.

use std::sync::Once;

use chrono::{DateTime, NaiveDate, Timelike};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::definitions::{ChartKind, ChartSpec};
use crate::table::{Cell, Table};
use crate::{Result, invalid};

/// A chart as PNG and as SVG.
#[derive(Debug, Clone)]
pub struct Chart {
    pub png: Vec<u8>,
    pub svg: String,
    pub width: u32,
    pub height: u32,
}

const WIDTH: u32 = 760;
/// PNGs are drawn at twice the size they are shown at, so they stay sharp on dense screens.
const PNG_SCALE: u32 = 2;

const PALETTE: [RGBColor; 5] = [
    RGBColor(31, 78, 121),
    RGBColor(230, 126, 34),
    RGBColor(39, 174, 96),
    RGBColor(142, 68, 173),
    RGBColor(127, 140, 141),
];
const GOOD: RGBColor = RGBColor(39, 174, 96);
const MISS: RGBColor = RGBColor(230, 126, 34);
const TARGET: RGBColor = RGBColor(192, 57, 43);
const GRID: RGBColor = RGBColor(225, 228, 232);
const INK: RGBColor = RGBColor(52, 61, 70);

fn register_fonts() {
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        let regular: &'static [u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
        let bold: &'static [u8] = include_bytes!("../assets/fonts/DejaVuSans-Bold.ttf");
        // The bundled files are valid fonts; a failure here is a build defect.
        for (style, bytes) in [(FontStyle::Normal, regular), (FontStyle::Bold, bold)] {
            plotters::style::register_font("sans-serif", style, bytes)
                .map_err(|_| "not a font")
                .expect("bundled font");
        }
    });
}

/// Draws `spec` over `table`; `None` when the table has no rows to draw.
pub fn draw(spec: &ChartSpec, table: &Table) -> Result<Option<Chart>> {
    register_fonts();
    let data = ChartData::from_table(spec, table)?;
    if data.is_empty() {
        return Ok(None);
    }
    let height = match spec.kind {
        ChartKind::Line => 320,
        ChartKind::Bar => (60 + 24 * data.categories.len() as u32).clamp(160, 900),
    };
    let (w, h) = (WIDTH * PNG_SCALE, height * PNG_SCALE);
    let mut pixels = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        plot(&root, spec, &data, PNG_SCALE as f64).map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        plot(&root, spec, &data, 1.0).map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(Some(Chart {
        png: encode_png(&pixels, w, h)?,
        svg,
        width: WIDTH,
        height,
    }))
}

fn chart_error(e: impl std::fmt::Display) -> datafusion::error::DataFusionError {
    invalid(format!("cannot draw chart: {e}"))
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(chart_error)?;
    writer.write_image_data(rgb).map_err(chart_error)?;
    writer.finish().map_err(chart_error)?;
    Ok(out)
}

/// The values a chart draws, read from the table.
struct ChartData {
    /// Line charts: x as days since 1970-01-01.
    xs: Vec<f64>,
    /// Bar charts: the category of each bar.
    categories: Vec<String>,
    /// One series per `y` column: (label, values; NaN where NULL).
    series: Vec<(String, Vec<f64>)>,
    band: Option<(Vec<f64>, Vec<f64>)>,
}

impl ChartData {
    fn from_table(spec: &ChartSpec, table: &Table) -> Result<Self> {
        let x = table.column_index(&spec.x)?;
        let values = |name: &str| -> Result<Vec<f64>> {
            let i = table.column_index(name)?;
            Ok(table
                .rows
                .iter()
                .map(|row| row[i].as_f64().unwrap_or(f64::NAN))
                .collect())
        };
        let series = spec
            .y
            .iter()
            .map(|name| Ok((label(name), values(name)?)))
            .collect::<Result<Vec<_>>>()?;
        let band = spec
            .band
            .as_ref()
            .map(|[lower, upper]| {
                Ok::<_, datafusion::error::DataFusionError>((values(lower)?, values(upper)?))
            })
            .transpose()?;
        let (mut xs, mut categories) = (Vec::new(), Vec::new());
        for row in &table.rows {
            match spec.kind {
                ChartKind::Line => xs.push(match &row[x] {
                    Cell::Date(d) => days(*d),
                    Cell::Timestamp(t) => {
                        days(t.date()) + f64::from(t.time().num_seconds_from_midnight()) / 86_400.0
                    }
                    other => other.as_f64().ok_or_else(|| {
                        invalid(format!(
                            "line chart x column {} must hold dates or numbers, not {other:?}",
                            spec.x
                        ))
                    })?,
                }),
                ChartKind::Bar => categories.push(row[x].to_string()),
            }
        }
        if spec.kind == ChartKind::Bar && spec.y.len() != 1 {
            return Err(invalid(format!(
                "a bar chart draws one y column, not {}",
                spec.y.len()
            )));
        }
        Ok(Self {
            xs,
            categories,
            series,
            band,
        })
    }

    fn is_empty(&self) -> bool {
        self.series
            .iter()
            .all(|(_, values)| values.iter().all(|v| !v.is_finite()))
    }

    /// The value axis: from 0 for bars, and for lines unless their values are far from 0
    /// (a rate between 90% and 100%); with room above the data for the legend.
    fn value_range(&self, kind: ChartKind, target: Option<f64>) -> (f64, f64) {
        let mut all: Vec<f64> = self
            .series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .collect();
        if let Some((lower, upper)) = &self.band {
            all.extend(lower.iter().chain(upper).copied());
        }
        all.extend(target);
        let (lo, hi) = all
            .into_iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        let span = (hi - lo).max(hi.abs() * 0.01).max(1e-9);
        match kind {
            ChartKind::Bar => (lo.min(0.0), hi.max(0.0) + span * 0.05),
            ChartKind::Line if lo >= 0.0 && lo < span => (0.0, hi + span * 0.3),
            ChartKind::Line => (lo - span * 0.1, hi + span * 0.3),
        }
    }
}

fn days(date: NaiveDate) -> f64 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")).num_days() as f64
}

/// `revenue_generated` → `Revenue generated`.
fn label(column: &str) -> String {
    let text = column.replace('_', " ");
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// An axis value in the chart's unit: `€12.3k`, `94%`, `1,250`.
fn format_value(unit: Option<&str>, v: f64) -> String {
    match unit {
        Some("ratio") => format!("{:.0}%", v * 100.0),
        Some("eur") if v.abs() >= 1_000_000.0 => format!("€{:.1}M", v / 1_000_000.0),
        Some("eur") if v.abs() >= 1_000.0 => format!("€{:.0}k", v / 1_000.0),
        Some("eur") => format!("€{v:.0}"),
        _ if v.abs() >= 10_000.0 => format!("{:.0}k", v / 1_000.0),
        _ if v.fract() == 0.0 => format!("{v:.0}"),
        _ => format!("{v:.2}"),
    }
}

fn plot<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spec: &ChartSpec,
    data: &ChartData,
    scale: f64,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let px = |v: f64| (v * scale).round() as u32;
    let font = |size: f64| ("sans-serif", size * scale).into_font().color(&INK);
    root.fill(&WHITE)?;
    let unit = spec.unit.as_deref();
    let (lo, hi) = data.value_range(spec.kind, spec.target);
    match spec.kind {
        ChartKind::Line => {
            let (x0, x1) = data
                .xs
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                    (a.min(x), b.max(x))
                });
            let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
            let mut chart = ChartBuilder::on(root)
                .margin(px(12.0))
                .x_label_area_size(px(30.0))
                .y_label_area_size(px(62.0))
                .build_cartesian_2d(x0..x1, lo..hi)?;
            chart
                .configure_mesh()
                .light_line_style(TRANSPARENT)
                .bold_line_style(GRID.stroke_width(px(1.0)))
                .axis_style(GRID.stroke_width(px(1.0)))
                .x_labels(7)
                .y_labels(6)
                .label_style(font(12.0))
                .x_label_formatter(&|x| {
                    DateTime::from_timestamp((*x * 86_400.0) as i64, 0)
                        .map(|t| t.format("%d %b").to_string())
                        .unwrap_or_default()
                })
                .y_label_formatter(&|y| format_value(unit, *y))
                .draw()?;
            if let Some((lower, upper)) = &data.band {
                let points: Vec<(f64, f64)> = data
                    .xs
                    .iter()
                    .zip(upper)
                    .filter(|(_, u)| u.is_finite())
                    .map(|(x, u)| (*x, *u))
                    .chain(
                        data.xs
                            .iter()
                            .zip(lower)
                            .rev()
                            .filter(|(_, l)| l.is_finite())
                            .map(|(x, l)| (*x, *l)),
                    )
                    .collect();
                if points.len() > 2 {
                    chart
                        .draw_series(std::iter::once(Polygon::new(
                            points,
                            PALETTE[1].mix(0.18).filled(),
                        )))?
                        .label("Interval")
                        .legend(move |(x, y)| {
                            Rectangle::new(
                                [(x, y - 5), (x + 18, y + 5)],
                                PALETTE[1].mix(0.18).filled(),
                            )
                        });
                }
            }
            for (i, (name, values)) in data.series.iter().enumerate() {
                let color = PALETTE[i % PALETTE.len()];
                // A NULL splits the line: history and forecast share the x axis.
                let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
                for (x, v) in data.xs.iter().zip(values) {
                    if v.is_finite() {
                        runs.last_mut().expect("one run").push((*x, *v));
                    } else if !runs.last().expect("one run").is_empty() {
                        runs.push(Vec::new());
                    }
                }
                let style = color.stroke_width(px(2.0));
                let runs = runs.into_iter().filter(|r| !r.is_empty());
                for (k, run) in runs.enumerate() {
                    let drawn = chart.draw_series(LineSeries::new(run, style))?;
                    if k == 0 {
                        drawn.label(name.clone()).legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3))
                        });
                    }
                }
            }
            if let Some(target) = spec.target {
                chart.draw_series(LineSeries::new(
                    [(x0, target), (x1, target)],
                    TARGET.stroke_width(px(1.5)),
                ))?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .label_font(font(12.0))
                .background_style(WHITE.mix(0.85))
                .border_style(GRID)
                .draw()?;
        }
        ChartKind::Bar => {
            let n = data.categories.len();
            let values = &data.series[0].1;
            let mut chart = ChartBuilder::on(root)
                .margin(px(12.0))
                .x_label_area_size(px(28.0))
                .y_label_area_size(px(190.0))
                .build_cartesian_2d(lo..hi, (0..n).into_segmented())?;
            // Row i is drawn at segment n-1-i, so the table's first row is at the top.
            let category = |segment: &SegmentValue<usize>| match segment {
                SegmentValue::CenterOf(i) if *i < n => data.categories[n - 1 - i].clone(),
                _ => String::new(),
            };
            chart
                .configure_mesh()
                .disable_y_mesh()
                .light_line_style(TRANSPARENT)
                .bold_line_style(GRID.stroke_width(px(1.0)))
                .axis_style(GRID.stroke_width(px(1.0)))
                .y_labels(n)
                .x_labels(6)
                .label_style(font(12.0))
                .y_label_formatter(&category)
                .x_label_formatter(&|v| format_value(unit, *v))
                .draw()?;
            chart.draw_series(
                values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(i, v)| {
                        let color = match spec.target {
                            Some(target) if *v < target => MISS,
                            Some(_) => GOOD,
                            None => PALETTE[0],
                        };
                        let segment = n - 1 - i;
                        let mut bar = Rectangle::new(
                            [
                                (0.0, SegmentValue::Exact(segment)),
                                (*v, SegmentValue::Exact(segment + 1)),
                            ],
                            color.filled(),
                        );
                        bar.set_margin(px(3.0), px(3.0), 0, 0);
                        bar
                    }),
            )?;
            if let Some(target) = spec.target {
                let label = spec
                    .target_label
                    .clone()
                    .unwrap_or_else(|| format!("Target {}", format_value(unit, target)));
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![
                            (target, SegmentValue::Exact(0)),
                            (target, SegmentValue::Exact(n)),
                        ],
                        TARGET.stroke_width(px(2.0)),
                    )))?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], TARGET.stroke_width(3))
                    });
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::LowerRight)
                    .label_font(font(12.0))
                    .background_style(WHITE.mix(0.9))
                    .border_style(GRID)
                    .draw()?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Table;

    fn spec(kind: ChartKind, x: &str, y: &[&str]) -> ChartSpec {
        ChartSpec {
            kind,
            x: x.into(),
            y: y.iter().map(|s| s.to_string()).collect(),
            band: None,
            target: None,
            target_label: None,
            unit: None,
        }
    }

    #[test]
    fn line_chart_with_band_draws_png_and_svg() {
        let start = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let table = Table {
            columns: ["day", "revenue", "forecast", "lower", "upper"]
                .map(String::from)
                .to_vec(),
            rows: (0..40)
                .map(|i| {
                    let day = Cell::Date(start + chrono::Days::new(i));
                    let v = 1000.0 + 50.0 * (i as f64).sin();
                    if i < 30 {
                        vec![day, Cell::Float(v), Cell::Null, Cell::Null, Cell::Null]
                    } else {
                        vec![
                            day,
                            Cell::Null,
                            Cell::Float(v),
                            Cell::Float(v - 80.0),
                            Cell::Float(v + 80.0),
                        ]
                    }
                })
                .collect(),
        };
        let mut spec = spec(ChartKind::Line, "day", &["revenue", "forecast"]);
        spec.band = Some(["lower".into(), "upper".into()]);
        spec.unit = Some("eur".into());
        let chart = draw(&spec, &table).unwrap().unwrap();
        assert_eq!(&chart.png[1..4], b"PNG");
        assert!(chart.svg.starts_with("<svg"), "{}", &chart.svg[..40]);
        assert!(
            chart.svg.contains("Forecast"),
            "the legend names the series"
        );
        assert!(chart.svg.contains("€1k"), "axis labels in EUR");
    }

    #[test]
    fn bars_against_a_target_and_bad_columns() {
        let table = Table {
            columns: vec!["agent".into(), "success_rate".into()],
            rows: vec![
                vec![Cell::Text("Booking Assistant".into()), Cell::Float(0.97)],
                vec![Cell::Text("Refund Bot".into()), Cell::Float(0.91)],
            ],
        };
        let mut bars = spec(ChartKind::Bar, "agent", &["success_rate"]);
        bars.target = Some(0.94);
        bars.unit = Some("ratio".into());
        let chart = draw(&bars, &table).unwrap().unwrap();
        assert!(chart.svg.contains("Refund Bot") && chart.svg.contains("Target 94%"));

        let missing = spec(ChartKind::Bar, "agent", &["nope"]);
        let err = draw(&missing, &table).unwrap_err().to_string();
        assert!(
            err.contains("nope") && err.contains("success_rate"),
            "{err}"
        );

        let empty = Table {
            columns: table.columns.clone(),
            rows: vec![],
        };
        assert!(draw(&bars, &empty).unwrap().is_none());
    }
}
