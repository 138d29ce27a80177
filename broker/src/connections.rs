//! The live client connections, as the front let them in: who each one is and the claims
//! of its credential, so that the broker can end the sessions of a credential that has
//! been revoked since (module `front` registers and closes them).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
};

use smsgw_shared::credentials::{MqttClaims, MqttPrincipal};
use tokio::sync::watch;

/// One live connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConnection {
    /// Its MQTT client id.
    pub client_id: String,
    /// Who the client id names.
    pub principal: MqttPrincipal,
    /// The claims of the credential it connected with.
    pub claims: MqttClaims,
}

/// Every live connection of a broker; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Connections {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: AtomicU64,
    live: Mutex<HashMap<u64, Entry>>,
}

#[derive(Debug)]
struct Entry {
    connection: LiveConnection,
    close: watch::Sender<bool>,
}

impl Connections {
    /// A snapshot of the live connections.
    pub fn list(&self) -> Vec<LiveConnection> {
        self.live().values().map(|e| e.connection.clone()).collect()
    }

    /// How many connections are live.
    pub fn len(&self) -> usize {
        self.live().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes every connection `matches` selects (MQTT 5 clients get a DISCONNECT with
    /// reason "administrative action"; rumqttd then publishes their Will) and says how
    /// many it asked to close.
    pub fn close_where(&self, matches: impl Fn(&LiveConnection) -> bool) -> usize {
        let live = self.live();
        let mut closed = 0;
        for entry in live.values().filter(|e| matches(&e.connection)) {
            entry.close.send_replace(true);
            closed += 1;
        }
        closed
    }

    /// Adds a connection; it leaves the registry when the registration is dropped.
    pub(crate) fn register(&self, connection: LiveConnection) -> Registration {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (close, closed) = watch::channel(false);
        self.live().insert(id, Entry { connection, close });
        Registration {
            id,
            connections: self.clone(),
            closed,
        }
    }

    fn live(&self) -> MutexGuard<'_, HashMap<u64, Entry>> {
        // A panic elsewhere while holding the lock leaves the map usable.
        self.inner
            .live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A connection's place in the registry, held while it lives.
#[derive(Debug)]
pub(crate) struct Registration {
    id: u64,
    connections: Connections,
    closed: watch::Receiver<bool>,
}

impl Registration {
    /// Resolves when [`Connections::close_where`] selects this connection.
    pub(crate) fn closed(&self) -> watch::Receiver<bool> {
        self.closed.clone()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.connections.live().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(client_id: &str) -> LiveConnection {
        LiveConnection {
            client_id: client_id.into(),
            principal: MqttPrincipal::from_client_id(client_id).expect("principal"),
            claims: MqttClaims {
                sub: client_id.into(),
                aud: "mqtt".into(),
                iat: 0,
                exp: 1,
            },
        }
    }

    #[test]
    fn registered_connections_are_listed_closed_and_removed() {
        let connections = Connections::default();
        let lyon = connections.register(connection("agent-lyon"));
        let paris = connections.register(connection("agent-paris"));
        assert_eq!(connections.len(), 2);
        let closed = lyon.closed();
        assert_eq!(connections.close_where(|c| c.client_id == "agent-lyon"), 1);
        assert!(*closed.borrow());
        assert!(!*paris.closed().borrow());
        drop(lyon);
        assert_eq!(connections.list(), [connection("agent-paris")]);
        drop(paris);
        assert!(connections.is_empty());
    }
}
