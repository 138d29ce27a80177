//! Starting and stopping the simulator, and its two ways of being unreachable.
//!
//! The device listener is wrapped so that "offline" can mean what it means for a real
//! stick: `Refuse` closes the listening socket (connections are refused) and resets
//! established connections at their next request; `Hang` accepts connections and never
//! answers until the device is back online.

use std::io;
use std::net::SocketAddr;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::config::{Profile, SimConfig};
use super::device::Device;
use super::session::Sessions;

/// Whether the device answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Normal operation.
    Online,
    /// The listening socket is closed: new connections are refused, open ones are reset.
    Refuse,
    /// Connections are accepted but requests get no answer.
    Hang,
}

/// The mutable state behind the device API.
#[derive(Debug)]
pub(crate) struct Inner {
    /// SMS storage, sends, reports and the ledger.
    pub device: Device,
    /// Sessions and their tokens.
    pub sessions: Sessions,
}

/// A running simulated device. Obtained through [`SimHandle`], which derefs to it; its
/// methods (in `control`) are the fault-injection and inspection controls.
#[derive(Debug)]
pub struct Simulator {
    config: SimConfig,
    pub(crate) inner: Mutex<Inner>,
    pub(crate) availability: watch::Sender<Availability>,
}

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
        let (availability, avail_rx) = watch::channel(Availability::Online);
        let sim = Arc::new(Simulator {
            inner: Mutex::new(Inner {
                device: Device::new(config.profile, config.timings, config.local_max),
                sessions: Sessions::default(),
            }),
            config,
            availability,
        });
        let app = super::http::router(sim.clone()).merge(super::control::router(sim.clone()));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let device_listener = SimListener {
            addr,
            listener: Some(listener),
            availability: avail_rx,
        };
        let control_app = super::control::router(sim.clone());
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
        tracing::info!(%addr, profile = %sim.config.profile, "hilink simulator listening");
        Ok(SimHandle {
            addr,
            control_addr,
            sim,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }

    /// The firmware family being simulated.
    pub fn profile(&self) -> Profile {
        self.config.profile
    }

    /// The configuration the simulator was started with (timings may have changed since;
    /// see [`Simulator::timings`]).
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
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
        self.sim.availability.send_replace(Availability::Online);
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

/// Holds requests while the device hangs.
pub(crate) async fn availability_gate(
    State(sim): State<Arc<Simulator>>,
    request: Request,
    next: Next,
) -> Response {
    let mut rx = sim.availability.subscribe();
    loop {
        if *rx.borrow_and_update() == Availability::Online {
            break;
        }
        if rx.changed().await.is_err() {
            break;
        }
    }
    next.run(request).await
}

/// The device's listening socket, closed and re-opened as availability changes.
struct SimListener {
    addr: SocketAddr,
    listener: Option<TcpListener>,
    availability: watch::Receiver<Availability>,
}

impl SimListener {
    /// Waits for the next availability change; never returns if the simulator is gone.
    async fn changed(availability: &mut watch::Receiver<Availability>) {
        if availability.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl axum::serve::Listener for SimListener {
    type Io = SimIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (SimIo, SocketAddr) {
        loop {
            let mode = *self.availability.borrow_and_update();
            if mode == Availability::Refuse {
                if self.listener.take().is_some() {
                    tracing::info!(addr = %self.addr, "simulated device offline: listener closed");
                }
                Self::changed(&mut self.availability).await;
                continue;
            }
            let listener = match self.listener.take() {
                Some(listener) => listener,
                None => match TcpListener::bind(self.addr).await {
                    Ok(listener) => {
                        tracing::info!(addr = %self.addr, "simulated device back online");
                        listener
                    }
                    Err(e) => {
                        tracing::warn!(addr = %self.addr, error = %e, "cannot re-open listener");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let accepted = tokio::select! {
                accepted = listener.accept() => Some(accepted),
                () = Self::changed(&mut self.availability) => None,
            };
            self.listener = Some(listener);
            match accepted {
                Some(Ok((stream, peer))) => {
                    let io = SimIo {
                        stream,
                        availability: self.availability.clone(),
                    };
                    return (io, peer);
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                None => {}
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

/// A device connection that breaks at its next request while the device refuses. A reply
/// already being written still goes out (that is how `/sim/offline` itself gets answered).
pub(crate) struct SimIo {
    stream: TcpStream,
    availability: watch::Receiver<Availability>,
}

impl SimIo {
    fn refused(&self) -> bool {
        *self.availability.borrow() == Availability::Refuse
    }
}

fn reset() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "simulated device offline")
}

impl AsyncRead for SimIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.refused() {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
