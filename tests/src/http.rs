//! An HTTP client for the engine's REST API (ureq, blocking): answers of every status come
//! back as values, not errors.

use std::sync::LazyLock;

use crate::{DEMO_PASSWORD, DEMO_USER, SpiritServer};

static AGENT: LazyLock<ureq::Agent> = LazyLock::new(|| {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(120)))
        .build()
        .into()
});

/// An answer: status, content type, cache header and body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: String,
    /// `X-Spirit-Cache`, when sent.
    pub cache: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (fails the test when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The SQLSTATE of an error answer.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// `Authorization` for the demo user, by basic authentication.
pub fn demo_auth() -> String {
    basic(DEMO_USER, DEMO_PASSWORD)
}

/// `Authorization: Basic` for `user` and `password`.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn answer(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = result.expect("HTTP request");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type").unwrap_or_default();
    let cache = header("x-spirit-cache");
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .expect("read body");
    Answer {
        status,
        content_type,
        cache,
        body,
    }
}

/// `GET path` with `auth` (an `Authorization` value, or none).
pub fn get(server: &SpiritServer, path: &str, auth: Option<&str>) -> Answer {
    let mut request = AGENT.get(server.url(path));
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    answer(request.call())
}

/// `POST path` with `body` of `content_type`, and extra `headers`.
pub fn post(
    server: &SpiritServer,
    path: &str,
    auth: Option<&str>,
    content_type: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut request = AGENT
        .post(server.url(path))
        .header("Content-Type", content_type);
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request.send(body))
}

/// `POST path` with a JSON body, as the demo user.
pub fn post_json(server: &SpiritServer, path: &str, body: &serde_json::Value) -> Answer {
    post(
        server,
        path,
        Some(&demo_auth()),
        "application/json",
        &[],
        body.to_string().as_bytes(),
    )
}

/// `POST /api/sql` with `sql`, as the demo user, accepting `accept`.
pub fn sql(server: &SpiritServer, sql: &str, accept: &str) -> Answer {
    post(
        server,
        "/api/sql",
        Some(&demo_auth()),
        "text/plain",
        &[("Accept", accept)],
        sql.as_bytes(),
    )
}
