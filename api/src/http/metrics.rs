//! Prometheus metrics: a process-wide recorder (the `metrics` facade allows one), a
//! middleware that counts requests by method (the standard ones, else `other`), route
//! template (never the raw path, which holds ids) and status, and the `/metrics` endpoint
//! that renders them.

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use smsgw_shared::wire::ModemHealth;

use super::AppState;
use crate::domain::health::modem_is_up;

/// Bounds of the request duration histogram, in seconds.
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Gauges not set for this long leave `/metrics`. Every gauge is set again on each scrape
/// (the fleet from the database, the broker connection from its state), so only the series
/// of a site or modem that is gone, or a signal a modem stopped reporting, age out instead
/// of showing their last value forever.
pub const GAUGE_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The exporter's settings: request-duration buckets, gauges leaving after `idle`.
fn builder(idle: std::time::Duration) -> PrometheusBuilder {
    let base =
        || PrometheusBuilder::new().idle_timeout(metrics_util::MetricKindMask::GAUGE, Some(idle));
    match base().set_buckets(DURATION_BUCKETS) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "histogram buckets refused; using summaries");
            base()
        }
    }
}

/// The process-wide recorder's handle, installing the recorder on first use.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = builder(GAUGE_IDLE_TIMEOUT).build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was installed before; /metrics stays empty");
            }
            describe();
            handle
        })
        .clone()
}

/// HELP texts, so that scrapers (and `promtool check metrics`) know what each one means.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "smsgw_http_requests_total",
        "HTTP requests by method, route template and status"
    );
    describe_histogram!(
        "smsgw_http_request_duration_seconds",
        "HTTP request duration by method, route template and status"
    );
    describe_counter!(
        "smsgw_messages_accepted_total",
        "Messages stored as queued by POST /api/v1/messages"
    );
    describe_counter!(
        "smsgw_messages_canceled_total",
        "Messages canceled before they left the API"
    );
    describe_counter!(
        "smsgw_messages_erased_total",
        "Messages whose number and text were erased by DELETE /api/v1/messages/{id}"
    );
    describe_counter!(
        "smsgw_retention_deleted_total",
        "Rows deleted past SMSGW_RETENTION_DAYS, by kind (messages with their history, dead letters)"
    );
    describe_counter!(
        "smsgw_cancel_requests_total",
        "Cancel requests for messages an agent may hold"
    );
    describe_counter!(
        "smsgw_admin_logins_total",
        "Admin logins by outcome: ok, refused (wrong user name or password), locked (too many failures), busy (every password check slot taken)"
    );
    describe_counter!(
        "smsgw_rate_limited_total",
        "Requests refused by a key's rate limit"
    );
    describe_gauge!(
        "smsgw_mqtt_connected",
        "1 while this replica is connected to the broker"
    );
    describe_counter!(
        "smsgw_mqtt_ingested_total",
        "MQTT messages from agents applied, by kind and outcome"
    );
    describe_counter!(
        "smsgw_mqtt_invalid_total",
        "MQTT messages dropped because their topic or payload was invalid, by kind and reason"
    );
    describe_counter!(
        "smsgw_dead_letters_total",
        "Agent events kept as dead letters and acknowledged instead of applied, by kind and cause (refused by the database, or payload that does not decode)"
    );
    describe_counter!(
        "smsgw_mqtt_ingest_failed_total",
        "MQTT events not applied because the database failed (the agent publishes them again)"
    );
    describe_counter!(
        "smsgw_message_transitions_total",
        "Message state changes reported by agents and applied, by site and state"
    );
    describe_counter!(
        "smsgw_dispatch_published_total",
        "Send commands published, first or retry"
    );
    describe_counter!(
        "smsgw_dispatch_cancels_published_total",
        "Cancel commands published"
    );
    describe_counter!(
        "smsgw_accept_batches_total",
        "Group-commit transactions of POST /api/v1/messages"
    );
    describe_counter!(
        "smsgw_accept_batched_requests_total",
        "Requests carried by group-commit transactions (divided by the batches: the mean batch size)"
    );
    describe_counter!(
        "smsgw_accept_batches_split_total",
        "Group-commit transactions that failed and were retried request by request"
    );
    describe_gauge!("smsgw_site_online", "1 while the site's agent is online");
    describe_gauge!(
        "smsgw_site_queue",
        "Outbound messages of the site not yet handed to a modem"
    );
    describe_gauge!(
        "smsgw_modem_up",
        "1 while the modem is registered, its SIM ready and its circuit closed"
    );
    describe_gauge!(
        "smsgw_modem_queue",
        "Messages waiting for the modem at its agent"
    );
    describe_gauge!(
        "smsgw_modem_signal_bars",
        "Signal strength of the modem, 0 to 5 bars"
    );
    describe_gauge!(
        "smsgw_modem_rssi_dbm",
        "Received signal strength of the modem, dBm"
    );
}

/// The method label of a request: one of the standard methods, else `other`, so that
/// clients inventing methods cannot add series without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Counts and times every request.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("method", method.to_owned()),
        ("route", route),
        ("status", status),
    ];
    metrics::counter!("smsgw_http_requests_total", &labels).increment(1);
    metrics::histogram!("smsgw_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn render(State(state): State<AppState>) -> Response {
    if let Some(broker) = &state.broker {
        metrics::gauge!("smsgw_mqtt_connected").set(if broker.connected() { 1.0 } else { 0.0 });
    }
    if tokio::time::timeout(FLEET_TIMEOUT, fleet_gauges(&state.db))
        .await
        .is_err()
    {
        tracing::warn!("site and modem gauges skipped: the database is slow");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// How long a scrape waits for the site and modem gauges.
const FLEET_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Sets the gauges of every site and modem from the database, so that alerting on a
/// branch or a modem (down, weak signal, growing queue) needs no other exporter. Every
/// replica reports the same values: aggregate them with `max`.
async fn fleet_gauges(db: &sqlx::PgPool) {
    use metrics::gauge;
    let (sites, modems) = match tokio::try_join!(
        crate::store::sites::list(db),
        crate::store::sites::all_modems(db)
    ) {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "site and modem gauges skipped");
            return;
        }
    };
    for site in sites {
        let online = if site.presence == "online" { 1.0 } else { 0.0 };
        gauge!("smsgw_site_online", "site" => site.id.clone()).set(online);
        gauge!("smsgw_site_queue", "site" => site.id).set(site.queue as f64);
    }
    for modem in modems {
        let labels = [("site", modem.site_id.clone()), ("modem", modem.id.clone())];
        // A state that does not read as a modem's health (written by another version)
        // counts as down, with no other gauge.
        let Ok(health) = serde_json::from_value::<ModemHealth>(modem.state) else {
            gauge!("smsgw_modem_up", &labels).set(0.0);
            continue;
        };
        let up = if modem_is_up(&health) { 1.0 } else { 0.0 };
        gauge!("smsgw_modem_up", &labels).set(up);
        gauge!("smsgw_modem_queue", &labels).set(f64::from(health.queue));
        if let Some(bars) = health.signal.bars {
            gauge!("smsgw_modem_signal_bars", &labels).set(f64::from(bars));
        }
        if let Some(rssi) = health.signal.rssi {
            gauge!("smsgw_modem_rssi_dbm", &labels).set(f64::from(rssi));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gauge_not_set_again_leaves_the_output_and_counters_stay() {
        let recorder = builder(std::time::Duration::from_millis(200)).build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::gauge!("smsgw_modem_up", "site" => "lyon", "modem" => "usb0").set(1.0);
            metrics::gauge!("smsgw_modem_up", "site" => "lyon", "modem" => "usb1").set(1.0);
            metrics::counter!("smsgw_messages_accepted_total").increment(1);
        });
        let first = handle.render();
        assert!(first.contains("modem=\"usb1\""), "{first}");
        std::thread::sleep(std::time::Duration::from_millis(300));
        // The next scrape sets what still exists: usb1 is gone from the database.
        metrics::with_local_recorder(&recorder, || {
            metrics::gauge!("smsgw_modem_up", "site" => "lyon", "modem" => "usb0").set(0.0);
        });
        let second = handle.render();
        assert!(second.contains("modem=\"usb0\""), "{second}");
        assert!(!second.contains("modem=\"usb1\""), "{second}");
        assert!(
            second.contains("smsgw_messages_accepted_total 1"),
            "{second}"
        );
    }
}
