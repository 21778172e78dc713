//! Spirit Analytics automated reports: report types defined as SQL and minijinja templates,
//! rendered to HTML (charts by plotters) and text, delivered by email, Slack, webhook or file,
//! on demand or on persisted schedules.
//!
//! - [`definitions`]: the report types (`queries/reports/<type>/`) and overrides.
//! - [`options`]: the options JSON of a call or schedule.
//! - [`table`]: query results as values, and how values are shown.
//! - [`charts`]: line and bar charts as PNG and SVG.
//! - [`render`]: running the sections and the templates.
//! - [`pdf`]: PDF output through headless Chromium.
//! - [`delivery`]: SMTP, Slack, signed webhooks, files.
//! - [`schedules`]: schedules and runs in the store; frequencies and cron.
//! - [`functions`]: `generate_report`, `schedule_report`, `unschedule_report`,
//!   `run_report_now`.

pub mod charts;
pub mod definitions;
pub mod delivery;
pub mod functions;
pub mod options;
pub mod pdf;
pub mod render;
pub mod schedules;
pub mod table;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::NaiveDateTime;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use spirit_core::SqlStateError;
use spirit_core::config::Config;
use spirit_core::engine::Extension;
use spirit_core::store::Store;

use crate::definitions::Catalog;
use crate::delivery::{Delivery, DeliverySettings, Destination, SmtpSecurity, SmtpSettings};
use crate::options::Options;
use crate::render::Rendered;
use crate::schedules::{Frequency, Schedule, utc_now};

/// SQLSTATE 22023: an argument has a value reports cannot use.
pub const INVALID_PARAMETER: &str = "22023";
/// SQLSTATE 58000: a delivery failed after its retries (the reason is in the message and in
/// `spirit.report_runs`).
pub const DELIVERY_FAILED: &str = "58000";

pub type Result<T> = datafusion::error::Result<T>;

/// An error with SQLSTATE `code`.
pub fn error(code: &'static str, message: impl Into<String>) -> DataFusionError {
    SqlStateError::new(code, message).into()
}

/// 22023 with `message`.
pub fn invalid(message: impl Into<String>) -> DataFusionError {
    error(INVALID_PARAMETER, message)
}

pub use spirit_core::engine::read_only_query as query;

/// What reports take from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Overrides and additions to the bundled report types.
    pub reports_dir: Option<PathBuf>,
    /// Time zone of schedules that name none.
    pub timezone: String,
    /// How often due schedules are looked for.
    pub poll: Duration,
    /// Delivery attempts before a run is recorded as failed.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled before each further one.
    pub retry_base: Duration,
    pub delivery: DeliverySettings,
    /// The reports' reference instant (`metrics_as_of`); now when unset.
    pub as_of: Option<NaiveDateTime>,
}

impl Settings {
    /// From `config`, with the SMTP server from `SMTP_HOST`, `SMTP_PORT`, `SMTP_USERNAME`,
    /// `SMTP_PASSWORD` (read through `env`) where the configuration leaves it out.
    pub fn from_config(
        config: &Config,
        env: impl Fn(&str) -> Option<String>,
    ) -> spirit_core::Result<Self> {
        let bad = |m: String| spirit_core::SpiritError::Config(m);
        let host = config.smtp_host.clone().or_else(|| env("SMTP_HOST"));
        let port = match config.smtp_port {
            Some(port) => Some(port),
            None => env("SMTP_PORT")
                .map(|p| {
                    p.parse::<u16>()
                        .map_err(|_| bad(format!("SMTP_PORT={p} is not a port number")))
                })
                .transpose()?,
        };
        let security = match config.smtp_tls.as_str() {
            "starttls" => SmtpSecurity::StartTls,
            "tls" => SmtpSecurity::Tls,
            "none" => SmtpSecurity::None,
            other => {
                return Err(bad(format!(
                    "smtp_tls = {other:?}: use starttls (the default), tls or none"
                )));
            }
        };
        let smtp = host.map(|host| SmtpSettings {
            from: config
                .smtp_from
                .clone()
                .unwrap_or_else(|| format!("Spirit Analytics <reports@{host}>")),
            host,
            port,
            username: config
                .smtp_username
                .clone()
                .or_else(|| env("SMTP_USERNAME")),
            password: config
                .smtp_password
                .clone()
                .or_else(|| env("SMTP_PASSWORD")),
            security,
            ca_file: config.smtp_ca_file.clone(),
            timeout: Duration::from_secs(config.report_timeout_seconds.max(1)),
        });
        if config.report_max_attempts == 0 {
            return Err(bad("report_max_attempts must be at least 1".into()));
        }
        Ok(Self {
            reports_dir: config.reports_dir.clone(),
            timezone: config.report_timezone.clone(),
            poll: Duration::from_secs_f64(config.report_poll_seconds.max(0.1)),
            max_attempts: config.report_max_attempts,
            retry_base: Duration::from_secs_f64(config.report_retry_seconds.max(0.0)),
            delivery: DeliverySettings {
                smtp,
                webhook_secret: config
                    .report_webhook_secret
                    .clone()
                    .or_else(|| env("REPORT_WEBHOOK_SECRET")),
                http_timeout: Duration::from_secs(config.report_timeout_seconds.max(1)),
            },
            as_of: config.metrics_as_of()?,
        })
    }
}

/// How one destination's delivery ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub run_id: i64,
    pub destination: String,
    pub delivered: bool,
    pub attempts: u32,
    pub bytes: u64,
    pub error: Option<String>,
}

/// The report engine: its types, settings, and the session it queries.
pub struct Reports {
    me: std::sync::Weak<Reports>,
    settings: Settings,
    catalog: Catalog,
    session: OnceLock<(SessionContext, Store)>,
}

impl std::fmt::Debug for Reports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reports")
            .field("types", &self.catalog.types.keys())
            .finish_non_exhaustive()
    }
}

impl Reports {
    /// Reports with `settings`; the report types are read now, so a broken override stops
    /// the engine at start-up rather than at the first scheduled run.
    pub fn new(settings: Settings) -> spirit_core::Result<Arc<Self>> {
        let catalog = Catalog::load(settings.reports_dir.as_deref())
            .map_err(|e| spirit_core::SpiritError::Config(e.to_string()))?;
        Ok(Arc::new_cyclic(|me| Self {
            me: me.clone(),
            settings,
            catalog,
            session: OnceLock::new(),
        }))
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn session(&self) -> Result<&(SessionContext, Store)> {
        self.session
            .get()
            .ok_or_else(|| error("55000", "the report functions are not installed"))
    }

    /// Renders report `report_type` with `options`.
    pub async fn render(&self, report_type: &str, options: &Options) -> Result<Rendered> {
        let (ctx, _) = self.session()?;
        let report = self.catalog.get(report_type)?;
        let as_of = self.settings.as_of.unwrap_or_else(utc_now);
        render::render(ctx, &self.catalog, report, options, as_of).await
    }

    /// Renders `report_type` and delivers it to `destinations` (each with retries), recording
    /// every delivery in `spirit.report_runs`; without destinations the run is recorded as
    /// `generated`.
    pub async fn run(
        &self,
        report_type: &str,
        options: &Options,
        destinations: &[Destination],
        schedule_id: Option<i64>,
    ) -> Result<(Rendered, Vec<Outcome>)> {
        let (_, store) = self.session()?;
        let rendered = match self.render(report_type, options).await {
            Ok(rendered) => rendered,
            Err(e) => {
                // A report that cannot render is a failed run too, for every destination.
                let shown: Vec<Option<String>> = if destinations.is_empty() {
                    vec![None]
                } else {
                    destinations.iter().map(|d| Some(d.describe())).collect()
                };
                for destination in shown {
                    let id = schedules::run_started(
                        store,
                        schedule_id,
                        report_type,
                        destination.as_deref(),
                    )?;
                    schedules::run_updated(
                        store,
                        id,
                        "failed",
                        0,
                        None,
                        Some(&format!("rendering failed: {e}")),
                    )?;
                }
                return Err(e);
            }
        };
        if destinations.is_empty() {
            let id = schedules::run_started(store, schedule_id, report_type, None)?;
            schedules::run_updated(
                store,
                id,
                "generated",
                0,
                Some(rendered.html.len() as u64),
                None,
            )?;
            return Ok((rendered, Vec::new()));
        }
        let pdf = if options.pdf {
            Some(pdf::html_to_pdf(&rendered.html).await?)
        } else {
            None
        };
        let mut outcomes = Vec::new();
        for destination in destinations {
            outcomes.push(
                self.deliver(
                    store,
                    &rendered,
                    destination,
                    options,
                    pdf.as_deref(),
                    schedule_id,
                )
                .await?,
            );
        }
        Ok((rendered, outcomes))
    }

    /// Delivers to one destination: up to `max_attempts` tries, waiting `retry_base`, then
    /// twice that, … between them; each attempt is recorded.
    async fn deliver(
        &self,
        store: &Store,
        rendered: &Rendered,
        destination: &Destination,
        options: &Options,
        pdf: Option<&[u8]>,
        schedule_id: Option<i64>,
    ) -> Result<Outcome> {
        let shown = destination.describe();
        let run_id =
            schedules::run_started(store, schedule_id, &rendered.report_type, Some(&shown))?;
        let mut settings = self.settings.delivery.clone();
        if let Some(secret) = &options.webhook_secret {
            settings.webhook_secret = Some(secret.clone());
        }
        let delivery = Delivery {
            report: rendered,
            link: options.link.as_deref(),
            pdf,
            settings: &settings,
            run_id,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            match delivery::deliver(destination, &delivery).await {
                Ok(bytes) => {
                    schedules::run_updated(store, run_id, "delivered", attempt, Some(bytes), None)?;
                    tracing::info!(report = %rendered.report_type, destination = %shown, bytes, attempt, "report delivered");
                    return Ok(Outcome {
                        run_id,
                        destination: shown,
                        delivered: true,
                        attempts: attempt,
                        bytes,
                        error: None,
                    });
                }
                Err(failure) => {
                    let last = failure.permanent || attempt >= self.settings.max_attempts;
                    let status = if last { "failed" } else { "retrying" };
                    schedules::run_updated(
                        store,
                        run_id,
                        status,
                        attempt,
                        None,
                        Some(&failure.reason),
                    )?;
                    if last {
                        tracing::error!(report = %rendered.report_type, destination = %shown, attempt, "report delivery failed: {}", failure.reason);
                        return Ok(Outcome {
                            run_id,
                            destination: shown,
                            delivered: false,
                            attempts: attempt,
                            bytes: 0,
                            error: Some(failure.reason),
                        });
                    }
                    let wait = self.settings.retry_base * 2u32.saturating_pow(attempt - 1);
                    tracing::warn!(report = %rendered.report_type, destination = %shown, attempt, "report delivery failed, retrying in {wait:?}: {}", failure.reason);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Validates and saves a schedule; its id.
    pub fn schedule(
        &self,
        report_type: &str,
        frequency: &str,
        destination: &str,
        options: &str,
    ) -> Result<i64> {
        let (_, store) = self.session()?;
        self.catalog.get(report_type)?;
        let parsed = Options::parse(Some(options))?;
        let destination_parsed = Destination::parse(destination)?;
        parsed.destinations()?;
        parsed.apply_custom(&mut self.catalog.get(report_type)?.clone())?;
        let frequency = Frequency::parse(
            frequency,
            parsed.at.as_deref(),
            parsed.timezone.as_deref(),
            &self.settings.timezone,
        )?;
        let schedule = Schedule {
            id: 0,
            report_type: report_type.to_owned(),
            frequency,
            destination: destination.trim().to_owned(),
            options: if options.trim().is_empty() {
                "{}".into()
            } else {
                options.to_owned()
            },
        };
        let mut shown: serde_json::Value =
            serde_json::from_str(&schedule.options).unwrap_or_default();
        if let Some(secret) = shown.get_mut("webhook_secret") {
            *secret = "***".into();
        }
        if let Some(slack) = shown.get_mut("slack") {
            *slack = Destination::Slack(slack.as_str().unwrap_or_default().to_owned())
                .describe()
                .into();
        }
        let id = schedules::insert(
            store,
            &schedule,
            &destination_parsed.describe(),
            &shown.to_string(),
            utc_now(),
        )?;
        tracing::info!(id, report = report_type, frequency = %schedule.frequency.text, "report scheduled");
        Ok(id)
    }

    /// Removes schedule `id`.
    pub fn unschedule(&self, id: i64) -> Result<()> {
        let (_, store) = self.session()?;
        schedules::delete(store, id)?;
        tracing::info!(id, "report unscheduled");
        Ok(())
    }

    /// Runs schedule `id` now (and, when it was due, moves it to its next time).
    pub async fn run_schedule(&self, id: i64) -> Result<Vec<Outcome>> {
        let (_, store) = self.session()?;
        let schedule = schedules::get(store, id)?;
        let options = Options::parse(Some(&schedule.options))?;
        let mut destinations = vec![Destination::parse(&schedule.destination)?];
        destinations.extend(options.destinations()?);
        let result = self
            .run(&schedule.report_type, &options, &destinations, Some(id))
            .await;
        let status = match &result {
            Ok((_, outcomes)) if outcomes.iter().all(|o| o.delivered) => "delivered",
            _ => "failed",
        };
        schedules::finished(store, &schedule, status, utc_now())?;
        result.map(|(_, outcomes)| outcomes)
    }

    /// Runs every due schedule once, the most overdue first: at start-up this is each run
    /// missed while the engine was down, once.
    pub async fn run_due(&self) -> Result<usize> {
        let (_, store) = self.session()?;
        let due = schedules::due(store, utc_now())?;
        for id in &due {
            if let Err(e) = self.run_schedule(*id).await {
                tracing::error!(schedule = id, "scheduled report failed: {e}");
            }
        }
        Ok(due.len())
    }

    /// Looks for due schedules every `poll`, for as long as the engine lives (`spirit serve`
    /// starts it; one-off commands do not).
    pub fn start_scheduler(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let me = self.me.clone();
        let poll = self.settings.poll;
        runtime.spawn(async move {
            loop {
                let Some(reports) = me.upgrade() else {
                    return;
                };
                if let Err(e) = reports.run_due().await {
                    tracing::error!("report scheduler: {e}");
                }
                drop(reports);
                tokio::time::sleep(poll).await;
            }
        });
    }
}

/// The failed deliveries of `outcomes` as one 58000 error, or `Ok` when all were delivered.
pub fn check_delivered(outcomes: &[Outcome]) -> Result<()> {
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.delivered)
        .map(|o| {
            format!(
                "{} failed after {} attempt{} (run {}): {}",
                o.destination,
                o.attempts,
                if o.attempts == 1 { "" } else { "s" },
                o.run_id,
                o.error.as_deref().unwrap_or("unknown")
            )
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(error(
            DELIVERY_FAILED,
            format!(
                "report delivery failed: {}; spirit.report_runs has the details",
                failed.join("; ")
            ),
        ))
    }
}

impl Extension for Reports {
    /// Creates the tables, lists the report types and registers the functions.
    fn install(&self, ctx: &SessionContext, store: &Store) -> spirit_core::Result<()> {
        schedules::create_tables(store)?;
        definitions::save_types(store, &self.catalog)?;
        if self.session.set((ctx.clone(), store.clone())).is_err() {
            return Err(spirit_core::SpiritError::Config(
                "the report functions are installed in one engine only".into(),
            ));
        }
        if let Some(me) = self.me.upgrade() {
            functions::register(&me, ctx);
        }
        Ok(())
    }
}
