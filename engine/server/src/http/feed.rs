//! The live dashboard feed: `GET /api/analytics/dashboard/realtime` (WebSocket).
//!
//! A client sends `{"subscribe": ["kpi_overview", "metrics.revenue_by_channel",
//! "kpi:ai_success_rate"]}` (metric views, or single KPIs as `kpi:<name>`) and receives a
//! snapshot of each topic at once, every `dashboard_update_seconds`, and as soon as new data
//! lands in a table (ingest, `INSERT`, `COPY`): the hub refreshes every topic then, through the
//! result cache, and pushes those whose rows changed.
//!
//! One hub computes each topic once for all its subscribers. Each client has a bounded queue
//! (`feed_buffer` messages): when a client reads too slowly, the oldest messages are dropped
//! and it is told how many with a `notice`, so a slow client never holds up the hub or the
//! others.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use spirit_core::Engine;
use spirit_core::observability;
use tokio::sync::Notify;

use super::HttpState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::query;

/// How long the hub waits after a data change for more to arrive, before refreshing.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// A subscriber's queue of messages.
struct Client {
    id: u64,
    queue: Mutex<VecDeque<Arc<str>>>,
    capacity: usize,
    dropped: AtomicU64,
    notify: Notify,
}

impl Client {
    /// Queues `message`, dropping the oldest when full.
    fn push(&self, message: Arc<str>) {
        let mut queue = self.queue.lock().expect("feed queue");
        queue.push_back(message);
        while queue.len() > self.capacity {
            queue.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
            observability::feed_updates("dropped", 1);
        }
        drop(queue);
        self.notify.notify_one();
    }

    fn take(&self) -> Vec<Arc<str>> {
        self.queue.lock().expect("feed queue").drain(..).collect()
    }
}

/// One topic: its SQL, who wants it, and what was last sent.
struct Topic {
    sql: String,
    subscribers: HashMap<u64, Weak<Client>>,
    last_rows: Option<String>,
    last_message: Option<Arc<str>>,
}

/// The hub every feed connection subscribes through.
pub struct Feed {
    engine: Arc<Engine>,
    interval: Duration,
    buffer: usize,
    topics: Mutex<HashMap<String, Topic>>,
    next_id: AtomicU64,
    clients: AtomicUsize,
    /// Wakes the hub to refresh topics that have no snapshot yet.
    wake: Notify,
}

impl Feed {
    /// A hub over `engine`, pushing every `interval`, with `buffer` messages per client.
    pub fn new(engine: Arc<Engine>, interval: Duration, buffer: usize) -> Arc<Self> {
        Arc::new(Self {
            engine,
            interval: interval.max(Duration::from_millis(100)),
            buffer: buffer.max(1),
            topics: Mutex::default(),
            next_id: AtomicU64::new(1),
            clients: AtomicUsize::new(0),
            wake: Notify::new(),
        })
    }

    /// Clients connected now.
    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// Runs the hub until the feed is dropped: refreshes on every tick, on data changes and
    /// when a new topic needs its first snapshot.
    pub fn start(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let mut changes = self.engine.cache().subscribe_changes();
        let interval = self.interval;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let reason = {
                    let Some(feed) = weak.upgrade() else { return };
                    tokio::select! {
                        _ = tick.tick() => "interval",
                        changed = changes.recv() => match changed {
                            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                                tokio::time::sleep(DEBOUNCE).await;
                                while changes.try_recv().is_ok() {}
                                "data"
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                        },
                        () = feed.wake.notified() => "subscribe",
                    }
                };
                let Some(feed) = weak.upgrade() else { return };
                feed.refresh(reason).await;
            }
        });
    }

    /// Recomputes every topic with subscribers; pushes those whose rows changed (all of them
    /// on the interval, and new topics).
    async fn refresh(&self, reason: &str) {
        let work: Vec<(String, String, bool)> = {
            let mut topics = self.topics.lock().expect("feed topics");
            topics.retain(|_, topic| {
                topic
                    .subscribers
                    .retain(|_, client| client.strong_count() > 0);
                !topic.subscribers.is_empty()
            });
            topics
                .iter()
                .map(|(name, topic)| (name.clone(), topic.sql.clone(), topic.last_rows.is_none()))
                .collect()
        };
        for (name, sql, first) in work {
            if reason == "subscribe" && !first {
                continue;
            }
            let message = match self.snapshot(&name, &sql, reason).await {
                Ok((rows, message)) => Some((rows, message)),
                Err(e) => {
                    tracing::warn!(topic = %name, "live feed snapshot failed: {}", e.detail.message);
                    None
                }
            };
            let mut topics = self.topics.lock().expect("feed topics");
            let Some(topic) = topics.get_mut(&name) else {
                continue;
            };
            let Some((rows, message)) = message else {
                continue;
            };
            let changed = topic.last_rows.as_deref() != Some(rows.as_str());
            if !(changed || reason == "interval") {
                continue;
            }
            topic.last_rows = Some(rows);
            topic.last_message = Some(Arc::clone(&message));
            for client in topic.subscribers.values().filter_map(Weak::upgrade) {
                client.push(Arc::clone(&message));
            }
        }
    }

    /// The topic's rows (to compare) and its message.
    async fn snapshot(
        &self,
        name: &str,
        sql: &str,
        reason: &str,
    ) -> Result<(String, Arc<str>), ApiError> {
        let (result, _) = self
            .engine
            .cache()
            .get_or_run(
                sql,
                "",
                || async { self.engine.context().state().create_logical_plan(sql).await },
                |plan| spirit_core::cache::collect(self.engine.context(), plan),
            )
            .await?;
        let rows = String::from_utf8(query::json_rows(&result)?).unwrap_or_default();
        let columns = serde_json::to_string(&query::columns(&result)).unwrap_or_default();
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let message = format!(
            "{{\"type\":\"snapshot\",\"topic\":{},\"reason\":\"{reason}\",\"at\":\"{at}\",\
             \"columns\":{columns},\"rows\":{rows}}}",
            Value::from(name)
        );
        Ok((rows, Arc::from(message)))
    }

    /// Subscribes `client` to `topic`; queues its last snapshot, or wakes the hub for a first.
    fn subscribe(&self, client: &Arc<Client>, name: &str, sql: String) {
        let mut topics = self.topics.lock().expect("feed topics");
        let topic = topics.entry(name.to_string()).or_insert_with(|| Topic {
            sql,
            subscribers: HashMap::new(),
            last_rows: None,
            last_message: None,
        });
        topic.subscribers.insert(client.id, Arc::downgrade(client));
        match &topic.last_message {
            Some(message) => client.push(Arc::clone(message)),
            None => self.wake.notify_one(),
        }
    }

    fn unsubscribe(&self, client: &Client, name: &str) {
        if let Some(topic) = self.topics.lock().expect("feed topics").get_mut(name) {
            topic.subscribers.remove(&client.id);
        }
    }
}

/// A topic name and its SQL: `kpi_overview` or `metrics.kpi_overview` (a metric view), or
/// `kpi:<name>` (one row of `metrics.kpi_overview`).
fn topic_sql(topic: &str) -> Result<(String, String), String> {
    let valid = |name: &str| {
        !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let topic = topic.trim();
    if let Some(kpi) = topic.strip_prefix("kpi:") {
        if !valid(kpi) {
            return Err(format!(
                "{topic:?} is not a KPI name (lower-case letters, digits and _)"
            ));
        }
        return Ok((
            format!("kpi:{kpi}"),
            format!("SELECT * FROM metrics.kpi_overview WHERE kpi = '{kpi}'"),
        ));
    }
    let view = topic.strip_prefix("metrics.").unwrap_or(topic);
    if !valid(view) {
        return Err(format!(
            "{topic:?} is not a metric view name: subscribe to metric views (\"kpi_overview\", \
             \"metrics.revenue_by_channel\") or KPIs (\"kpi:ai_success_rate\")"
        ));
    }
    Ok((
        format!("metrics.{view}"),
        format!("SELECT * FROM metrics.{view}"),
    ))
}

/// What a client sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    #[serde(default)]
    subscribe: Vec<String>,
    #[serde(default)]
    unsubscribe: Vec<String>,
}

#[utoipa::path(get, path = "/api/analytics/dashboard/realtime", tag = "dashboard",
    description = "WebSocket. Send {\"subscribe\": [\"kpi_overview\", \"kpi:ai_success_rate\"]}; \
        receive {\"type\": \"snapshot\", \"topic\", \"reason\", \"at\", \"columns\", \"rows\"} at \
        once, every dashboard_update_seconds and when data lands; {\"type\": \"notice\", \
        \"dropped\"} when the client read too slowly. Browsers may authenticate with \
        ?access_token=<bearer token>.",
    responses((status = 101, description = "Switching to the WebSocket protocol"),
        (status = 401, body = ErrorBody)),
    security(("basic" = []), ("bearer" = [])))]
pub async fn realtime(
    State(state): State<Arc<HttpState>>,
    _caller: Caller,
    upgrade: WebSocketUpgrade,
) -> Response {
    let feed = Arc::clone(&state.feed);
    upgrade.on_upgrade(move |socket| serve(feed, socket))
}

async fn serve(feed: Arc<Feed>, socket: WebSocket) {
    let client = Arc::new(Client {
        id: feed.next_id.fetch_add(1, Ordering::Relaxed),
        queue: Mutex::default(),
        capacity: feed.buffer,
        dropped: AtomicU64::new(0),
        notify: Notify::new(),
    });
    feed.clients.fetch_add(1, Ordering::Relaxed);
    observability::feed_clients(1);
    let (mut sink, mut stream) = socket.split();
    let writer_client = Arc::clone(&client);
    let writer = tokio::spawn(async move {
        loop {
            writer_client.notify.notified().await;
            let dropped = writer_client.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                let notice = json!({
                    "type": "notice",
                    "dropped": dropped,
                    "message": format!(
                        "{dropped} older updates were dropped because this client reads more \
                         slowly than they arrive; the next snapshot is complete"
                    ),
                });
                if sink
                    .send(Message::Text(notice.to_string().into()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            let messages = writer_client.take();
            let count = messages.len() as u64;
            for message in messages {
                if sink
                    .send(Message::Text(message.as_ref().into()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            observability::feed_updates("sent", count);
        }
    });
    let mut subscribed: HashSet<String> = HashSet::new();
    while let Some(Ok(message)) = stream.next().await {
        let text = match message {
            Message::Text(text) => text.as_str().to_string(),
            Message::Close(_) => break,
            _ => continue,
        };
        let request: Request = match serde_json::from_str(&text) {
            Ok(request) => request,
            Err(e) => {
                client.push(error_message(
                    "22023",
                    &format!(
                        "cannot read {text:?}: {e}; send {{\"subscribe\": [\"kpi_overview\"]}} \
                         or {{\"unsubscribe\": [...]}}"
                    ),
                ));
                continue;
            }
        };
        for topic in &request.unsubscribe {
            if let Ok((name, _)) = topic_sql(topic) {
                feed.unsubscribe(&client, &name);
                subscribed.remove(&name);
            }
        }
        let mut added = Vec::new();
        for topic in &request.subscribe {
            match check_topic(&feed, topic).await {
                Ok((name, sql)) => {
                    feed.subscribe(&client, &name, sql);
                    subscribed.insert(name.clone());
                    added.push(name);
                }
                Err(error) => client.push(error),
            }
        }
        if !added.is_empty() {
            let mut topics: Vec<&String> = subscribed.iter().collect();
            topics.sort();
            client.push(Arc::from(
                json!({"type": "subscribed", "topics": topics}).to_string(),
            ));
        }
    }
    for name in &subscribed {
        feed.unsubscribe(&client, name);
    }
    writer.abort();
    feed.clients.fetch_sub(1, Ordering::Relaxed);
    observability::feed_clients(-1);
}

/// The topic's name and SQL if it names something that answers; else an error message.
async fn check_topic(feed: &Feed, topic: &str) -> Result<(String, String), Arc<str>> {
    let (name, sql) = topic_sql(topic).map_err(|m| error_message("22023", &m))?;
    if let Some(view) = name.strip_prefix("metrics.") {
        let exists = feed
            .engine
            .store()
            .relation(spirit_core::metrics::SCHEMA, view)
            .map_err(|e| error_message("58000", &e.to_string()))?
            .is_some();
        if !exists {
            return Err(error_message(
                "42P01",
                &format!("no metric view {name}: GET /api/analytics/config/dashboard lists them"),
            ));
        }
    }
    Ok((name, sql))
}

fn error_message(code: &str, message: &str) -> Arc<str> {
    Arc::from(json!({"type": "error", "code": code, "message": message}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_name_views_and_kpis() {
        assert_eq!(
            topic_sql("kpi_overview").unwrap(),
            (
                "metrics.kpi_overview".to_string(),
                "SELECT * FROM metrics.kpi_overview".to_string()
            )
        );
        assert_eq!(
            topic_sql("metrics.revenue_daily").unwrap().0,
            "metrics.revenue_daily"
        );
        assert!(
            topic_sql("kpi:ai_success_rate")
                .unwrap()
                .1
                .ends_with("'ai_success_rate'")
        );
        assert!(topic_sql("kpi:x'; DROP TABLE t").is_err());
        assert!(topic_sql("bookings; --").is_err());
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts() {
        let client = Client {
            id: 1,
            queue: Mutex::default(),
            capacity: 2,
            dropped: AtomicU64::new(0),
            notify: Notify::new(),
        };
        for n in 0..5 {
            client.push(Arc::from(n.to_string()));
        }
        assert_eq!(client.dropped.load(Ordering::Relaxed), 3);
        let left: Vec<String> = client.take().iter().map(|m| m.to_string()).collect();
        assert_eq!(left, ["3", "4"]);
    }
}
