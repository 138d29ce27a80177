//! `hilink-sim`: a simulated Huawei HiLink modem for agent tests and demos.
//!
//! Prints `listening on http://ADDR` once bound and serves until SIGINT or SIGTERM. The
//! JSON control API is under `/sim/` (and on `--control-addr` if given); the operator's
//! USSD table starts as `hilink::sim::UssdService::operator()` and is changed through
//! `POST /sim/ussd`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use hilink::sim::{Profile, SimConfig, Simulator, Timings};

/// Command line and environment.
#[derive(Debug, Parser)]
#[command(version, about = "A simulated Huawei HiLink USB modem")]
struct Args {
    /// Firmware family: e303, e3372h or e3372h-320.
    #[arg(long, env = "HILINK_SIM_PROFILE", default_value = "e3372h")]
    profile: Profile,
    /// Where the device API listens (port 0 picks a free one).
    #[arg(long, env = "HILINK_SIM_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// An extra listener for the `/sim/` control API only; it stays up while the device
    /// refuses connections.
    #[arg(long, env = "HILINK_SIM_CONTROL_ADDR")]
    control_addr: Option<SocketAddr>,
    /// Login user (e3372h-320).
    #[arg(long, env = "HILINK_SIM_USERNAME", default_value = "admin")]
    username: String,
    /// Login password (e3372h-320).
    #[arg(long, env = "HILINK_SIM_PASSWORD", default_value = "admin")]
    password: String,
    /// How long each recipient of a send stays in progress, in ms.
    #[arg(long, env = "HILINK_SIM_SEND_DURATION_MS", default_value_t = 1500)]
    send_duration_ms: u64,
    /// Delay of delivery reports after a successful send, in ms.
    #[arg(long, env = "HILINK_SIM_REPORT_DELAY_MS", default_value_t = 3000)]
    report_delay_ms: u64,
    /// Minimum gap between sends before 113004, in ms (0 = off).
    #[arg(long, env = "HILINK_SIM_MIN_SEND_GAP_MS", default_value_t = 0)]
    min_send_gap_ms: u64,
    /// How long each API call takes, in ms; concurrent calls on one session then get
    /// 125002 (0 = answer at once, no check).
    #[arg(long, env = "HILINK_SIM_REQUEST_LATENCY_MS", default_value_t = 0)]
    request_latency_ms: u64,
    /// How long the network takes to answer a USSD code, in ms.
    #[arg(long, env = "HILINK_SIM_USSD_DELAY_MS", default_value_t = 2000)]
    ussd_delay_ms: u64,
    /// Messages local storage holds.
    #[arg(long, env = "HILINK_SIM_LOCAL_MAX", default_value_t = 500)]
    local_max: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = SimConfig {
        control_addr: args.control_addr,
        addr: args.addr,
        local_max: args.local_max,
        timings: Timings {
            send_duration: Duration::from_millis(args.send_duration_ms),
            report_delay: Duration::from_millis(args.report_delay_ms),
            min_send_gap: Duration::from_millis(args.min_send_gap_ms),
            request_latency: Duration::from_millis(args.request_latency_ms),
            ussd_delay: Duration::from_millis(args.ussd_delay_ms),
        },
        ..SimConfig::new(args.profile).with_credentials(&args.username, &args.password)
    };
    let sim = match Simulator::start(config).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("hilink-sim: cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on http://{}", sim.addr);
    if let Some(control) = sim.control_addr {
        tracing::info!("control API on http://{control}/sim/");
    }
    let _ = out.flush();
    drop(out);
    wait_for_signal().await;
    tracing::info!("stopping");
    sim.shutdown().await;
    ExitCode::SUCCESS
}

/// Resolves on SIGINT or SIGTERM.
async fn wait_for_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
