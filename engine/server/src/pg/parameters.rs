//! Bind parameters in text form that PostgreSQL accepts and pgwire's decoding refuses.
//!
//! pgwire parses a text `timestamp` parameter only with a time of day down to the second, so
//! `'2025-01-01'` (node-postgres passes strings through as they are; Grafana sends dates) fails
//! with "Unable to parse datetime". PostgreSQL reads a date alone as midnight and a time without
//! seconds as `:00`. Such values are completed before the portal is decoded.

use bytes::Bytes;
use pgwire::api::Type;
use pgwire::api::portal::Portal;

/// `portal` with its text date-time parameters completed, or `None` when none needed it.
/// `server_types` are the types the server inferred, used where the client sent none.
pub fn complete<S: Default>(portal: &Portal<S>, server_types: &[Type]) -> Option<Portal<S>> {
    let mut completed: Option<Vec<Option<Bytes>>> = None;
    for (i, value) in portal.parameters.iter().enumerate() {
        let Some(value) = value else { continue };
        if portal.parameter_format.is_binary(i) {
            continue;
        }
        let client_type = portal
            .statement
            .parameter_types
            .get(i)
            .cloned()
            .flatten()
            .filter(|t| *t != Type::UNKNOWN);
        let Some(ty) = client_type.or_else(|| server_types.get(i).cloned()) else {
            continue;
        };
        if ty != Type::TIMESTAMP && ty != Type::TIMESTAMPTZ {
            continue;
        }
        if let Some(text) = std::str::from_utf8(value).ok().and_then(complete_timestamp) {
            completed.get_or_insert_with(|| portal.parameters.clone())[i] = Some(Bytes::from(text));
        }
    }
    let parameters = completed?;
    let mut out = Portal::default();
    out.name = portal.name.clone();
    out.statement = portal.statement.clone();
    out.parameter_format = portal.parameter_format.clone();
    out.parameters = parameters;
    out.result_column_format = portal.result_column_format.clone();
    out.state = portal.state.clone();
    Some(out)
}

/// `text` with a missing time of day or seconds added, when it lacks them.
fn complete_timestamp(text: &str) -> Option<String> {
    let text = text.trim();
    let (date, rest) = match text.find([' ', 'T']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    match rest {
        None => Some(format!("{date} 00:00:00")),
        Some(time) => {
            // `HH:MM` followed by nothing or a zone (`Z`, `+02`, `-05:30`).
            let (clock, zone) = time.split_at(time.find(['Z', '+', '-']).unwrap_or(time.len()));
            let parts: Vec<&str> = clock.split(':').collect();
            (parts.len() == 2 && parts.iter().all(|p| p.len() == 2))
                .then(|| format!("{date} {clock}:00{zone}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_minutes_become_full_timestamps() {
        assert_eq!(
            complete_timestamp("2025-01-01").as_deref(),
            Some("2025-01-01 00:00:00")
        );
        assert_eq!(
            complete_timestamp("2025-01-01T10:30").as_deref(),
            Some("2025-01-01 10:30:00")
        );
        assert_eq!(
            complete_timestamp("2025-01-01 10:30+02").as_deref(),
            Some("2025-01-01 10:30:00+02")
        );
        assert_eq!(complete_timestamp("2025-01-01 10:30:15"), None);
        assert_eq!(complete_timestamp("2025-01-01T10:30:15Z"), None);
        assert_eq!(complete_timestamp("yesterday"), None);
    }
}
