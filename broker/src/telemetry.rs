//! Logging setup of the binary: tracing to stderr, as text for people or JSON for log
//! collectors, plus the layer that turns rumqttd's connection events into metrics.

use tracing_subscriber::{EnvFilter, Layer, fmt, prelude::*};

use crate::metrics::connection_meter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global tracing subscriber; `RUST_LOG` filters the log lines (default
/// `info`), never the metrics. A second call (tests) keeps the first subscriber.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let output = match format {
        LogFormat::Text => fmt::layer().with_writer(std::io::stderr).boxed(),
        LogFormat::Json => fmt::layer().json().with_writer(std::io::stderr).boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(output.with_filter(filter))
        .with(connection_meter())
        .try_init();
}
