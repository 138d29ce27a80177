//! Prometheus metrics of the broker, served on their own small HTTP listener.
//!
//! Authentication results and topic-rule refusals are counted where they happen
//! ([`crate::auth`], the front). rumqttd 0.20
//! reports its own counters only through `Broker::start()`, which we do not use (it never
//! returns); the connection count is therefore read from the two log events its router
//! emits for every registered and every dropped connection, by [`connection_meter`], a
//! tracing layer the binary installs. Publish counts are not available without patching
//! rumqttd.
//!
//! The recorder is process-wide (the `metrics` crate has one global recorder): brokers
//! started in one test process share their counters, and if another recorder was
//! installed first, `/metrics` shows only what that recorder does not capture.

use std::{net::TcpListener as StdTcpListener, sync::OnceLock};

use axum::{Router, routing::get};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::{Event, Level, Subscriber, field::Field, warn};
use tracing_subscriber::{
    Layer,
    filter::{Filtered, Targets},
    layer::Context,
};

/// Counter of authentication results, labels `result` and `kind` or `reason`.
pub const AUTH_TOTAL: &str = "smsgw_broker_auth_total";
/// Counter of what the topic rules refused (SUBSCRIBE filters, PUBLISHes, Wills), label
/// `reason` (smsgw-shared's `AclRefusal::label`).
pub const REFUSED_TOTAL: &str = "smsgw_broker_refused_total";
/// Gauge of connections the router currently holds.
pub const CONNECTIONS: &str = "smsgw_broker_connections";
/// Counter of connections the router registered since start.
pub const CONNECTIONS_TOTAL: &str = "smsgw_broker_connections_total";

/// Gauge, always 1, labelled with the version.
pub const BUILD_INFO: &str = "smsgw_broker_build_info";

/// The module of rumqttd whose log events mark connections.
const ROUTER_TARGET: &str = "rumqttd::router::routing";
const CONNECTED_EVENT: &str = "Client connection registered";
const DISCONNECTED_EVENT: &str = "Disconnecting connection";

/// The global Prometheus recorder, installed on first use.
pub(crate) fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            warn!("another metrics recorder is installed; broker metrics go there");
        }
        metrics::describe_counter!(AUTH_TOTAL, "MQTT CONNECT authentication results");
        metrics::describe_counter!(
            REFUSED_TOTAL,
            "Subscriptions, publishes and Wills refused by the topic rules"
        );
        metrics::describe_gauge!(CONNECTIONS, "MQTT connections held by the router");
        metrics::describe_counter!(CONNECTIONS_TOTAL, "MQTT connections registered");
        metrics::describe_gauge!(BUILD_INFO, "Version of the running smsgw-broker");
        handle
    })
}

/// Installs the recorder and marks a broker as running (`smsgw_broker_build_info`), so
/// that `/metrics` is never empty.
pub(crate) fn started() {
    prometheus();
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

pub(crate) fn auth_accepted(kind: &'static str) {
    metrics::counter!(AUTH_TOTAL, "result" => "accepted", "kind" => kind).increment(1);
}

pub(crate) fn auth_refused(reason: &'static str) {
    metrics::counter!(AUTH_TOTAL, "result" => "refused", "reason" => reason).increment(1);
}

pub(crate) fn refused(reason: &'static str) {
    metrics::counter!(REFUSED_TOTAL, "reason" => reason).increment(1);
}

/// A tracing layer that turns rumqttd's connection log events into the connection
/// metrics. Add it to the global subscriber (the router runs on its own thread); its
/// filter is its own, so it works whatever `RUST_LOG` says.
pub fn connection_meter<S>() -> Filtered<ConnectionMeter, Targets, S>
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    ConnectionMeter.with_filter(Targets::new().with_target(ROUTER_TARGET, Level::INFO))
}

/// See [`connection_meter`].
#[derive(Debug, Clone, Copy)]
pub struct ConnectionMeter;

impl<S: Subscriber> Layer<S> for ConnectionMeter {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut message = MessageVisitor(None);
        event.record(&mut message);
        match message.0.as_deref() {
            Some(CONNECTED_EVENT) => {
                prometheus();
                metrics::gauge!(CONNECTIONS).increment(1.0);
                metrics::counter!(CONNECTIONS_TOTAL).increment(1);
            }
            Some(DISCONNECTED_EVENT) => {
                metrics::gauge!(CONNECTIONS).decrement(1.0);
            }
            _ => {}
        }
    }
}

/// Reads the `message` field of an event.
struct MessageVisitor(Option<String>);

impl tracing::field::Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// Serves `GET /metrics` and `GET /healthz` on `listener` until the runtime stops.
pub(crate) async fn serve(listener: StdTcpListener) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let handle = prometheus();
    let app = Router::new()
        .route("/metrics", get(move || async move { handle.render() }))
        .route("/healthz", get(|| async { "ok" }));
    axum::serve(listener, app).await
}
