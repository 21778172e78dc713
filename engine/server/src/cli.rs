//! The `spirit` command line: `serve`, `demo`, `sql`, `report run|list`, `user add` and
//! `plugin new|build|test`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use spirit_core::config::{LogFormat, Role};
use spirit_core::demo::{DemoOptions, DemoSummary};
use spirit_core::engine::Extension;
use spirit_core::{Config, Engine};
use spirit_plugins::Registry;
use tokio::net::TcpListener;
use tracing::info;

use crate::output::{OutputFormat, write_batches};
use crate::{server, users};

/// Spirit Analytics: SQL analytics for the Spirit Tours platform over the PostgreSQL protocol.
#[derive(Debug, Parser)]
#[command(name = "spirit", version, about)]
pub struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct CommonArgs {
    /// Configuration file (default: ./spirit.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory holding the embedded store (default: ./data).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the PostgreSQL wire protocol (generates the demo data first on an empty data dir).
    Serve {
        /// Address to listen on for pg-wire clients (default 127.0.0.1:5433).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// Address of the HTTP API, live feed and /metrics (default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        http_listen: Option<SocketAddr>,
    },
    /// (Re)generate the Spirit Tours demo data set into the store.
    Demo {
        /// Volume multiplier: 1 is about 100k bookings, 100 about 10M.
        #[arg(long)]
        scale: Option<u32>,
        /// Random seed; the same seed and end date give the same data.
        #[arg(long)]
        seed: Option<u64>,
        /// Last day of data, YYYY-MM-DD (default: today, UTC).
        #[arg(long, value_name = "DATE")]
        end_date: Option<NaiveDate>,
    },
    /// Manage the users who may connect (kept in the config file as SCRAM-SHA-256 verifiers).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Work with WebAssembly plugins.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Generate reports from the data dir.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Run one SQL statement against the data dir and print the result.
    Sql {
        /// The statement.
        query: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Create a connector or model plugin crate that builds and loads as it is.
    New {
        /// Its name: lower-case letters, digits and underscores (the `STORED AS` name, or the
        /// `algorithm` train_model takes).
        name: String,
        /// What it is.
        #[arg(long, value_enum, default_value = "connector")]
        kind: crate::plugin_cli::Kind,
        /// Where to create its directory.
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
    /// Build a plugin crate to a WebAssembly component (installing the toolchain if missing):
    /// writes dist/<name>/{<name>.wasm, plugin.toml}.
    Build {
        /// The plugin crate's directory.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Also install it into this plugins directory (the engine reloads it at once).
        #[arg(long, value_name = "DIR")]
        install: Option<PathBuf>,
    },
    /// Load a plugin as the engine does and print its tables and their first rows.
    Test {
        /// The plugin's directory (plugin.toml and <name>.wasm), or its .wasm file.
        path: PathBuf,
        /// A source option, `key=value` (repeat for more). (`--config` names the engine's
        /// config file.)
        #[arg(long = "set", value_name = "KEY=VALUE")]
        options: Vec<String>,
        /// Rows to print per table.
        #[arg(long, default_value_t = 10)]
        rows: u64,
        /// Output format of the rows.
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
}

#[derive(Debug, Subcommand)]
enum ReportCommand {
    /// Render one report (and deliver it when the options name destinations).
    Run {
        /// The report type (`spirit report list`).
        report_type: String,
        /// Write it here: `.html` (charts inline), `.txt`, or `.pdf` (needs Chromium);
        /// default: the HTML on standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Options JSON, as generate_report() takes them: `{"days": 7}`,
        /// `{"to": "cfo@example.com"}`, `{"sql": "..."}` for custom.
        #[arg(long, value_name = "JSON")]
        options: Option<String>,
    },
    /// List the report types.
    List,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user, or give an existing user a new role and password. Asks for the password
    /// twice on the terminal; the config file then holds only its SCRAM-SHA-256 verifier.
    Add {
        /// The user name clients log in with.
        name: String,
        /// `admin` (reads, creates and drops tables, external tables, schedules and plugins)
        /// or `analyst` (reads).
        #[arg(long)]
        role: Role,
        /// Read the password from the first line of standard input instead (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
}

impl Cli {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<()> {
        let mut config = Config::load(self.common.config.as_deref())?;
        if let Some(dir) = self.common.data_dir {
            config.data_dir = dir;
        }
        match self.command {
            Command::Serve {
                listen,
                http_listen,
            } => {
                if let Some(listen) = listen {
                    config.pg_listen = listen;
                }
                if let Some(listen) = http_listen {
                    config.http_listen = listen;
                }
                init_logging(config.log_format);
                serve(config).await
            }
            Command::Demo {
                scale,
                seed,
                end_date,
            } => {
                init_logging(config.log_format);
                let engine = open_engine(config.clone()).await?;
                let options = DemoOptions {
                    scale: scale.unwrap_or(config.demo_scale),
                    seed: seed.unwrap_or(config.demo_seed),
                    end_date: end_date.unwrap_or_else(today),
                    progress: true,
                };
                let summary = generate_demo(&engine, &options)?;
                for (table, rows) in &summary.rows {
                    println!("{table:<18} {rows:>12} rows");
                }
                Ok(())
            }
            Command::User {
                command:
                    UserCommand::Add {
                        name,
                        role,
                        password_stdin,
                    },
            } => {
                let path = self
                    .common
                    .config
                    .unwrap_or_else(|| PathBuf::from("spirit.toml"));
                let password = users::read_password(&name, password_stdin)?;
                let existed = users::add_user(&path, &name, role, &password)?;
                println!(
                    "{} user {name} ({}) in {}; restart `spirit serve` to apply",
                    if existed { "updated" } else { "added" },
                    role.name(),
                    path.display()
                );
                Ok(())
            }
            Command::Plugin {
                command: PluginCommand::New { name, kind, dir },
            } => {
                let root = crate::plugin_cli::new(&name, &dir, kind)?;
                println!(
                    "created {}; build it with `spirit plugin build {}`",
                    root.display(),
                    root.display()
                );
                Ok(())
            }
            Command::Plugin {
                command: PluginCommand::Build { path, install },
            } => {
                let out = crate::plugin_cli::build(&path, install.as_deref())?;
                println!("built {}", out.display());
                Ok(())
            }
            Command::Plugin {
                command:
                    PluginCommand::Test {
                        path,
                        options,
                        rows,
                        format,
                    },
            } => {
                init_logging(config.log_format);
                crate::plugin_cli::test(&path, &options, rows, format)
            }
            Command::Report { command } => {
                init_logging(config.log_format);
                // A wrong --out is refused before the engine opens.
                let format = match &command {
                    ReportCommand::Run { out, .. } => report_format(out.as_deref())?,
                    ReportCommand::List => "html",
                };
                let (_engine, reports) = open_engine_with_reports(config).await?;
                match command {
                    ReportCommand::Run {
                        report_type,
                        out,
                        options,
                    } => report_run(&reports, &report_type, out, format, options.as_deref()).await,
                    ReportCommand::List => {
                        for report in reports.catalog().types.values() {
                            println!("{:<20} {}", report.name, report.spec.title);
                        }
                        Ok(())
                    }
                }
            }
            Command::Sql { query, format } => {
                let engine = open_engine(config).await?;
                let batches = engine.sql(&query).await?.collect().await?;
                write_batches(&mut std::io::stdout().lock(), &batches, format)
            }
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.pg_listen;
    let access = server::Access::from_config(&config, listen)?;
    let (engine, reports) = open_engine_with_reports(config.clone()).await?;
    if engine.is_empty()? {
        info!(
            data_dir = %config.data_dir.display(),
            "empty data dir: generating the demo data set first (scale {}, seed {})",
            config.demo_scale,
            config.demo_seed
        );
        generate_demo(
            &engine,
            &DemoOptions {
                scale: config.demo_scale,
                seed: config.demo_seed,
                end_date: today(),
                progress: false,
            },
        )?;
    }
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let http_listen = config.http_listen;
    let http = TcpListener::bind(http_listen)
        .await
        .with_context(|| format!("cannot listen on {http_listen} (HTTP; --http-listen)"))?;
    let http_addr = http.local_addr()?;
    let addr = listener.local_addr()?;
    info!(%addr, database = %config.database, "pg-wire listening");
    info!(addr = %http_addr, "HTTP API listening: /api/openapi.json, /metrics");
    // Stable lines on stdout for scripts and tests that bind port 0; pg comes last.
    println!("spirit listening http={http_addr}");
    println!("spirit listening pg={addr}");
    // Schedules run only in a serving engine (not in `spirit sql` or `spirit demo`); runs
    // missed while it was down run now, once.
    reports.start_scheduler();
    server::run(
        listener,
        Some(http),
        Arc::new(engine),
        access,
        server::shutdown_signal(),
    )
    .await
}

/// Renders `report_type` to `out` (by its extension) or standard output, delivering it when
/// the options name destinations.
/// What `--out` asks for, by its extension: `html`, `txt` or `pdf`.
fn report_format(out: Option<&std::path::Path>) -> anyhow::Result<&'static str> {
    let Some(out) = out else {
        return Ok("html");
    };
    match out.extension().and_then(|e| e.to_str()) {
        Some("html" | "htm") => Ok("html"),
        Some("txt") => Ok("txt"),
        Some("pdf") => Ok("pdf"),
        _ => anyhow::bail!(
            "--out {}: write the report to a .html, .txt or .pdf file",
            out.display()
        ),
    }
}

async fn report_run(
    reports: &spirit_reports::Reports,
    report_type: &str,
    out: Option<PathBuf>,
    format: &str,
    options: Option<&str>,
) -> anyhow::Result<()> {
    let options = spirit_reports::options::Options::parse(options)?;
    let destinations = options.destinations()?;
    let (rendered, outcomes) = reports
        .run(report_type, &options, &destinations, None)
        .await?;
    for outcome in &outcomes {
        if outcome.delivered {
            eprintln!(
                "delivered to {} ({} bytes)",
                outcome.destination, outcome.bytes
            );
        }
    }
    spirit_reports::check_delivered(&outcomes)?;
    let Some(out) = out else {
        println!("{}", rendered.html);
        return Ok(());
    };
    let body = match format {
        "pdf" => spirit_reports::pdf::html_to_pdf(&rendered.html).await?,
        "txt" => rendered.text.into_bytes(),
        _ => rendered.html.into_bytes(),
    };
    std::fs::write(&out, &body).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!("wrote {} ({} bytes)", out.display(), body.len());
    Ok(())
}

/// Opens the engine with the plugins of `plugins_dir` loaded (their compiled code cached in
/// the data dir) and, unless `plugins_reload_seconds` is 0, watched for changes.
async fn open_engine(config: Config) -> anyhow::Result<Engine> {
    Ok(open_engine_with_reports(config).await?.0)
}

/// [`open_engine`], also returning the report functions (whose scheduler `serve` starts).
async fn open_engine_with_reports(
    config: Config,
) -> anyhow::Result<(Engine, Arc<spirit_reports::Reports>)> {
    let reload = (config.plugins_reload_seconds > 0)
        .then(|| std::time::Duration::from_secs(config.plugins_reload_seconds));
    let registry = Registry::new(
        &config.plugins_dir(),
        Some(&config.data_dir.join("plugin-cache")),
        reload,
    )?;
    info!(dir = %registry.dir().display(), "plugins directory");
    let retrain = std::time::Duration::from_secs(config.ml_retrain_hours.max(1) * 3600);
    let artifacts = config
        .ml_models_path
        .clone()
        .or_else(|| std::env::var_os("ML_MODELS_PATH").map(PathBuf::from));
    let ml = spirit_ml::Ml::new(Arc::clone(&registry), retrain, artifacts);
    let settings = spirit_reports::Settings::from_config(&config, |key| std::env::var(key).ok())?;
    let reports = spirit_reports::Reports::new(settings)?;
    let extensions: [Arc<dyn Extension>; 3] = [registry, ml, reports.clone()];
    Ok((Engine::open_with(config, &extensions).await?, reports))
}

fn generate_demo(engine: &Engine, options: &DemoOptions) -> anyhow::Result<DemoSummary> {
    let started = std::time::Instant::now();
    let summary = engine.generate_demo(options)?;
    let total: u64 = summary.rows.iter().map(|(_, n)| n).sum();
    info!(
        rows = total,
        from = %summary.days.0,
        to = %summary.days.1,
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        "demo data generated"
    );
    Ok(summary)
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
