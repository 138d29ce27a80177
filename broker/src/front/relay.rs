//! One admitted client, relayed to rumqttd. Client → broker, every PUBLISH and SUBSCRIBE
//! is checked against the topic rules; broker → client, packets pass unchanged except the
//! SUBACK of a subscription the front trimmed, which gets the refused filters' codes back
//! in place. Both directions move whole packets in batches (one read, every complete
//! packet in it, one write), so a flood costs a read and a write per batch, not per message.
//!
//! A refused PUBLISH ends an MQTT 3.1.1 connection (3.1.1 has no negative PUBACK); MQTT 5
//! gets PUBACK or PUBREC "not authorized" for QoS 1 and 2 and DISCONNECT "not authorized"
//! for QoS 0. A refused filter gets SUBACK 0x80 (MQTT 5: 0x87); the others are subscribed.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use bytes::{Buf, BytesMut};
use smsgw_shared::{
    acl::{AclRefusal, Action},
    credentials::MqttPrincipal,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpStream,
    sync::{mpsc, watch},
};
use tracing::{debug, info, warn};

use super::{Shared, wire};
use crate::{auth::shorten, metrics};

/// Bytes read at once in each direction.
const READ_CHUNK: usize = 64 * 1024;
/// Time the other direction gets to finish once one has ended (a half-closed connection,
/// a last packet to deliver).
const GRACE: Duration = Duration::from_secs(5);
/// MQTT 5 reason code of a DISCONNECT by the broker's decision.
const ADMINISTRATIVE_ACTION: u8 = 0x98;

/// The client a relay serves.
pub(crate) struct Session<'a> {
    /// Its client id.
    pub client_id: &'a str,
    /// Who it is.
    pub principal: &'a MqttPrincipal,
    /// Whether it speaks MQTT 5.
    pub v5: bool,
    /// The broker's settings.
    pub shared: &'a Shared,
}

impl Session<'_> {
    /// Logs and counts a refusal.
    fn refused(&self, what: &'static str, topic: &str, refusal: AclRefusal) {
        warn!(
            client_id = self.client_id,
            packet = what,
            topic = shorten(topic),
            reason = refusal.label(),
            "MQTT {what} refused: {refusal}"
        );
        metrics::refused(refusal.label());
    }

    fn refusal_code(&self) -> u8 {
        if self.v5 {
            wire::V5_NOT_AUTHORIZED
        } else {
            wire::V4_SUBACK_FAILURE
        }
    }
}

/// What the client side asks the broker side to send to the client.
enum ToClient {
    /// A packet of the front's own (a refusal).
    Packet(Vec<u8>),
    /// The last packet, if any; then the connection closes.
    Close(Option<Vec<u8>>),
}

/// For each trimmed SUBSCRIBE (by packet identifier), the code of each of the client's
/// filters: `None` takes the broker's next code, `Some` is the front's refusal.
type Patches = Mutex<HashMap<u16, Vec<Option<u8>>>>;

/// How the client → broker direction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inbound {
    /// The client closed its side (after DISCONNECT, or it vanished).
    ClientClosed,
    /// A refusal ends the connection; the last packet is on its way to the client.
    Refused,
    /// A socket failed or the client broke the protocol.
    Failed,
}

/// What becomes of one client packet.
enum Verdict {
    /// Relay it as it is.
    Forward,
    /// Relay this instead.
    Replace(Vec<u8>),
    /// Relay nothing; answer the client with this.
    Answer(Vec<u8>),
    /// Relay nothing; send this last packet, if any, and close.
    Close(Option<Vec<u8>>),
}

/// Relays until either side ends the connection, or the registry asks to close it.
pub(crate) async fn run<R, W>(
    client_read: R,
    client_write: W,
    upstream: TcpStream,
    leftover: BytesMut,
    session: Session<'_>,
    closed: watch::Receiver<bool>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (upstream_read, upstream_write) = upstream.into_split();
    let patches = Patches::default();
    let (to_client, from_inbound) = mpsc::channel(16);
    let inbound = client_to_broker(
        client_read,
        upstream_write,
        leftover,
        &session,
        &patches,
        &to_client,
    );
    let outbound = broker_to_client(
        upstream_read,
        client_write,
        from_inbound,
        session.v5,
        &patches,
    );
    tokio::pin!(inbound, outbound);
    tokio::select! {
        () = &mut outbound => return,
        end = &mut inbound => {
            if end == Inbound::Failed {
                return;
            }
        }
        () = until_closed(closed) => {
            info!(client_id = session.client_id, "MQTT connection closed by the broker");
            let last = session.v5.then(|| wire::disconnect(ADMINISTRATIVE_ACTION));
            let _ = tokio::time::timeout(GRACE, to_client.send(ToClient::Close(last))).await;
        }
    }
    let _ = tokio::time::timeout(GRACE, outbound).await;
}

/// Resolves once the registry marks the connection closed (never if it cannot).
async fn until_closed(mut closed: watch::Receiver<bool>) {
    loop {
        if *closed.borrow_and_update() {
            return;
        }
        if closed.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

async fn client_to_broker<R, W>(
    mut client: R,
    mut broker: W,
    mut buf: BytesMut,
    session: &Session<'_>,
    patches: &Patches,
    to_client: &mpsc::Sender<ToClient>,
) -> Inbound
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut checker = Checker::default();
    let mut out = Vec::with_capacity(READ_CHUNK);
    loop {
        loop {
            let frame = match wire::frame(&buf, session.shared.max_packet) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    debug!(client_id = session.client_id, error = %e, "closing: {e}");
                    let _ = broker.write_all(&out).await;
                    return Inbound::Failed;
                }
            };
            match checker.decide(&buf[..frame.len], frame, session, patches) {
                Verdict::Forward => out.extend_from_slice(&buf[..frame.len]),
                Verdict::Replace(packet) => out.extend_from_slice(&packet),
                Verdict::Answer(packet) => {
                    if to_client.send(ToClient::Packet(packet)).await.is_err() {
                        return Inbound::Failed;
                    }
                }
                Verdict::Close(last) => {
                    // What came before the refused packet was allowed: it still goes.
                    let _ = broker.write_all(&out).await;
                    let _ = to_client.send(ToClient::Close(last)).await;
                    return Inbound::Refused;
                }
            }
            buf.advance(frame.len);
        }
        if !out.is_empty() {
            if broker.write_all(&out).await.is_err() {
                return Inbound::Failed;
            }
            out.clear();
        }
        buf.reserve(READ_CHUNK);
        match client.read_buf(&mut buf).await {
            Ok(0) => {
                // Half close: rumqttd sees the end after whatever was relayed.
                let _ = broker.shutdown().await;
                return Inbound::ClientClosed;
            }
            Ok(_) => {}
            Err(e) => {
                debug!(client_id = session.client_id, error = %e, "client read failed");
                return Inbound::Failed;
            }
        }
    }
}

async fn broker_to_client<R, W>(
    mut broker: R,
    mut client: W,
    mut from_inbound: mpsc::Receiver<ToClient>,
    v5: bool,
    patches: &Patches,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Vec::with_capacity(READ_CHUNK);
    let mut inbound_open = true;
    loop {
        tokio::select! {
            biased;
            message = from_inbound.recv(), if inbound_open => match message {
                Some(ToClient::Packet(packet)) => {
                    if client.write_all(&packet).await.is_err() {
                        return;
                    }
                }
                Some(ToClient::Close(last)) => {
                    if let Some(packet) = last {
                        let _ = client.write_all(&packet).await;
                    }
                    let _ = client.shutdown().await;
                    return;
                }
                None => inbound_open = false,
            },
            read = broker.read_buf(&mut buf) => {
                if !matches!(read, Ok(n) if n > 0) {
                    let _ = client.shutdown().await;
                    return;
                }
                // rumqttd is trusted: its packets are only framed, never limited.
                while let Ok(Some(frame)) = wire::frame(&buf, usize::MAX) {
                    let packet = &buf[..frame.len];
                    match patched_suback(packet, frame, v5, patches) {
                        Some(patched) => out.extend_from_slice(&patched),
                        None => out.extend_from_slice(packet),
                    }
                    buf.advance(frame.len);
                }
                if client.write_all(&out).await.is_err() {
                    return;
                }
                out.clear();
                buf.reserve(READ_CHUNK);
            }
        }
    }
}

/// The SUBACK of a trimmed SUBSCRIBE with every filter's code in place, or `None` for
/// any other packet.
fn patched_suback(
    packet: &[u8],
    frame: wire::Frame,
    v5: bool,
    patches: &Patches,
) -> Option<Vec<u8>> {
    if frame.kind != wire::SUBACK {
        return None;
    }
    let (packet_id, properties, codes) = wire::suback(packet, frame, v5).ok()?;
    let plan = patches
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&packet_id)?;
    // The broker answered the kept filters only, in order.
    let mut broker_codes = codes.iter().copied();
    let merged: Vec<u8> = plan
        .iter()
        .map(|code| code.unwrap_or_else(|| broker_codes.next().unwrap_or(wire::V4_SUBACK_FAILURE)))
        .collect();
    Some(wire::encode_suback(packet_id, properties, &merged))
}

/// The client → broker decisions of one connection.
#[derive(Default)]
struct Checker {
    /// MQTT 5 topic aliases the client set, for the PUBLISHes that name only an alias.
    aliases: HashMap<u16, String>,
    /// The last topic and retain flag allowed: a flood to one topic is checked once.
    last_allowed: Option<(Vec<u8>, bool)>,
}

impl Checker {
    fn decide(
        &mut self,
        packet: &[u8],
        frame: wire::Frame,
        session: &Session<'_>,
        patches: &Patches,
    ) -> Verdict {
        match frame.kind {
            wire::PUBLISH => self.publish(packet, frame, session),
            wire::SUBSCRIBE => subscribe(packet, frame, session, patches),
            wire::CONNECT => {
                debug!(client_id = session.client_id, "closing: a second CONNECT");
                Verdict::Close(None)
            }
            _ => Verdict::Forward,
        }
    }

    fn publish(&mut self, packet: &[u8], frame: wire::Frame, session: &Session<'_>) -> Verdict {
        let Ok(publish) = wire::publish(packet, frame, session.v5) else {
            debug!(
                client_id = session.client_id,
                "closing: a malformed PUBLISH"
            );
            return Verdict::Close(None);
        };
        let retain = publish.retain;
        // (A PUBLISH that sets an alias goes the long way, which records the alias.)
        let repeated = !publish.topic.is_empty()
            && publish.alias.is_none()
            && self
                .last_allowed
                .as_ref()
                .is_some_and(|(topic, r)| topic == publish.topic && *r == retain);
        if repeated && !publish.has_properties() {
            return Verdict::Forward;
        }
        let topic = if publish.topic.is_empty() {
            // MQTT 5: the alias stands for a topic set (and checked) before.
            publish.alias.and_then(|a| self.aliases.get(&a)).cloned()
        } else {
            std::str::from_utf8(publish.topic).ok().map(str::to_owned)
        };
        let decision = match &topic {
            Some(_) if repeated => Ok(()),
            Some(topic) => {
                session
                    .shared
                    .rules
                    .check(session.principal, Action::Publish { retain }, topic)
            }
            None => Err(AclRefusal::Malformed),
        };
        let topic = topic.unwrap_or_default();
        if let Err(refusal) = decision {
            session.refused("PUBLISH", &topic, refusal);
            return if !session.v5 {
                Verdict::Close(None)
            } else if publish.qos == 0 {
                Verdict::Close(Some(wire::disconnect(wire::V5_NOT_AUTHORIZED)))
            } else {
                let code = wire::V5_NOT_AUTHORIZED;
                Verdict::Answer(wire::publish_refusal(publish.qos, publish.packet_id, code))
            };
        }
        if let (Some(alias), false) = (publish.alias, publish.topic.is_empty()) {
            self.aliases.insert(alias, topic.clone());
        }
        // rumqttd 0.20 panics when it hands a message with MQTT 5 properties to an MQTT
        // 3.1.1 subscriber (the API, every agent), ending that subscriber's connection: the
        // front relays MQTT 5 messages on their full topic, without properties.
        let verdict = if publish.has_properties() {
            Verdict::Replace(publish.without_properties(packet, &topic))
        } else {
            Verdict::Forward
        };
        self.last_allowed = Some((topic.into_bytes(), retain));
        verdict
    }
}

/// Keeps the allowed filters of a SUBSCRIBE; answers it alone when none is allowed.
fn subscribe(
    packet: &[u8],
    frame: wire::Frame,
    session: &Session<'_>,
    patches: &Patches,
) -> Verdict {
    let Ok(subscribe) = wire::subscribe(packet, frame, session.v5) else {
        debug!(
            client_id = session.client_id,
            "closing: a malformed SUBSCRIBE"
        );
        return Verdict::Close(None);
    };
    let mut plan = Vec::with_capacity(subscribe.filters.len());
    let mut keep = Vec::with_capacity(subscribe.filters.len());
    for (i, (filter, _)) in subscribe.filters.iter().enumerate() {
        let filter = std::str::from_utf8(filter);
        let decision = match filter {
            Ok(filter) => session
                .shared
                .rules
                .check(session.principal, Action::Subscribe, filter),
            Err(_) => Err(AclRefusal::Malformed),
        };
        match decision {
            Ok(()) => {
                keep.push(i);
                plan.push(None);
            }
            Err(refusal) => {
                session.refused("SUBSCRIBE", filter.unwrap_or_default(), refusal);
                plan.push(Some(session.refusal_code()));
            }
        }
    }
    if keep.len() == plan.len() {
        return Verdict::Forward;
    }
    if keep.is_empty() {
        let codes: Vec<u8> = plan.iter().flatten().copied().collect();
        let properties: &[u8] = if session.v5 { &[0] } else { &[] };
        return Verdict::Answer(wire::encode_suback(subscribe.packet_id, properties, &codes));
    }
    patches
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(subscribe.packet_id, plan);
    Verdict::Replace(subscribe.keeping(&keep))
}
