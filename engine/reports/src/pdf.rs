//! PDF output: the self-contained HTML printed by headless Chromium (`--print-to-pdf`), the
//! renderer that shows the report exactly as a browser does. Chromium is found as `$CHROMIUM`
//! or `chromium` / `chromium-browser` / `google-chrome` on the PATH (Debian: `apt-get install
//! chromium`); without it, asking for a PDF is a clear error.

use std::path::PathBuf;
use std::time::Duration;

use crate::{Result, error};

/// SQLSTATE 58000 (system error): the PDF renderer is missing or failed.
const RENDERER_FAILED: &str = "58000";

/// The Chromium binary, if one is installed.
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            ["chromium", "chromium-browser", "google-chrome"].map(|name| dir.join(name))
        })
        .find(|candidate| candidate.is_file())
}

/// Runs headless Chromium on the HTML file `input` with `args` (a `--print-to-pdf=…` or
/// `--screenshot=…`), waiting at most a minute.
pub async fn run_chromium(input: &std::path::Path, args: &[String]) -> Result<()> {
    let binary = chromium().ok_or_else(|| {
        error(
            RENDERER_FAILED,
            "PDF output needs Chromium: install it (apt-get install chromium) or set CHROMIUM \
             to its path",
        )
    })?;
    let profile = tempfile_dir()?;
    let mut command = tokio::process::Command::new(&binary);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", input.display()))
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = command.spawn().map_err(|e| {
        error(
            RENDERER_FAILED,
            format!("cannot start {}: {e}", binary.display()),
        )
    })?;
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await;
    let _ = std::fs::remove_dir_all(&profile);
    let output = output
        .map_err(|_| error(RENDERER_FAILED, "Chromium did not finish within 60 s"))?
        .map_err(|e| error(RENDERER_FAILED, format!("Chromium: {e}")))?;
    if !output.status.success() {
        return Err(error(
            RENDERER_FAILED,
            format!(
                "Chromium failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ));
    }
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "spirit-chromium-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).map_err(|e| {
        error(
            RENDERER_FAILED,
            format!("cannot create {}: {e}", dir.display()),
        )
    })?;
    Ok(dir)
}

/// `html` printed to PDF (A4, backgrounds on).
pub async fn html_to_pdf(html: &str) -> Result<Vec<u8>> {
    let dir = tempfile_dir()?;
    let input = dir.join("report.html");
    let output = dir.join("report.pdf");
    let io = |e: std::io::Error| error(RENDERER_FAILED, format!("PDF rendering: {e}"));
    std::fs::write(&input, html).map_err(io)?;
    let result = run_chromium(
        &input,
        &[
            format!("--print-to-pdf={}", output.display()),
            "--no-pdf-header-footer".into(),
        ],
    )
    .await
    .and_then(|()| std::fs::read(&output).map_err(io));
    let _ = std::fs::remove_dir_all(&dir);
    result
}
