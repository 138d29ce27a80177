//! The device's listening socket and its two ways of being unreachable.
//!
//! "Offline" means what it means for a real stick: `Refuse` closes the listening socket
//! (connections are refused) and resets established connections at their next request;
//! `Hang` accepts connections and holds every request until the device is back online.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::simulator::{Availability, Simulator};

/// Holds requests while the device hangs.
pub(crate) async fn availability_gate(
    State(sim): State<Arc<Simulator>>,
    request: Request,
    next: Next,
) -> Response {
    let mut rx = sim.watch_availability();
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
pub(crate) struct SimListener {
    addr: SocketAddr,
    listener: Option<TcpListener>,
    availability: watch::Receiver<Availability>,
}

impl SimListener {
    /// Serves `listener` (bound at `addr`) while `sim` is online.
    pub fn new(listener: TcpListener, addr: SocketAddr, sim: &Simulator) -> Self {
        SimListener {
            addr,
            listener: Some(listener),
            availability: sim.watch_availability(),
        }
    }

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
