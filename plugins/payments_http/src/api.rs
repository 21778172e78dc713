//! The upstream's wire format and the `payments` table made from it.
//!
//! The API follows Stripe's list endpoints (https://docs.stripe.com/api/pagination): a `GET`
//! with `limit` and `starting_after=<id of the last object seen>` answers
//! `{"object": "list", "data": [...], "has_more": bool}`, amounts in the currency's minor unit
//! and `created` in Unix seconds (https://docs.stripe.com/api/charges/object), errors as
//! `{"error": {"message": ...}}` (https://docs.stripe.com/api/errors).

use std::sync::Arc;

use serde::Deserialize;
use spirit_plugin_sdk::prelude::*;

/// One page of the list endpoint.
#[derive(Deserialize)]
pub(crate) struct ListPage {
    object: String,
    pub data: Vec<Payment>,
    pub has_more: bool,
}

/// A payment as the upstream sends it; fields the table does not carry are ignored.
#[derive(Deserialize)]
pub(crate) struct Payment {
    pub id: String,
    amount: i64,
    amount_refunded: Option<i64>,
    currency: String,
    status: String,
    created: i64,
    customer: Option<Expandable>,
    description: Option<String>,
    payment_method_details: Option<MethodDetails>,
    payment_method_types: Option<Vec<String>>,
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A reference Stripe sends as an id, or as the object when the request expands it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expandable {
    Id(String),
    Object { id: String },
}

#[derive(Deserialize)]
struct MethodDetails {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
}

/// The schema of `payments`.
pub(crate) fn schema() -> SchemaRef {
    let utc_micros = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        column(
            "id",
            DataType::Utf8,
            false,
            "Payment identifier, e.g. py_3PAd1x…",
        ),
        column(
            "amount",
            DataType::Int64,
            false,
            "Amount in the currency's minor unit (cents)",
        ),
        column(
            "amount_refunded",
            DataType::Int64,
            true,
            "Refunded part of amount, minor unit",
        ),
        column(
            "currency",
            DataType::Utf8,
            false,
            "ISO 4217 code, lower case, e.g. eur",
        ),
        column(
            "status",
            DataType::Utf8,
            false,
            "succeeded, pending, failed, canceled…",
        ),
        column(
            "created",
            utc_micros,
            false,
            "When the payment was created (UTC)",
        ),
        column(
            "customer",
            DataType::Utf8,
            true,
            "Customer identifier, e.g. cus_Q1a2…",
        ),
        column(
            "description",
            DataType::Utf8,
            true,
            "Free text set by the merchant",
        ),
        column(
            "payment_method_type",
            DataType::Utf8,
            true,
            "card, sepa_debit, paypal…",
        ),
        column(
            "metadata",
            DataType::Utf8,
            true,
            "The payment's metadata as a JSON object",
        ),
    ]))
}

/// Reads one page. `after` is the cursor the page was asked for, for the error message.
pub(crate) fn parse_page(body: &[u8], after: Option<&str>) -> Result<ListPage> {
    let page_name = match after {
        Some(id) => format!("the page after {id}"),
        None => "the first page".to_owned(),
    };
    let invalid = |problem: String| Error::invalid_data(format!("{page_name} {problem}"));
    let page: ListPage = serde_json::from_slice(body)
        .map_err(|error| invalid(format!("is not a list of payments: {error}")))?;
    if page.object != "list" {
        return Err(invalid(format!("has object '{}', not 'list'", page.object)));
    }
    if page.has_more && page.data.is_empty() {
        return Err(invalid("is empty but has_more is true".to_owned()));
    }
    Ok(page)
}

/// The upstream's own explanation of an error response, if it sent one.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|body| body.error.message)
}

/// `payments` as one record batch.
pub(crate) fn batch(payments: &[Payment]) -> Result<RecordBatch> {
    let rows = payments.len();
    let mut id = StringBuilder::with_capacity(rows, rows * 28);
    let mut amount = Int64Builder::with_capacity(rows);
    let mut amount_refunded = Int64Builder::with_capacity(rows);
    let mut currency = StringBuilder::with_capacity(rows, rows * 3);
    let mut status = StringBuilder::with_capacity(rows, rows * 9);
    let mut created = TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC");
    let mut customer = StringBuilder::new();
    let mut description = StringBuilder::new();
    let mut method = StringBuilder::new();
    let mut metadata = StringBuilder::new();

    for payment in payments {
        let created_micros = payment.created.checked_mul(1_000_000).ok_or_else(|| {
            let (id, created) = (&payment.id, payment.created);
            Error::invalid_data(format!("payment {id}: created {created} is out of range"))
        })?;
        id.append_value(&payment.id);
        amount.append_value(payment.amount);
        amount_refunded.append_option(payment.amount_refunded);
        currency.append_value(&payment.currency);
        status.append_value(&payment.status);
        created.append_value(created_micros);
        customer.append_option(payment.customer.as_ref().map(|customer| match customer {
            Expandable::Id(id) | Expandable::Object { id } => id.as_str(),
        }));
        description.append_option(payment.description.as_deref());
        method.append_option(
            payment
                .payment_method_details
                .as_ref()
                .map(|details| details.kind.as_str())
                .or_else(|| {
                    payment
                        .payment_method_types
                        .as_ref()?
                        .first()
                        .map(String::as_str)
                }),
        );
        metadata.append_option(
            payment
                .metadata
                .as_ref()
                .filter(|map| !map.is_empty())
                .map(|map| serde_json::Value::Object(map.clone()).to_string()),
        );
    }

    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(amount.finish()),
        Arc::new(amount_refunded.finish()),
        Arc::new(currency.finish()),
        Arc::new(status.finish()),
        Arc::new(created.finish()),
        Arc::new(customer.finish()),
        Arc::new(description.finish()),
        Arc::new(method.finish()),
        Arc::new(metadata.finish()),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use spirit_plugin_sdk::arrow_array::Array;
    use spirit_plugin_sdk::arrow_array::cast::AsArray;
    use spirit_plugin_sdk::arrow_array::types::Int64Type;

    use super::*;

    const PAGE_1: &[u8] = include_bytes!("../fixtures/page_1.json");
    const PAGE_2: &[u8] = include_bytes!("../fixtures/page_2.json");
    const MALFORMED: &[u8] = include_bytes!("../fixtures/page_malformed.json");
    const UNAUTHORIZED: &[u8] = include_bytes!("../fixtures/error_401.json");

    #[test]
    fn pages_become_rows() {
        let first = parse_page(PAGE_1, None).unwrap();
        assert!(first.has_more);
        assert_eq!(first.data.last().unwrap().id, "py_3PAd4Lm2eZvKYlo2C1TqR004");
        let rows = batch(&first.data).unwrap();
        assert_eq!(rows.num_rows(), 3);
        assert_eq!(rows.column(1).as_primitive::<Int64Type>().value(0), 129_900);
        let customers = rows.column(6).as_string::<i32>();
        assert_eq!(
            customers.value(1),
            "cus_Q9xT2bYk1LmN0p",
            "an expanded customer"
        );
        assert_eq!(rows.column(8).as_string::<i32>().value(2), "sepa_debit");
        assert!(rows.column(9).is_null(1), "empty metadata is NULL");

        let second = parse_page(PAGE_2, Some("py_3PAd4Lm2eZvKYlo2C1TqR004")).unwrap();
        assert!(!second.has_more);
        let rows = batch(&second.data).unwrap();
        assert_eq!(rows.num_rows(), 2);
        assert!(
            rows.column(6).is_null(0),
            "a guest checkout has no customer"
        );
    }

    #[test]
    fn malformed_page_is_invalid_data_naming_the_page() {
        let Err(error) = parse_page(MALFORMED, Some("py_x")) else {
            panic!("parsed a malformed page");
        };
        assert_eq!(error.kind(), ErrorKind::InvalidData);
        assert!(
            error.message().starts_with("the page after py_x"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn error_bodies_are_read() {
        let message = error_message(UNAUTHORIZED);
        assert_eq!(
            message.as_deref(),
            Some("Invalid API Key provided: sk_test_****oops")
        );
        assert_eq!(error_message(b"<html>bad gateway</html>"), None);
    }
}
