//! The command line of `smsgw-broker`: every flag is also an environment variable, so the
//! same binary runs from a shell, a systemd unit or a container.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tracing::info;

use crate::{
    auth::JwtSecret,
    broker,
    config::{BrokerConfig, CONFIGFILE},
    error::Error,
    telemetry::LogFormat,
};

/// `smsgw-broker`: the MQTT broker of smsgw (rumqttd with JWT authentication).
#[derive(Debug, Parser)]
#[command(name = "smsgw-broker", version, about, long_about = None)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(
        long,
        env = "SMSGW_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands of `smsgw-broker`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the broker until SIGTERM or Ctrl-C.
    Run(RunArgs),
    /// Print a commented configuration file with every setting at its default.
    Configfile,
}

/// What `run` needs.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The TOML configuration file (see `smsgw-broker configfile`).
    #[arg(long, short = 'c', env = "SMSGW_BROKER_CONFIG")]
    pub config: PathBuf,
    /// Key that signs the MQTT credentials (HS256), shared with smsgw-api.
    #[arg(long, env = "SMSGW_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: JwtSecret,
}

/// Runs a command of the command line.
pub async fn execute(command: Command) -> Result<(), Error> {
    match command {
        Command::Configfile => {
            print!("{CONFIGFILE}");
            Ok(())
        }
        Command::Run(args) => run(args).await,
    }
}

/// Starts the broker and stops it cleanly on SIGTERM or Ctrl-C. Under systemd
/// (`Type=notify`) it reports `READY=1` once every listener accepts connections and
/// `STOPPING=1` when it begins to stop.
pub async fn run(args: RunArgs) -> Result<(), Error> {
    let config = BrokerConfig::from_file(&args.config)?;
    let handle = broker::start(config, &args.jwt_secret).await?;

    notify_systemd(sd_notify::NotifyState::Ready);
    shutdown_signal().await;
    info!("stopping");
    notify_systemd(sd_notify::NotifyState::Stopping);
    handle.shutdown().await;
    Ok(())
}

/// Tells systemd about the service's state; without `NOTIFY_SOCKET` nothing is sent.
fn notify_systemd(state: sd_notify::NotifyState<'_>) {
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Resolves on SIGTERM (systemd, containers) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn short_secrets_are_refused() {
        let parsed = Cli::try_parse_from([
            "smsgw-broker",
            "run",
            "--config",
            "b.toml",
            "--jwt-secret",
            "short",
        ]);
        assert!(parsed.is_err());
    }
}
