//! The options of a report call (`generate_report(type, options_json)`, schedules): where to
//! deliver it, the period, and for the `custom` type its SQL, chart and template. Unknown keys
//! are refused, so a typo never silently drops a recipient.

use serde::Deserialize;

use crate::definitions::{ChartSpec, ReportType, Section};
use crate::delivery::Destination;
use crate::{Result, invalid};

/// Options, all optional.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Email recipients: one address or a list.
    #[serde(default)]
    pub to: Recipients,
    /// Carbon-copy recipients.
    #[serde(default)]
    pub cc: Recipients,
    /// Slack incoming-webhook URL.
    pub slack: Option<String>,
    /// URL the report is POSTed to as signed JSON.
    pub webhook: Option<String>,
    /// The webhook's HMAC-SHA256 key (else `report_webhook_secret`).
    pub webhook_secret: Option<String>,
    /// Directory the report is written to.
    pub dir: Option<String>,
    /// Also write (or attach) a PDF, rendered by headless Chromium.
    #[serde(default)]
    pub pdf: bool,
    /// Days the report covers, ending at the metrics' reference instant.
    pub days: Option<u32>,
    /// Title (and email subject) instead of the type's.
    pub title: Option<String>,
    /// A link shown in chat messages (where the full report lives).
    pub link: Option<String>,
    /// `custom`: the query.
    pub sql: Option<String>,
    /// `custom`: a chart of its rows.
    pub chart: Option<ChartSpec>,
    /// `custom`: an HTML template (minijinja) instead of the generic table.
    pub template: Option<String>,
    /// Schedules: the time of day (`07:30`) for daily, weekly, monthly and quarterly.
    pub at: Option<String>,
    /// Schedules: the IANA time zone (`Europe/Berlin`) times are in.
    pub timezone: Option<String>,
}

/// One address or several.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Recipients {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl Recipients {
    pub fn list(&self) -> Vec<String> {
        match self {
            Recipients::None => Vec::new(),
            Recipients::One(one) => one
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            Recipients::Many(many) => many.clone(),
        }
    }
}

const KEYS: &str = "to, cc, slack, webhook, webhook_secret, dir, pdf, days, title, link, sql, \
                    chart, template, at, timezone";

impl Options {
    /// Parses `text` (a JSON object; empty or NULL is no options).
    pub fn parse(text: Option<&str>) -> Result<Self> {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(Self::default());
        };
        serde_json::from_str(text).map_err(|e| {
            invalid(format!(
                "report options must be a JSON object with keys {KEYS}: {e}"
            ))
        })
    }

    /// Where to deliver: email (`to`, `cc`), Slack, webhook, directory.
    pub fn destinations(&self) -> Result<Vec<Destination>> {
        let mut out = Vec::new();
        let to = self.to.list();
        if !to.is_empty() {
            out.push(Destination::email(to, self.cc.list())?);
        } else if !self.cc.list().is_empty() {
            return Err(invalid("cc without to: name the main recipients in \"to\""));
        }
        if let Some(url) = &self.slack {
            out.push(Destination::slack(url)?);
        }
        if let Some(url) = &self.webhook {
            out.push(Destination::webhook(url)?);
        }
        if let Some(dir) = &self.dir {
            out.push(Destination::File(dir.into()));
        }
        Ok(out)
    }

    /// For `custom`, makes `report` run `sql` (with `chart` and `template`); refuses those
    /// keys for the other types, whose SQL is their own.
    pub fn apply_custom(&self, report: &mut ReportType) -> Result<()> {
        let custom = report.name == "custom";
        if !custom {
            if self.sql.is_some() || self.chart.is_some() || self.template.is_some() {
                return Err(invalid(format!(
                    "sql, chart and template are options of the custom report; {} has its own \
                     (override its template in reports_dir)",
                    report.name
                )));
            }
            return Ok(());
        }
        let Some(sql) = &self.sql else {
            return Err(invalid(
                "the custom report needs its query: {\"sql\": \"SELECT …\"} (and optionally \
                 \"chart\" and \"template\")",
            ));
        };
        report.spec.sections = vec![Section {
            name: "result".into(),
            title: self.title.clone().unwrap_or_else(|| "Result".into()),
            sql: sql.clone(),
            fallback_sql: None,
            note: None,
            chart: self.chart.clone(),
            table: true,
        }];
        if let Some(template) = &self.template {
            report.html_template = template.clone();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_refuse_unknown_keys() {
        let o = Options::parse(Some(
            r#"{"to": "cfo@example.com, ceo@example.com", "days": 7}"#,
        ))
        .unwrap();
        assert_eq!(o.to.list(), ["cfo@example.com", "ceo@example.com"]);
        assert_eq!(o.days, Some(7));
        assert_eq!(Options::parse(None).unwrap(), Options::default());
        let err = Options::parse(Some(r#"{"recipients": "x@y"}"#))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown field `recipients`") && err.contains("to, cc"),
            "{err}"
        );
        let err = Options::parse(Some("[1]")).unwrap_err().to_string();
        assert!(err.contains("JSON object"), "{err}");
    }
}
