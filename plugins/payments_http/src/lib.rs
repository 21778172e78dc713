//! `payments_http`: payment transactions from a paginated JSON REST API in the style of Stripe's
//! list endpoints, as the table `payments` (columns in [`api`]).
//!
//! ```sql
//! CREATE EXTERNAL TABLE payments STORED AS payments_http LOCATION 'https://api.example.com'
//!     OPTIONS ('token_secret' 'PAYMENTS_TOKEN');
//! SELECT currency, sum(amount) / 100.0 FROM payments WHERE status = 'succeeded' GROUP BY 1;
//! ```
//!
//! Each page is one `GET {base_url}{endpoint}?limit=…[&starting_after=…]` with the bearer token
//! from the secret that config `token_secret` names; the cursor is the id of the last payment
//! of the page. `LIMIT` shrinks the upstream page, and filters on `created` become Stripe's
//! `created[gt|gte|lt|lte]` parameters.
//!
//! Money is never skipped: a page that does not parse, or a payment missing a required field,
//! fails the scan with an `invalid-data` error naming the page.

mod api;

use spirit_plugin_sdk::host::HttpResponse;
use spirit_plugin_sdk::prelude::*;

/// The most objects Stripe-style list endpoints return per page.
const MAX_PAGE_SIZE: u64 = 100;

#[derive(Default)]
struct PaymentsHttp;

impl Connector for PaymentsHttp {
    fn tables(&self) -> Result<Vec<Table>> {
        let description = "Payment transactions of the payment provider";
        Ok(vec![Table::new("payments", description, api::schema())])
    }

    fn scan(&self, request: &ScanRequest) -> Result<ScanPage> {
        let base_url = host::required_config("base_url")?;
        let endpoint = host::config("endpoint").unwrap_or_else(|| "/v1/payments".to_owned());
        let page_size = page_size(host::config("page_size").as_deref(), request.limit)?;
        let token_secret = host::required_config("token_secret")?;
        let token = host::secret(&token_secret).ok_or_else(|| {
            Error::unauthorized(format!(
                "secret '{token_secret}' (option token_secret) is not set"
            ))
        })?;

        let url = list_url(&base_url, &endpoint, page_size, request);
        let authorization = format!("Bearer {token}");
        let headers = [
            ("Authorization", authorization.as_str()),
            ("Accept", "application/json"),
        ];
        let response = host::http_get(&url, &headers)?;
        check_status(&response, &url)?;

        let page = api::parse_page(&response.body, request.cursor.as_deref())?;
        let batch = api::batch(&page.data)?;
        Ok(match page.data.last() {
            Some(last) if page.has_more => ScanPage::more(vec![batch], last.id.clone()),
            _ => ScanPage::last(vec![batch]),
        })
    }
}

/// The upstream page size: config `page_size` (1 to 100, default 100), no more than the rows
/// still wanted.
fn page_size(configured: Option<&str>, limit: Option<u64>) -> Result<u64> {
    let size = match configured {
        None => MAX_PAGE_SIZE,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|size| (1..=MAX_PAGE_SIZE).contains(size))
            .ok_or_else(|| Error::invalid_config(format!("page_size '{text}' is not 1 to 100")))?,
    };
    Ok(limit.map_or(size, |limit| size.min(limit.max(1))))
}

fn list_url(base_url: &str, endpoint: &str, page_size: u64, request: &ScanRequest) -> String {
    let mut url = format!(
        "{}/{}?limit={page_size}",
        base_url.trim_end_matches('/'),
        endpoint.trim_start_matches('/')
    );
    if let Some(cursor) = &request.cursor {
        url.push_str(&format!("&starting_after={}", percent_encode(cursor)));
    }
    for (bound, seconds) in created_bounds(request) {
        url.push_str(&format!("&created%5B{bound}%5D={seconds}"));
    }
    url
}

/// Filters on `created` as Stripe's range parameters. `created` is in whole seconds, so
/// `created > t` is `created > ⌊t⌋` and `created >= t` is `created >= ⌈t⌉`, and so on.
fn created_bounds(request: &ScanRequest) -> Vec<(&'static str, i64)> {
    let mut bounds = Vec::new();
    for filter in request.filters_on("created") {
        let Literal::TimestampMicros(micros) = filter.value else {
            continue;
        };
        let floor = micros.div_euclid(1_000_000);
        let ceil = floor + i64::from(micros.rem_euclid(1_000_000) != 0);
        match filter.op {
            FilterOp::Gt => bounds.push(("gt", floor)),
            FilterOp::GtEq => bounds.push(("gte", ceil)),
            FilterOp::Lt => bounds.push(("lt", ceil)),
            FilterOp::LtEq => bounds.push(("lte", floor)),
            FilterOp::Eq => bounds.extend([("gte", ceil), ("lte", floor)]),
            FilterOp::NotEq => {}
        }
    }
    bounds
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn check_status(response: &HttpResponse, url: &str) -> Result<()> {
    if response.is_success() {
        return Ok(());
    }
    let mut message = format!("GET {url} answered {}", response.status);
    if let Some(detail) = api::error_message(&response.body) {
        message.push_str(&format!(": {detail}"));
    }
    Err(match response.status {
        401 | 403 => Error::unauthorized(message),
        404 => Error::not_found(message),
        _ => Error::upstream(message),
    })
}

export_connector!(PaymentsHttp);

#[cfg(test)]
mod tests {
    use super::*;

    fn request(cursor: Option<&str>, filters: Vec<Filter>) -> ScanRequest {
        ScanRequest {
            table: "payments".into(),
            projection: None,
            filters,
            limit: None,
            cursor: cursor.map(str::to_owned),
        }
    }

    fn created(op: FilterOp, micros: i64) -> Filter {
        Filter {
            column: "created".into(),
            op,
            value: Literal::TimestampMicros(micros),
        }
    }

    #[test]
    fn first_and_next_page_urls() {
        assert_eq!(
            list_url(
                "http://127.0.0.1:9000/",
                "/v1/payments",
                100,
                &request(None, vec![])
            ),
            "http://127.0.0.1:9000/v1/payments?limit=100"
        );
        assert_eq!(
            list_url(
                "http://h",
                "v1/payments",
                5,
                &request(Some("py_1 2"), vec![])
            ),
            "http://h/v1/payments?limit=5&starting_after=py_1%202"
        );
    }

    #[test]
    fn created_filters_become_exact_second_bounds() {
        let filters = vec![
            created(FilterOp::GtEq, 1_714_000_000_500_000),
            created(FilterOp::Lt, 1_715_000_000_000_000),
            created(FilterOp::NotEq, 0),
        ];
        let bounds = created_bounds(&request(None, filters));
        assert_eq!(bounds, [("gte", 1_714_000_001), ("lt", 1_715_000_000)]);
    }

    #[test]
    fn page_size_follows_config_and_limit() {
        assert_eq!(page_size(None, None).unwrap(), 100);
        assert_eq!(page_size(Some("20"), Some(5)).unwrap(), 5);
        assert_eq!(page_size(None, Some(0)).unwrap(), 1);
        assert_eq!(
            page_size(Some("500"), None).unwrap_err().kind(),
            ErrorKind::InvalidConfig
        );
    }

    #[test]
    fn statuses_map_to_error_kinds() {
        let body = br#"{"error":{"message":"nope"}}"#;
        let response = |status| HttpResponse {
            status,
            headers: vec![],
            body: body.to_vec(),
        };
        assert_eq!(
            check_status(&response(401), "u").unwrap_err().kind(),
            ErrorKind::Unauthorized
        );
        let error = check_status(&response(503), "u").unwrap_err();
        assert_eq!(error.message(), "GET u answered 503: nope");
        assert!(check_status(&response(200), "u").is_ok());
    }
}
