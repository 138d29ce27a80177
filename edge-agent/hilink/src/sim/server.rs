//! Starting and stopping the simulator: the top of it.
//!
//! Binds the device listener (and optionally a control-only one), puts the device API
//! behind the availability gate, merges in the `/sim/` control API, and hands back a
//! [`SimHandle`].

use std::io;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use axum::middleware;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::config::SimConfig;
use super::listener::{SimListener, availability_gate};
use super::simulator::{Availability, Simulator};
use super::{control, http};

impl Simulator {
    /// Binds the device listener (and the control listener, if configured) and starts
    /// serving on the current tokio runtime.
    pub async fn start(config: SimConfig) -> io::Result<SimHandle> {
        let listener = TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let control = match config.control_addr {
            Some(control_addr) => Some(TcpListener::bind(control_addr).await?),
            None => None,
        };
        let control_addr = control.as_ref().map(TcpListener::local_addr).transpose()?;
        let sim = Arc::new(Simulator::new(config));
        // The gate holds device requests while the device hangs; the control routes stay
        // outside it, so that a test can bring the device back.
        let app = http::router(sim.clone())
            .layer(middleware::from_fn_with_state(
                sim.clone(),
                availability_gate,
            ))
            .merge(control::router(sim.clone()));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let device_listener = SimListener::new(listener, addr, &sim);
        let control_app = control::router(sim.clone());
        let task = tokio::spawn(async move {
            if let Some(control) = control {
                tokio::spawn(async move {
                    if let Err(e) = axum::serve(control, control_app).await {
                        tracing::error!(error = %e, "control listener failed");
                    }
                });
            }
            let served = axum::serve(device_listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "simulator stopped");
            }
        });
        tracing::info!(%addr, profile = %sim.profile(), "hilink simulator listening");
        Ok(SimHandle {
            addr,
            control_addr,
            sim,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

/// A started simulator: its address, its controls (through `Deref`) and a way to stop it.
/// Dropping the handle stops the server.
#[derive(Debug)]
pub struct SimHandle {
    /// Where the device API listens.
    pub addr: SocketAddr,
    /// Where the control-only listener is, if one was configured.
    pub control_addr: Option<SocketAddr>,
    sim: Arc<Simulator>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// `http://<addr>/`, the base URL a client is configured with.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The shared simulator, for code that outlives the handle's borrow.
    pub fn simulator(&self) -> Arc<Simulator> {
        self.sim.clone()
    }

    /// Stops serving and waits until open connections are done (hanging requests are
    /// released first).
    pub async fn shutdown(mut self) {
        if self.sim.availability() != Availability::Online {
            self.sim.set_availability(Availability::Online, None);
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Deref for SimHandle {
    type Target = Simulator;

    fn deref(&self) -> &Simulator {
        &self.sim
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
