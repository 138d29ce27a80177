//! The few parts of MQTT packets the front reads and writes. Everything else is relayed
//! byte for byte: the front frames packets by their fixed header and looks inside PUBLISH,
//! SUBSCRIBE and SUBACK only (CONNECT goes through rumqttd's codec, once per connection).
//! Field layouts are those of MQTT 3.1.1 and 5 (`v5` adds the properties).

/// Packet types (the high nibble of the first byte).
pub(crate) const CONNECT: u8 = 1;
pub(crate) const PUBLISH: u8 = 3;
pub(crate) const SUBSCRIBE: u8 = 8;
pub(crate) const SUBACK: u8 = 9;

/// SUBACK code of a refused filter in MQTT 3.1.1.
pub(crate) const V4_SUBACK_FAILURE: u8 = 0x80;
/// MQTT 5 reason code "Not authorized" (SUBACK, PUBACK, PUBREC, DISCONNECT, CONNACK).
pub(crate) const V5_NOT_AUTHORIZED: u8 = 0x87;

/// A complete packet at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    /// The packet type.
    pub kind: u8,
    /// The flags of the first byte (PUBLISH: DUP, QoS, RETAIN).
    pub flags: u8,
    /// Bytes of the fixed header (type byte and remaining length).
    pub header_len: usize,
    /// Bytes of the whole packet.
    pub len: usize,
}

/// Why bytes are not a packet the front can relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WireError {
    /// A length or field runs past its packet, or a field has a value MQTT forbids.
    #[error("malformed packet")]
    Malformed,
    /// The packet is larger than `limits.max_payload_size`.
    #[error("a packet of {0} bytes exceeds the size limit")]
    TooLarge(usize),
}

/// The packet at the start of `buf` once it is complete (`None`: read more).
pub(crate) fn frame(buf: &[u8], max_packet: usize) -> Result<Option<Frame>, WireError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut remaining = 0usize;
    let mut at = 1;
    loop {
        let Some(&byte) = buf.get(at) else {
            return Ok(None);
        };
        remaining |= usize::from(byte & 0x7f) << (7 * (at - 1));
        at += 1;
        if byte & 0x80 == 0 {
            break;
        }
        if at > 4 {
            return Err(WireError::Malformed);
        }
    }
    if remaining > max_packet {
        return Err(WireError::TooLarge(remaining));
    }
    let len = at + remaining;
    if buf.len() < len {
        return Ok(None);
    }
    Ok(Some(Frame {
        kind: first >> 4,
        flags: first & 0x0f,
        header_len: at,
        len,
    }))
}

/// Reads the fields of a packet in order.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn of(packet: &'a [u8], frame: Frame) -> Self {
        Self {
            bytes: &packet[..frame.len],
            at: frame.header_len,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.at.checked_add(n).ok_or(WireError::Malformed)?;
        let taken = self.bytes.get(self.at..end).ok_or(WireError::Malformed)?;
        self.at = end;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A length-prefixed string or binary field.
    fn prefixed(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    fn varint(&mut self) -> Result<usize, WireError> {
        let mut value = 0usize;
        for i in 0..4 {
            let byte = self.u8()?;
            value |= usize::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::Malformed)
    }

    /// MQTT 5 properties: the raw bytes (length included) and the Topic Alias, if any.
    fn properties(&mut self) -> Result<(&'a [u8], Option<u16>), WireError> {
        let start = self.at;
        let len = self.varint()?;
        let end = self.at.checked_add(len).ok_or(WireError::Malformed)?;
        let mut alias = None;
        while self.at < end {
            match self.u8()? {
                // Byte values.
                0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2a => {
                    self.take(1)?;
                }
                0x23 => alias = Some(self.u16()?),
                0x13 | 0x21 | 0x22 => {
                    self.u16()?;
                }
                0x02 | 0x11 | 0x18 | 0x27 => {
                    self.take(4)?;
                }
                0x0b => {
                    self.varint()?;
                }
                0x03 | 0x08 | 0x09 | 0x12 | 0x15 | 0x16 | 0x1a | 0x1c | 0x1f => {
                    self.prefixed()?;
                }
                // A user property: a pair of strings.
                0x26 => {
                    self.prefixed()?;
                    self.prefixed()?;
                }
                _ => return Err(WireError::Malformed),
            }
        }
        if self.at != end {
            return Err(WireError::Malformed);
        }
        Ok((&self.bytes[start..end], alias))
    }

    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at..]
    }
}

/// What the front needs of a PUBLISH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Publish<'a> {
    /// The topic name (empty when an MQTT 5 alias stands for it).
    pub topic: &'a [u8],
    /// 0, 1 or 2.
    pub qos: u8,
    /// The retain flag.
    pub retain: bool,
    /// The packet identifier (QoS 1 and 2).
    pub packet_id: u16,
    /// The MQTT 5 Topic Alias.
    pub alias: Option<u16>,
    /// Bytes of the MQTT 5 properties field, its length included (0 in 3.1.1, 1 when
    /// empty).
    pub properties_len: usize,
    /// Where the payload starts in the packet.
    pub payload_at: usize,
}

impl Publish<'_> {
    /// Whether it carries MQTT 5 properties.
    pub(crate) fn has_properties(&self) -> bool {
        self.properties_len > 1
    }

    /// The same PUBLISH on `topic` in full, without properties (and so without alias).
    pub(crate) fn without_properties(&self, packet: &[u8], topic: &str) -> Vec<u8> {
        let payload = &packet[self.payload_at..];
        let mut body = Vec::with_capacity(2 + topic.len() + 3 + payload.len());
        body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
        body.extend_from_slice(topic.as_bytes());
        if self.qos > 0 {
            body.extend_from_slice(&self.packet_id.to_be_bytes());
        }
        body.push(0);
        body.extend_from_slice(payload);
        self::packet(packet[0], &body)
    }
}

/// Reads a PUBLISH.
pub(crate) fn publish(packet: &[u8], frame: Frame, v5: bool) -> Result<Publish<'_>, WireError> {
    let qos = (frame.flags >> 1) & 0b11;
    if qos == 3 {
        return Err(WireError::Malformed);
    }
    let mut fields = Fields::of(packet, frame);
    let topic = fields.prefixed()?;
    let packet_id = if qos > 0 { fields.u16()? } else { 0 };
    let (properties, alias) = if v5 {
        fields.properties()?
    } else {
        (&[][..], None)
    };
    Ok(Publish {
        topic,
        qos,
        retain: frame.flags & 1 == 1,
        packet_id,
        alias,
        properties_len: properties.len(),
        payload_at: fields.at,
    })
}

/// A SUBSCRIBE, read far enough to keep only some of its filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscribe<'a> {
    /// The packet identifier its SUBACK answers.
    pub packet_id: u16,
    /// MQTT 5 properties, raw (length included); empty in 3.1.1.
    pub properties: &'a [u8],
    /// Each filter with its raw entry (length, filter and options byte).
    pub filters: Vec<(&'a [u8], &'a [u8])>,
}

/// Reads a SUBSCRIBE.
pub(crate) fn subscribe(packet: &[u8], frame: Frame, v5: bool) -> Result<Subscribe<'_>, WireError> {
    let mut fields = Fields::of(packet, frame);
    let packet_id = fields.u16()?;
    let properties = if v5 { fields.properties()?.0 } else { &[] };
    let mut filters = Vec::new();
    while !fields.rest().is_empty() {
        let start = fields.at;
        let filter = fields.prefixed()?;
        fields.u8()?;
        filters.push((filter, &fields.bytes[start..fields.at]));
    }
    if filters.is_empty() {
        return Err(WireError::Malformed);
    }
    Ok(Subscribe {
        packet_id,
        properties,
        filters,
    })
}

impl Subscribe<'_> {
    /// The same SUBSCRIBE with only the filters at `keep` (indexes, in order).
    pub(crate) fn keeping(&self, keep: &[usize]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.packet_id.to_be_bytes());
        body.extend_from_slice(self.properties);
        for &i in keep {
            body.extend_from_slice(self.filters[i].1);
        }
        packet(0x82, &body)
    }
}

/// A SUBACK: its packet identifier, raw MQTT 5 properties and reason codes.
pub(crate) fn suback(
    packet: &[u8],
    frame: Frame,
    v5: bool,
) -> Result<(u16, &[u8], &[u8]), WireError> {
    let mut fields = Fields::of(packet, frame);
    let packet_id = fields.u16()?;
    let properties = if v5 { fields.properties()?.0 } else { &[] };
    Ok((packet_id, properties, fields.rest()))
}

/// A SUBACK with `codes`; `properties` raw (MQTT 5: at least the zero length byte).
pub(crate) fn encode_suback(packet_id: u16, properties: &[u8], codes: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(2 + properties.len() + codes.len());
    body.extend_from_slice(&packet_id.to_be_bytes());
    body.extend_from_slice(properties);
    body.extend_from_slice(codes);
    packet(0x90, &body)
}

/// MQTT 5 PUBACK (QoS 1) or PUBREC (QoS 2) with a reason code.
pub(crate) fn publish_refusal(qos: u8, packet_id: u16, reason: u8) -> Vec<u8> {
    let kind = if qos == 2 { 0x50 } else { 0x40 };
    let [hi, lo] = packet_id.to_be_bytes();
    vec![kind, 3, hi, lo, reason]
}

/// MQTT 5 DISCONNECT with a reason code (and an empty properties field: MQTT 5 allows
/// leaving it out, but rumqttc 0.25 then waits for it and loses the packet).
pub(crate) fn disconnect(reason: u8) -> Vec<u8> {
    vec![0xe0, 2, reason, 0]
}

/// A refusing CONNACK: the 3.1.1 return code or the MQTT 5 reason code.
pub(crate) fn connack_refusal(v5: bool, code: u8) -> Vec<u8> {
    if v5 {
        // Session present 0, the reason, no properties.
        vec![0x20, 3, 0, code, 0]
    } else {
        vec![0x20, 2, 0, code]
    }
}

/// A packet from its first byte and body.
fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(first);
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(bytes: &[u8]) -> Frame {
        frame(bytes, 1 << 20).expect("valid").expect("complete")
    }

    #[test]
    fn frames_wait_for_their_last_byte() {
        let publish = [0x32, 0x09, 0, 3, b'a', b'/', b'b', 0, 7, b'h', b'i'];
        assert_eq!(frame(&publish[..1], 100), Ok(None));
        assert_eq!(frame(&publish[..10], 100), Ok(None));
        let f = framed(&publish);
        assert_eq!((f.kind, f.flags, f.header_len, f.len), (3, 2, 2, 11));
        assert_eq!(frame(&publish, 5), Err(WireError::TooLarge(9)));
        // Five length bytes are one too many.
        assert_eq!(
            frame(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01], usize::MAX),
            Err(WireError::Malformed)
        );
        // 200 bytes take two length bytes.
        let mut long = vec![0x30, 0xc8, 0x01];
        long.resize(203, 0);
        assert_eq!(framed(&long).len, 203);
    }

    #[test]
    fn publish_fields_in_both_versions() {
        let v4 = [0x33, 0x09, 0, 3, b'a', b'/', b'b', 0, 7, b'h', b'i'];
        let p = publish(&v4, framed(&v4), false).expect("publish");
        assert_eq!(
            (p.topic, p.qos, p.retain, p.packet_id),
            (&b"a/b"[..], 1, true, 7)
        );
        // MQTT 5: properties with a content type and a topic alias.
        let v5 = [
            0x30, 0x0e, 0, 1, b'x', 0x08, 0x03, 0, 2, b'j', b's', 0x23, 0, 5, b'h', b'i',
        ];
        let p = publish(&v5, framed(&v5), true).expect("publish");
        assert_eq!((p.topic, p.qos, p.alias), (&b"x"[..], 0, Some(5)));
        assert!(p.has_properties());
        // The same message on a full topic, without its properties.
        assert_eq!(
            p.without_properties(&v5, "a/b"),
            [0x30, 0x08, 0, 3, b'a', b'/', b'b', 0, b'h', b'i']
        );
        let qos1 = [0x32, 0x07, 0, 1, b'x', 0, 9, 0, b'!'];
        let p = publish(&qos1, framed(&qos1), true).expect("publish");
        assert!(!p.has_properties());
        assert_eq!(p.without_properties(&qos1, "x"), qos1);
        let bad_qos = [0x36, 0x05, 0, 1, b'x', 0, 1];
        assert_eq!(
            publish(&bad_qos, framed(&bad_qos), false),
            Err(WireError::Malformed)
        );
        let short = [0x30, 0x03, 0, 9, b'x'];
        assert_eq!(
            publish(&short, framed(&short), false),
            Err(WireError::Malformed)
        );
        let unknown_property = [0x30, 0x05, 0, 1, b'x', 0x01, 0x7f];
        assert_eq!(
            publish(&unknown_property, framed(&unknown_property), true),
            Err(WireError::Malformed)
        );
    }

    #[test]
    fn a_subscribe_keeps_the_filters_asked_for() {
        let v4 = [0x82, 0x0c, 0, 9, 0, 1, b'a', 1, 0, 3, b'b', b'/', b'c', 0];
        let s = subscribe(&v4, framed(&v4), false).expect("subscribe");
        assert_eq!(s.packet_id, 9);
        let names: Vec<_> = s.filters.iter().map(|f| f.0).collect();
        assert_eq!(names, [&b"a"[..], &b"b/c"[..]]);
        assert_eq!(
            s.keeping(&[1]),
            [0x82, 0x08, 0, 9, 0, 3, b'b', b'/', b'c', 0]
        );
        assert_eq!(s.keeping(&[0, 1]), v4);
        // MQTT 5 keeps its properties (here a subscription identifier).
        let v5 = [0x82, 0x09, 0, 2, 0x02, 0x0b, 0x01, 0, 1, b'a', 1];
        let s = subscribe(&v5, framed(&v5), true).expect("subscribe");
        assert_eq!(s.properties, [0x02, 0x0b, 0x01]);
        assert_eq!(s.keeping(&[0]), v5[..]);
        let empty = [0x82, 0x02, 0, 1];
        assert_eq!(
            subscribe(&empty, framed(&empty), false),
            Err(WireError::Malformed)
        );
    }

    #[test]
    fn subacks_and_refusals() {
        let v5 = [0x90, 0x05, 0, 4, 0x00, 0x01, 0x87];
        assert_eq!(
            suback(&v5, framed(&v5), true).expect("suback"),
            (4, &[0u8][..], &[1u8, 0x87][..])
        );
        assert_eq!(encode_suback(4, &[0], &[1, 0x87]), v5);
        let v4 = encode_suback(300, &[], &[0x80]);
        assert_eq!(v4, [0x90, 3, 1, 44, 0x80]);
        assert_eq!(suback(&v4, framed(&v4), false).expect("suback").0, 300);
        assert_eq!(publish_refusal(1, 258, 0x87), [0x40, 3, 1, 2, 0x87]);
        assert_eq!(publish_refusal(2, 1, 0x87), [0x50, 3, 0, 1, 0x87]);
        assert_eq!(disconnect(0x87), [0xe0, 2, 0x87, 0]);
        assert_eq!(connack_refusal(false, 4), [0x20, 2, 0, 4]);
        assert_eq!(connack_refusal(true, 0x86), [0x20, 3, 0, 0x86, 0]);
    }
}
