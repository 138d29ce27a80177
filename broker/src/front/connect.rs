//! The CONNECT of a client: read it (within `limits.connect_timeout_ms`), authenticate it,
//! check its Will, and write the CONNECT rumqttd gets instead, whose password is the
//! broker's internal secret: rumqttd on loopback takes no client that has not come
//! through here. A refused client gets a CONNACK that says why (rumqttd would only close
//! the socket), then the connection closes.

use bytes::BytesMut;
use rumqttd::protocol::{Login, Packet, Protocol, v4::V4, v5::V5};
use smsgw_shared::acl::{AclRefusal, Action};
use tokio::io::{AsyncRead, AsyncReadExt};
use tracing::{debug, warn};

use super::{Shared, wire};
use crate::{
    auth::{Refusal, Verified, shorten},
    metrics,
};

/// MQTT 3.1.1 CONNACK return codes.
const V4_IDENTIFIER_REJECTED: u8 = 0x02;
const V4_BAD_CREDENTIALS: u8 = 0x04;
const V4_NOT_AUTHORIZED: u8 = 0x05;
/// MQTT 5 CONNACK reason codes.
const V5_CLIENT_ID_NOT_VALID: u8 = 0x85;
const V5_BAD_CREDENTIALS: u8 = 0x86;

/// A client let in.
pub(crate) struct Admitted {
    /// Its client id.
    pub client_id: String,
    /// Who it is and its token's claims.
    pub verified: Verified,
    /// The CONNECT for rumqttd.
    pub upstream_connect: BytesMut,
}

/// Why a connection ends before it is relayed.
pub(crate) enum Turned {
    /// Not an MQTT CONNECT we can read: close without an answer.
    Unreadable(String),
    /// Refused: send this CONNACK, then close.
    Refused(Vec<u8>),
}

/// Reads bytes until the first packet is complete; returns it (a CONNECT) and what came
/// after it, or why the connection is to be closed.
pub(crate) async fn read_first_packet<S: AsyncRead + Unpin>(
    stream: &mut S,
    max_packet: usize,
) -> Result<(BytesMut, BytesMut), String> {
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        match wire::frame(&buf, max_packet) {
            Ok(Some(frame)) if frame.kind == wire::CONNECT => {
                let packet = buf.split_to(frame.len);
                return Ok((packet, buf));
            }
            Ok(Some(frame)) => {
                return Err(format!(
                    "the first packet is of type {}, not CONNECT",
                    frame.kind
                ));
            }
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        match stream.read_buf(&mut buf).await {
            Ok(0) => return Err("closed before CONNECT".into()),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Decides on a CONNECT: the client is authenticated and its Will allowed, or refused.
pub(crate) fn admit(mut packet: BytesMut, shared: &Shared, v5: bool) -> Result<Admitted, Turned> {
    let decoded = if v5 {
        V5.read_mut(&mut packet, shared.max_packet)
    } else {
        V4.read_mut(&mut packet, shared.max_packet)
    };
    let Ok(Packet::Connect(connect, properties, will, _will_properties, login)) = decoded else {
        return Err(Turned::Unreadable(format!(
            "not an MQTT {} CONNECT",
            if v5 { "5" } else { "3.1.1" }
        )));
    };
    let client_id = connect.client_id.clone();
    let (username, password) = login.map(|l| (l.username, l.password)).unwrap_or_default();
    let verified = shared
        .authenticator
        .authenticate(&client_id, &username, &password)
        .map_err(|refusal| {
            let code = match (refusal, v5) {
                (Refusal::UnknownClientId, false) => V4_IDENTIFIER_REJECTED,
                (Refusal::UnknownClientId, true) => V5_CLIENT_ID_NOT_VALID,
                (_, false) => V4_BAD_CREDENTIALS,
                (_, true) => V5_BAD_CREDENTIALS,
            };
            Turned::Refused(wire::connack_refusal(v5, code))
        })?;
    if let Some(will) = &will {
        let action = Action::Will {
            retain: will.retain,
        };
        let (topic, allowed) = match std::str::from_utf8(&will.topic) {
            Ok(topic) => (
                topic,
                shared.rules.check(&verified.principal, action, topic),
            ),
            Err(_) => ("", Err(AclRefusal::Malformed)),
        };
        if let Err(refusal) = allowed {
            warn!(
                client_id,
                topic = shorten(topic),
                reason = refusal.label(),
                "MQTT connection refused: its Will is not allowed ({refusal})"
            );
            metrics::refused(refusal.label());
            let code = if v5 {
                wire::V5_NOT_AUTHORIZED
            } else {
                V4_NOT_AUTHORIZED
            };
            return Err(Turned::Refused(wire::connack_refusal(v5, code)));
        }
    }
    // rumqttd learns nothing of the credential: only that the front let the client in.
    let login = Some(Login {
        username,
        password: shared.internal_secret.clone(),
    });
    let mut upstream_connect = BytesMut::with_capacity(packet.capacity());
    // rumqttd 0.20 turns Will properties into properties of the Will message, and panics
    // when it hands such a message to an MQTT 3.1.1 subscriber: the Will goes without them.
    let rewritten = Packet::Connect(connect, properties, will, None, login);
    let written = if v5 {
        V5.write(rewritten, &mut upstream_connect)
    } else {
        V4.write(rewritten, &mut upstream_connect)
    };
    if let Err(e) = written {
        debug!(client_id, error = ?e, "cannot write the CONNECT for rumqttd");
        return Err(Turned::Unreadable("the CONNECT cannot be relayed".into()));
    }
    Ok(Admitted {
        client_id,
        verified,
        upstream_connect,
    })
}
