//! `smsgw-agent`: the branch agent's command line (`run`, `configfile`, `check`).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use smsgw_agent::{Agent, Config, config::DEFAULT_CONFIG};
use tokio::signal::unix::{SignalKind, signal};

/// The smsgw edge agent: sends and receives SMS through the branch's Huawei modems.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the agent until SIGTERM or SIGINT.
    Run {
        /// The configuration file.
        #[arg(
            long,
            short,
            env = "SMSGW_AGENT_CONFIG",
            default_value = "/etc/smsgw/agent.toml"
        )]
        config: PathBuf,
    },
    /// Print a commented default configuration.
    Configfile,
    /// Probe every configured modem and print what a technician needs to know.
    Check {
        /// The configuration file.
        #[arg(
            long,
            short,
            env = "SMSGW_AGENT_CONFIG",
            default_value = "/etc/smsgw/agent.toml"
        )]
        config: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    // The modems write local time; the offset can only be read before threads start.
    smsgw_agent::clock::capture_local_offset();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Configfile => {
            print!("{DEFAULT_CONFIG}");
            Ok(())
        }
        Command::Check { config } => {
            let config = Config::load(&config)?;
            let ok = smsgw_agent::check::run(&config, &mut std::io::stdout()).await?;
            if ok { Ok(()) } else { std::process::exit(1) }
        }
        Command::Run { config } => {
            let config = Config::load(&config)?;
            smsgw_agent::metrics::recorder();
            let agent = Agent::start(config).await.context("starting the agent")?;
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
            let watchdog = tokio::spawn(async {
                if let Some(timeout) = sd_notify::watchdog_enabled() {
                    let period = timeout / 2;
                    loop {
                        let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
                        tokio::time::sleep(period).await;
                    }
                }
            });
            let mut term = signal(SignalKind::terminate())?;
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
            watchdog.abort();
            agent.stop().await;
            Ok(())
        }
    }
}
