//! Delivering a rendered report: email over SMTP (lettre; STARTTLS, TLS or plain, with
//! authentication), a Slack incoming webhook (summary blocks and a link), a generic webhook
//! (JSON signed with HMAC-SHA256), or a file in a directory. One attempt each; the caller
//! retries (see `crate::runs`).

use std::path::PathBuf;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use lettre::message::header::ContentType;
use lettre::message::{Attachment as MailAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;
use sha2::Sha256;

use crate::render::Rendered;
use crate::{Result, invalid};

/// Where a report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Email { to: Vec<String>, cc: Vec<String> },
    Slack(String),
    Webhook(String),
    File(PathBuf),
}

/// The header carrying a webhook body's signature: `sha256=<hex HMAC-SHA256(secret, body)>`.
pub const SIGNATURE_HEADER: &str = "X-Spirit-Signature-256";

impl Destination {
    /// Email to `to` (and `cc`), each address checked.
    pub fn email(to: Vec<String>, cc: Vec<String>) -> Result<Self> {
        for address in to.iter().chain(&cc) {
            address
                .parse::<Mailbox>()
                .map_err(|e| invalid(format!("\"{address}\" is not an email address: {e}")))?;
        }
        Ok(Destination::Email { to, cc })
    }

    pub fn slack(url: &str) -> Result<Self> {
        check_url(url, "slack")?;
        Ok(Destination::Slack(url.to_owned()))
    }

    pub fn webhook(url: &str) -> Result<Self> {
        check_url(url, "webhook")?;
        Ok(Destination::Webhook(url.to_owned()))
    }

    /// A schedule's destination: `cfo@example.com` (or several, comma-separated, or
    /// `mailto:`), `slack:<webhook url>`, `webhook:<url>` (or a bare `https://` URL), or
    /// `file:<directory>` (or an absolute path).
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let lower = text.to_ascii_lowercase();
        if let Some(rest) = strip(text, &lower, "mailto:") {
            return Self::email(split(rest), Vec::new());
        }
        if let Some(rest) = strip(text, &lower, "slack:") {
            return Self::slack(rest);
        }
        if let Some(rest) = strip(text, &lower, "webhook:") {
            return Self::webhook(rest);
        }
        if let Some(rest) = strip(text, &lower, "file:") {
            return Ok(Destination::File(rest.trim_start_matches("//").into()));
        }
        if lower.starts_with("https://hooks.slack.com/") {
            return Self::slack(text);
        }
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return Self::webhook(text);
        }
        if text.starts_with('/') {
            return Ok(Destination::File(text.into()));
        }
        if text.contains('@') {
            return Self::email(split(text), Vec::new());
        }
        Err(invalid(format!(
            "destination \"{text}\" is not one of: an email address (cfo@example.com, or \
             several separated by commas), slack:<incoming webhook URL>, webhook:<URL>, \
             file:<directory>"
        )))
    }

    /// The destination as `spirit.report_runs` shows it.
    pub fn describe(&self) -> String {
        match self {
            Destination::Email { to, cc } if cc.is_empty() => format!("email:{}", to.join(",")),
            Destination::Email { to, cc } => {
                format!("email:{} cc:{}", to.join(","), cc.join(","))
            }
            Destination::Slack(url) => format!("slack:{}", redact(url)),
            Destination::Webhook(url) => format!("webhook:{url}"),
            Destination::File(dir) => format!("file:{}", dir.display()),
        }
    }
}

fn strip<'a>(text: &'a str, lower: &str, prefix: &str) -> Option<&'a str> {
    lower
        .starts_with(prefix)
        .then(|| text[prefix.len()..].trim())
}

fn split(text: &str) -> Vec<String> {
    text.split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn check_url(url: &str, what: &str) -> Result<()> {
    let lower = url.to_ascii_lowercase();
    if (lower.starts_with("http://") || lower.starts_with("https://")) && url.len() > 8 {
        Ok(())
    } else {
        Err(invalid(format!(
            "the {what} destination must be an http:// or https:// URL, not \"{url}\""
        )))
    }
}

/// Slack webhook URLs are secrets: only their host is shown.
fn redact(url: &str) -> String {
    match url.splitn(4, '/').collect::<Vec<_>>().as_slice() {
        [scheme, "", host, _] => format!("{scheme}//{host}/…"),
        _ => url.to_owned(),
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// STARTTLS, required (port 587 by default).
    StartTls,
    /// TLS from the first byte (port 465 by default).
    Tls,
    /// Plain text: only for a relay on the same host or a test server (port 25 by default).
    None,
}

/// The SMTP server reports are sent through.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
    pub security: SmtpSecurity,
    /// A PEM file of extra CA certificates to trust (a private CA).
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

/// What delivery settings a destination needs.
#[derive(Debug, Clone, Default)]
pub struct DeliverySettings {
    pub smtp: Option<SmtpSettings>,
    pub webhook_secret: Option<String>,
    pub http_timeout: Duration,
}

/// A failed attempt: its reason, and whether trying again could help.
#[derive(Debug, Clone)]
pub struct Failure {
    pub reason: String,
    pub permanent: bool,
}

impl Failure {
    fn retry(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            permanent: false,
        }
    }

    fn permanent(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            permanent: true,
        }
    }
}

/// What one delivery sends: the rendered report, plus options that shape the message.
pub struct Delivery<'a> {
    pub report: &'a Rendered,
    pub link: Option<&'a str>,
    pub pdf: Option<&'a [u8]>,
    pub settings: &'a DeliverySettings,
    /// Identifies the run in webhook payloads.
    pub run_id: i64,
}

/// Delivers once to `destination`; the bytes sent on success.
pub async fn deliver(
    destination: &Destination,
    d: &Delivery<'_>,
) -> std::result::Result<u64, Failure> {
    match destination {
        Destination::Email { to, cc } => send_email(to, cc, d).await,
        Destination::Slack(url) => {
            let body = slack_message(d);
            post_json(url.clone(), body, Vec::new(), d.settings.http_timeout).await
        }
        Destination::Webhook(url) => {
            let secret = d.settings.webhook_secret.as_deref().ok_or_else(|| {
                Failure::permanent(
                    "webhooks are signed: set report_webhook_secret in spirit.toml (or \
                     REPORT_WEBHOOK_SECRET), or webhook_secret in the options",
                )
            })?;
            let body = serde_json::to_vec(&webhook_payload(d)).expect("JSON values serialise");
            let signature = sign(secret.as_bytes(), &body);
            let headers = vec![
                (SIGNATURE_HEADER.to_owned(), signature),
                ("X-Spirit-Report".to_owned(), d.report.report_type.clone()),
                ("X-Spirit-Run".to_owned(), d.run_id.to_string()),
            ];
            post_json(url.clone(), body, headers, d.settings.http_timeout).await
        }
        Destination::File(dir) => write_files(dir, d).await,
    }
}

/// `sha256=<hex>` of HMAC-SHA256 over `body` with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

async fn send_email(
    to: &[String],
    cc: &[String],
    d: &Delivery<'_>,
) -> std::result::Result<u64, Failure> {
    let smtp = d.settings.smtp.as_ref().ok_or_else(|| {
        Failure::permanent(
            "no SMTP server is configured: set smtp_host (and smtp_port, smtp_username, \
             smtp_password, smtp_from) in spirit.toml, or SMTP_HOST, SMTP_PORT, SMTP_USERNAME, \
             SMTP_PASSWORD",
        )
    })?;
    let message = email_message(to, cc, smtp, d)?;
    let bytes = message.formatted().len() as u64;
    let transport = smtp_transport(smtp)?;
    transport.send(message).await.map_err(|e| {
        Failure::retry(format!(
            "SMTP {}:{}: {}",
            smtp.host,
            port(smtp),
            error_chain(&e)
        ))
    })?;
    Ok(bytes)
}

fn port(smtp: &SmtpSettings) -> u16 {
    smtp.port.unwrap_or(match smtp.security {
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Tls => 465,
        SmtpSecurity::None => 25,
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = inner.source();
    }
    message
}

fn smtp_transport(
    smtp: &SmtpSettings,
) -> std::result::Result<AsyncSmtpTransport<Tokio1Executor>, Failure> {
    let tls = match smtp.security {
        SmtpSecurity::None => Tls::None,
        security => {
            let mut params = TlsParameters::builder(smtp.host.clone());
            if let Some(path) = &smtp.ca_file {
                let pem = std::fs::read(path).map_err(|e| {
                    Failure::permanent(format!("smtp_ca_file {}: {e}", path.display()))
                })?;
                let certificate = Certificate::from_pem(&pem).map_err(|e| {
                    Failure::permanent(format!("smtp_ca_file {}: {e}", path.display()))
                })?;
                params = params.add_root_certificate(certificate);
            }
            let params = params
                .build_rustls()
                .map_err(|e| Failure::permanent(format!("SMTP TLS settings: {e}")))?;
            if security == SmtpSecurity::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        }
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(port(smtp))
        .tls(tls)
        .timeout(Some(smtp.timeout));
    if let Some(user) = &smtp.username {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            smtp.password.clone().unwrap_or_default(),
        ));
    }
    Ok(builder.build())
}

/// The email: text and HTML alternatives, the charts as inline PNG parts the HTML references
/// by content id, and the CSV (and PDF) attachments.
fn email_message(
    to: &[String],
    cc: &[String],
    smtp: &SmtpSettings,
    d: &Delivery<'_>,
) -> std::result::Result<Message, Failure> {
    let mailbox = |address: &str| {
        address
            .parse::<Mailbox>()
            .map_err(|e| Failure::permanent(format!("\"{address}\" is not an email address: {e}")))
    };
    let report = d.report;
    let mut builder = Message::builder()
        // A fresh <id@host> Message-ID, which mail servers and threading expect.
        .message_id(None)
        .from(mailbox(&smtp.from)?)
        .subject(format!(
            "{} – {}",
            report.title,
            report.period_end.format("%d %b %Y")
        ));
    for address in to {
        builder = builder.to(mailbox(address)?);
    }
    for address in cc {
        builder = builder.cc(mailbox(address)?);
    }
    let png = ContentType::parse("image/png").expect("valid content type");
    let mut related = MultiPart::related().multipart(MultiPart::alternative_plain_html(
        report.text.clone(),
        report.email_html.clone(),
    ));
    for image in &report.images {
        related = related.singlepart(
            MailAttachment::new_inline(image.content_id.clone())
                .body(image.png.clone(), png.clone()),
        );
    }
    let mut mixed = MultiPart::mixed().multipart(related);
    for attachment in &report.attachments {
        let content_type = ContentType::parse(attachment.content_type).expect("valid content type");
        mixed = mixed.singlepart(
            MailAttachment::new(attachment.filename.clone())
                .body(attachment.body.clone(), content_type),
        );
    }
    if let Some(pdf) = d.pdf {
        let content_type = ContentType::parse("application/pdf").expect("valid content type");
        let part: SinglePart = MailAttachment::new(format!("{}.pdf", report.file_stem()))
            .body(pdf.to_vec(), content_type);
        mixed = mixed.singlepart(part);
    }
    builder
        .multipart(mixed)
        .map_err(|e| Failure::permanent(format!("cannot build the email: {e}")))
}

/// Slack Block Kit: a header, the period, the headline figures as fields, and a link.
fn slack_message(d: &Delivery<'_>) -> Vec<u8> {
    let report = d.report;
    let period = format!(
        "{} – {}",
        report.period_start.format("%d %b %Y"),
        report.period_end.format("%d %b %Y")
    );
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": report.title}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": period}]}),
    ];
    for chunk in report.summary.chunks(10) {
        let fields: Vec<_> = chunk
            .iter()
            .map(|(label, value)| json!({"type": "mrkdwn", "text": format!("*{label}*\n{value}")}))
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if let Some(link) = d.link {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("<{link}|Open the full report>")}
        }));
    }
    let summary: Vec<String> = report
        .summary
        .iter()
        .map(|(label, value)| format!("{label}: {value}"))
        .collect();
    let text = format!("{} ({period}) {}", report.title, summary.join(", "));
    serde_json::to_vec(&json!({"text": text, "blocks": blocks})).expect("JSON values serialise")
}

/// The webhook body: what the report is, its headline figures, its tables, and its HTML.
fn webhook_payload(d: &Delivery<'_>) -> serde_json::Value {
    let report = d.report;
    let timestamp = |t: chrono::NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    json!({
        "run_id": d.run_id,
        "report_type": report.report_type,
        "title": report.title,
        "generated_at": timestamp(report.generated_at),
        "period_start": timestamp(report.period_start),
        "period_end": timestamp(report.period_end),
        "summary": report.summary.iter().map(|(l, v)| json!({"label": l, "value": v})).collect::<Vec<_>>(),
        "tables": report.tables,
        "link": d.link,
        "html": report.html,
    })
}

async fn post_json(
    url: String,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    timeout: Duration,
) -> std::result::Result<u64, Failure> {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        let mut request = agent.post(&url).header("Content-Type", "application/json");
        for (name, value) in &headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = request
            .send(&body[..])
            .map_err(|e| Failure::retry(format!("POST {url}: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(body.len() as u64);
        }
        let answer = response
            .body_mut()
            .with_config()
            .limit(4096)
            .read_to_string()
            .unwrap_or_default();
        let reason = format!("POST {url}: HTTP {status}: {}", answer.trim());
        // A 4xx other than 408 and 429 will not change by trying again.
        if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
            Err(Failure::permanent(reason))
        } else {
            Err(Failure::retry(reason))
        }
    })
    .await
    .map_err(|e| Failure::retry(format!("POST: {e}")))?
}

/// Writes `<stem>.html`, `<stem>.txt`, the CSVs (and the PDF) into `dir`, each through a
/// temporary file and a rename, so a reader never sees half a report. A second run on the
/// same day gets the time in its names.
async fn write_files(dir: &std::path::Path, d: &Delivery<'_>) -> std::result::Result<u64, Failure> {
    let report = d.report;
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("html".into(), report.html.clone().into_bytes()),
        ("txt".into(), report.text.clone().into_bytes()),
    ];
    if let Some(pdf) = d.pdf {
        files.push(("pdf".into(), pdf.to_vec()));
    }
    let dir = dir.to_path_buf();
    let mut stem = report.file_stem();
    if dir.join(format!("{stem}.html")).exists() {
        stem = format!("{stem}_{}", report.generated_at.format("%H%M%S"));
    }
    let csvs: Vec<(String, Vec<u8>)> = report
        .attachments
        .iter()
        .map(|a| {
            (
                a.filename.replacen(&report.file_stem(), &stem, 1),
                a.body.clone(),
            )
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::retry(format!("cannot create {}: {e}", dir.display())))?;
        let mut total = 0u64;
        let named = files
            .into_iter()
            .map(|(ext, body)| (format!("{stem}.{ext}"), body))
            .chain(csvs);
        for (name, body) in named {
            let path = dir.join(&name);
            let partial = dir.join(format!(".{name}.partial"));
            std::fs::write(&partial, &body)
                .and_then(|()| std::fs::rename(&partial, &path))
                .map_err(|e| Failure::retry(format!("cannot write {}: {e}", path.display())))?;
            total += body.len() as u64;
        }
        Ok(total)
    })
    .await
    .map_err(|e| Failure::retry(format!("file delivery: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse_from_their_short_forms() {
        assert_eq!(
            Destination::parse("cfo@example.com, ceo@example.com").unwrap(),
            Destination::Email {
                to: vec!["cfo@example.com".into(), "ceo@example.com".into()],
                cc: vec![]
            }
        );
        assert_eq!(
            Destination::parse("slack:https://hooks.slack.com/services/T/B/X").unwrap(),
            Destination::Slack("https://hooks.slack.com/services/T/B/X".into())
        );
        assert_eq!(
            Destination::parse("https://example.com/hook").unwrap(),
            Destination::Webhook("https://example.com/hook".into())
        );
        assert_eq!(
            Destination::parse("file:/var/reports").unwrap(),
            Destination::File("/var/reports".into())
        );
        let err = Destination::parse("ftp://x").unwrap_err().to_string();
        assert!(err.contains("slack:<incoming webhook URL>"), "{err}");
        let err = Destination::parse("mailto:not an address")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an email address"), "{err}");
        assert_eq!(
            Destination::parse("slack:https://hooks.slack.com/services/T/B/X")
                .unwrap()
                .describe(),
            "slack:https://hooks.slack.com/…"
        );
    }

    #[test]
    fn signatures_are_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
