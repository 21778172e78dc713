//! Test harness: a real `spirit serve` process on 127.0.0.1:0 over its own copy of the demo data.
//!
//! The demo data set is generated once per build of the `spirit` binary (fixed seed and end date)
//! into the target directory and copied for each server, so every test starts from the same data
//! and may change it freely.

pub mod raw;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tempfile::TempDir;

/// Last day of the test demo data.
pub const DEMO_END_DATE: &str = "2026-06-30";
/// Seed of the test demo data.
pub const DEMO_SEED: &str = "42";

/// The `spirit` binary under test: `$SPIRIT_BIN`, or the one built next to this test.
pub fn spirit_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("SPIRIT_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let bin = profile_dir.join("spirit");
    assert!(
        bin.exists(),
        "{} not found: build it first (make test does), or set SPIRIT_BIN",
        bin.display()
    );
    bin
}

/// Runs `spirit` with `args` and returns its output, failing the test when it fails.
pub fn spirit(args: &[&str]) -> std::process::Output {
    let output = Command::new(spirit_bin())
        .args(args)
        .output()
        .expect("run spirit");
    assert!(
        output.status.success(),
        "spirit {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A directory holding the test demo data, generated on first use for this build of the binary.
pub fn demo_template() -> PathBuf {
    let bin = spirit_bin();
    let meta = std::fs::metadata(&bin).expect("binary metadata");
    let stamp = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let root = bin.parent().expect("binary dir").join("spirit-test-demo");
    let dir = root.join(format!(
        "{DEMO_END_DATE}-{DEMO_SEED}-{stamp}-{}",
        meta.len()
    ));
    if dir.join("spirit.duckdb").exists() {
        return dir;
    }
    std::fs::create_dir_all(&root).expect("create demo cache dir");
    let work = tempfile::tempdir_in(&root).expect("temp dir");
    spirit(&[
        "demo",
        "--data-dir",
        work.path().to_str().expect("utf-8 path"),
        "--end-date",
        DEMO_END_DATE,
        "--seed",
        DEMO_SEED,
    ]);
    // Another test may have finished first; either copy is the same data.
    let _ = std::fs::rename(work.keep(), &dir);
    dir
}

/// How to start a server.
#[derive(Default)]
pub struct ServerOptions {
    /// Start on this data dir instead of a fresh copy of the demo data.
    pub data_dir: Option<PathBuf>,
    /// Extra environment variables (`SPIRIT_MAX_CONNECTIONS`, …).
    pub env: Vec<(String, String)>,
}

/// A running `spirit serve`; killed when dropped.
pub struct SpiritServer {
    child: Option<Child>,
    /// The pg-wire port.
    pub port: u16,
    /// The server's data dir.
    pub data_dir: PathBuf,
    _owned_dir: Option<TempDir>,
}

impl SpiritServer {
    /// A server over a fresh copy of the demo data.
    pub fn start() -> Self {
        Self::start_with(ServerOptions::default())
    }

    /// A server started with `options`.
    pub fn start_with(options: ServerOptions) -> Self {
        let (data_dir, owned) = match options.data_dir {
            Some(dir) => (dir, None),
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                std::fs::copy(
                    demo_template().join("spirit.duckdb"),
                    dir.path().join("spirit.duckdb"),
                )
                .expect("copy demo data");
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        let mut child = Command::new(spirit_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .envs(options.env)
            .env("SPIRIT_SHUTDOWN_GRACE_SECONDS", "2")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start spirit serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("spirit listening pg=") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(300))
            .expect("server did not report its address");
        let port = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in address");
        Self {
            child: Some(child),
            port,
            data_dir,
            _owned_dir: owned,
        }
    }

    /// Stops the server gracefully (asserting a clean exit) and starts a new one on the same data.
    pub fn restart(mut self) -> Self {
        assert!(self.stop().success(), "graceful shutdown must exit 0");
        let owned = self._owned_dir.take();
        let mut server = Self::start_with(ServerOptions {
            data_dir: Some(self.data_dir.clone()),
            ..Default::default()
        });
        server._owned_dir = owned;
        server
    }

    /// libpq-style connection string for this server.
    pub fn conninfo(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=spirit dbname=spirit",
            self.port
        )
    }

    /// A tokio-postgres client connected to this server.
    pub async fn connect(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.conninfo(), tokio_postgres::NoTls)
            .await
            .expect("connect to spirit");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        child.wait().expect("wait for spirit")
    }
}

impl Drop for SpiritServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The SQLSTATE of a failed tokio-postgres call.
pub fn sqlstate(err: &tokio_postgres::Error) -> String {
    err.code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| format!("no SQLSTATE: {err}"))
}
