//! The agent's local Prometheus endpoint (`/metrics`), for the branch's own monitoring
//! (Zabbix, node exporter scrapes) — the cloud sees the same health through `state/modems`.

use std::net::SocketAddr;

use axum::{Router, routing::get};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::{net::TcpListener, sync::watch};

/// Installs the process-wide recorder (once) and returns its handle.
pub fn recorder() -> Option<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<PrometheusHandle>> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new().install_recorder().ok();
            describe();
            handle
        })
        .clone()
}

/// HELP texts, so that scrapers (and `promtool check metrics`) know what each one means.
fn describe() {
    metrics::describe_counter!(
        "smsgw_agent_commands_total",
        "Send commands journalled, by result (new or duplicate)"
    );
    metrics::describe_gauge!(
        "smsgw_agent_mqtt_connected",
        "1 while the agent is connected to the broker"
    );
    metrics::describe_counter!(
        "smsgw_agent_mqtt_invalid_total",
        "MQTT messages dropped because their topic or payload was invalid, by kind and reason"
    );
    metrics::describe_gauge!(
        "smsgw_agent_outbox_events",
        "Events waiting for the API's command/ack"
    );
}

/// Serves `/metrics` on `addr` until shutdown; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<SocketAddr> {
    let handle = recorder();
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move { handle.map(|h| h.render()).unwrap_or_default() }
        }),
    );
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::warn!(error = %e, "metrics endpoint stopped");
        }
    });
    Ok(bound)
}
