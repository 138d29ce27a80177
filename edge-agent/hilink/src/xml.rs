//! Bytes to XML and back, the way HiLink devices need it.
//!
//! Replies arrive as `text/html` without a charset, may carry raw control characters and
//! CESU-8 surrogate pairs, are pretty-printed with tabs, and start with either an `<error>` or a
//! `<response>` root. This module decodes them into a small element tree (quick-xml's event
//! reader underneath; text is kept exactly, unlike quick-xml's serde layer, which trims it) so
//! that every reply type reads its fields by name, in any order, with missing ones tolerated.
//!
//! Requests go the other way: compact XML, fixed element order, escaped text and explicit empty
//! tags (`<Sca></Sca>`), because some firmware rejects anything else with 100005.
//!
//! The simulator reads request bodies with the same tree ([`parse_with`]), under the stricter
//! rules a device applies to what it is sent ([`Rules`]).

use std::fmt::Write as _;
use std::str::FromStr;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::error::Error;

/// Deepest element nesting accepted in a reply; real replies nest three levels.
const MAX_DEPTH: usize = 32;

/// The XML declaration every request starts with (as the WebUI sends it).
pub const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// One XML element: its name, its own text (concatenated, entities resolved) and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The tag name as written.
    pub name: String,
    /// Text directly inside this element, untrimmed.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child with this name (ASCII case-insensitive: 10.x firmware lower-cases some).
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// All children with this name, in order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children
            .iter()
            .filter(move |c| c.name.eq_ignore_ascii_case(name))
    }

    /// A child's text exactly as sent, or `None` when the child is missing.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// A child's text without surrounding white space, or `None` when the child is missing.
    pub fn trimmed(&self, name: &str) -> Option<&str> {
        self.raw(name).map(str::trim)
    }

    /// Whether white space stands between this element's child tags, or below it: the
    /// document was pretty-printed (10.x firmware refuses such requests).
    pub fn is_pretty(&self) -> bool {
        let spaced =
            !self.children.is_empty() && !self.text.is_empty() && self.text.trim().is_empty();
        spaced || self.children.iter().any(Element::is_pretty)
    }

    /// A child's text without surrounding white space; empty when the child is missing.
    pub fn string(&self, name: &str) -> String {
        self.raw(name).map(str::trim).unwrap_or_default().to_owned()
    }

    /// A child's text when present and not blank.
    pub fn opt_string(&self, name: &str) -> Option<String> {
        self.raw(name)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    /// A child's value parsed as a number; `None` when missing, empty or not a number.
    pub fn num<T: FromStr>(&self, name: &str) -> Option<T> {
        self.raw(name).and_then(|s| s.trim().parse().ok())
    }

    /// A child's value that must be present and parse; otherwise a [`Error::Malformed`].
    pub fn required<T: FromStr>(&self, name: &str) -> Result<T, Error> {
        let raw = self
            .raw(name)
            .ok_or_else(|| Error::malformed(format!("<{}> has no <{name}>", self.name)))?;
        raw.trim().parse().map_err(|_| {
            Error::malformed(format!(
                "<{name}> in <{}> is not a valid value: {:?}",
                self.name,
                truncate(raw, 40)
            ))
        })
    }

    /// A child's value read as a flag: `1` or `true` are set, anything else is not.
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.raw(name).map(|s| {
            let s = s.trim();
            s == "1" || s.eq_ignore_ascii_case("true")
        })
    }
}

fn truncate(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// Decodes a reply body as UTF-8, recovering CESU-8 surrogate pairs and replacing other
/// invalid bytes with U+FFFD. A leading byte-order mark is dropped.
pub fn decode_body(bytes: &[u8]) -> String {
    decode(bytes, true).unwrap_or_default()
}

/// Decodes UTF-8 with CESU-8 surrogate pairs, as [`decode_body`] does, but gives `None` at
/// any other invalid byte instead of replacing it (the simulator's reading of requests).
pub fn decode_strict(bytes: &[u8]) -> Option<String> {
    decode(bytes, false)
}

fn decode(bytes: &[u8], lossy: bool) -> Option<String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                return Some(out);
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                if let Ok(valid) = std::str::from_utf8(valid) {
                    out.push_str(valid);
                }
                if let Some(c) = cesu8_pair(after) {
                    out.push(c);
                    rest = after.get(6..).unwrap_or_default();
                } else if lossy {
                    out.push(char::REPLACEMENT_CHARACTER);
                    let skip = e.error_len().unwrap_or(after.len()).max(1);
                    rest = after.get(skip..).unwrap_or_default();
                } else {
                    return None;
                }
            }
        }
    }
}

/// A supplementary character written as two 3-byte surrogates (CESU-8) at the start of `b`.
fn cesu8_pair(b: &[u8]) -> Option<char> {
    let &[0xED, h1 @ 0xA0..=0xAF, h2, 0xED, l1 @ 0xB0..=0xBF, l2, ..] = b else {
        return None;
    };
    if h2 & 0xC0 != 0x80 || l2 & 0xC0 != 0x80 {
        return None;
    }
    let high = ((u32::from(h1) & 0x0F) << 6) | (u32::from(h2) & 0x3F);
    let low = ((u32::from(l1) & 0x0F) << 6) | (u32::from(l2) & 0x3F);
    char::from_u32(0x10000 + (high << 10) + low)
}

/// Encodes a request body, writing characters outside the BMP as CESU-8 (two 3-byte
/// surrogates), the form the modem expects for emoji and the like.
pub fn encode_cesu8(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        if u32::from(c) < 0x10000 {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        } else {
            let mut units = [0u16; 2];
            for &unit in c.encode_utf16(&mut units).iter() {
                // Each surrogate is 0xD800..=0xDFFF, so these shifts never lose bits that matter.
                out.push(0xE0 | (unit >> 12) as u8);
                out.push(0x80 | ((unit >> 6) & 0x3F) as u8);
                out.push(0x80 | (unit & 0x3F) as u8);
            }
        }
    }
    out
}

/// Replaces the control characters the WebUI strips before parsing (everything below U+0020
/// except tab, line feed and carriage return) with spaces.
pub fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| c < ' ' && !matches!(c, '\t' | '\n' | '\r');
    if text.chars().any(bad) {
        text.chars()
            .map(|c| if bad(c) { ' ' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

/// How forgiving [`parse_with`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// A bare `&` and unknown entities are kept as written (devices send them in replies);
    /// otherwise they are errors.
    pub lenient_references: bool,
    /// Whatever follows the root element is ignored; otherwise a second root or text
    /// after it is an error.
    pub stop_after_root: bool,
}

impl Rules {
    /// For device replies: lenient where devices are sloppy, strict where a reply would be
    /// ambiguous.
    pub const REPLY: Rules = Rules {
        lenient_references: true,
        stop_after_root: false,
    };
    /// For requests, as the simulated device reads them: references must resolve, and
    /// parsing ends with the root element.
    pub const REQUEST: Rules = Rules {
        lenient_references: false,
        stop_after_root: true,
    };
}

/// Parses an XML document into its root element, with the rules for replies.
///
/// Lenient where devices are sloppy (a bare `&`, unknown entities, a malformed declaration) and
/// strict where a reply would be ambiguous (unclosed or mismatched tags, two roots, text
/// outside the root).
pub fn parse(input: &str) -> Result<Element, Error> {
    parse_with(input, Rules::REPLY)
}

/// Parses an XML document into its root element under `rules`. Nesting deeper than 32
/// levels, unclosed and mismatched tags are always errors.
pub fn parse_with(input: &str, rules: Rules) -> Result<Element, Error> {
    let mut reader = Reader::from_str(input);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.allow_dangling_amp = rules.lenient_references;
    config.trim_text(false);

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        if rules.stop_after_root && root.is_some() {
            break;
        }
        let event = reader.read_event().map_err(|e| {
            Error::malformed(format!(
                "XML error at byte {}: {e}",
                reader.error_position()
            ))
        })?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(Error::malformed("more than one root element"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(Error::malformed("elements nested too deeply"));
                }
                let name = start.name().as_ref().to_owned();
                stack.push(Element {
                    name,
                    ..Element::default()
                });
            }
            Event::End(_) => {
                // quick-xml has already checked that the end tag matches the start tag.
                let done = stack
                    .pop()
                    .ok_or_else(|| Error::malformed("end tag without start tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(text) => {
                let text = text.xml10_content();
                match stack.last_mut() {
                    Some(current) => current.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(Error::malformed("text outside the root element")),
                }
            }
            Event::CData(data) => match stack.last_mut() {
                Some(current) => current.text.push_str(&data.xml10_content()),
                None => return Err(Error::malformed("CDATA outside the root element")),
            },
            Event::GeneralRef(reference) => {
                let Some(current) = stack.last_mut() else {
                    return Err(Error::malformed("entity outside the root element"));
                };
                resolve_entity(&reference, rules.lenient_references, &mut current.text)?;
            }
            Event::Empty(_) => {
                // Cannot happen with expand_empty_elements; an empty element has no content.
                return Err(Error::malformed("unexpected empty-element event"));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(Error::malformed("document ends inside an element"));
    }
    root.ok_or_else(|| Error::malformed("no root element"))
}

/// Appends what an entity reference stands for. An unknown name is kept as written when
/// `lenient`, else it is an error.
fn resolve_entity(
    reference: &quick_xml::events::BytesRef<'_>,
    lenient: bool,
    out: &mut String,
) -> Result<(), Error> {
    match reference.resolve_char_ref() {
        Ok(Some(c)) => {
            out.push(c);
            return Ok(());
        }
        Ok(None) => {}
        Err(e) if !lenient => {
            return Err(Error::malformed(format!("bad character reference: {e}")));
        }
        Err(_) => {}
    }
    let name: &str = reference;
    match name {
        "lt" => out.push('<'),
        "gt" => out.push('>'),
        "amp" => out.push('&'),
        "apos" => out.push('\''),
        "quot" => out.push('"'),
        _ if lenient => {
            out.push('&');
            out.push_str(name);
            out.push(';');
        }
        _ => return Err(Error::malformed(format!("unknown entity &{name};"))),
    }
    Ok(())
}

/// A reply type that can be read from the `<response>` root element.
pub trait FromResponse: Sized {
    /// Reads the value from the root; fields are looked up by name.
    fn from_response(root: &Element) -> Result<Self, Error>;
}

/// A plain acknowledgement (`<response>OK</response>`).
impl FromResponse for () {
    fn from_response(root: &Element) -> Result<Self, Error> {
        let text = root.text.trim();
        if text != "OK" {
            tracing::debug!(reply = %truncate(text, 40), "acknowledgement is not OK; accepted");
        }
        Ok(())
    }
}

/// Parses a reply body: decodes it, strips control characters, turns an `<error>` root into
/// [`Error::Device`] and hands a `<response>` root to `T`.
pub fn parse_response<T: FromResponse>(body: &[u8]) -> Result<T, Error> {
    let root = parse_root(body)?;
    T::from_response(&root)
}

/// Like [`parse_response`], but returns the `<response>` element itself.
pub fn parse_root(body: &[u8]) -> Result<Element, Error> {
    let text = decode_body(body);
    let root = parse(&sanitize(&text))?;
    if root.name.eq_ignore_ascii_case("error") {
        return Err(device_error(&root));
    }
    if !root.name.eq_ignore_ascii_case("response") {
        return Err(Error::malformed(format!(
            "root element is <{}>, not <response>",
            truncate(&root.name, 40)
        )));
    }
    Ok(root)
}

fn device_error(root: &Element) -> Error {
    match root.num::<u32>("code") {
        Some(code) => Error::Device {
            code,
            message: root.string("message"),
        },
        None => Error::malformed("<error> without a numeric <code>"),
    }
}

/// Builds a compact `<request>` body: elements in the order they are added, text escaped,
/// empty values written as `<Tag></Tag>`.
#[derive(Debug, Clone)]
pub struct RequestXml {
    buf: String,
}

impl Default for RequestXml {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestXml {
    /// Starts a body with the XML declaration and the `<request>` root.
    pub fn new() -> Self {
        let mut buf = String::with_capacity(256);
        buf.push_str(DECLARATION);
        buf.push_str("<request>");
        RequestXml { buf }
    }

    /// Adds `<name>value</name>`, escaping `<`, `>`, `&` (and `\r`) in the value. Quotes stay
    /// as they are, as in the bodies python huawei-lte-api sends successfully; `&apos;` is
    /// seen in no working client.
    pub fn field(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        let value = value.to_string();
        let _ = write!(
            self.buf,
            "<{name}>{}</{name}>",
            quick_xml::escape::partial_escape(value.as_str())
        );
        self
    }

    /// Opens `<name>` for nested elements.
    pub fn open(mut self, name: &str) -> Self {
        let _ = write!(self.buf, "<{name}>");
        self
    }

    /// Closes `</name>`.
    pub fn close(mut self, name: &str) -> Self {
        let _ = write!(self.buf, "</{name}>");
        self
    }

    /// Closes the root and returns the text.
    pub fn finish(mut self) -> String {
        self.buf.push_str("</request>");
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_root_is_a_device_error() {
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n<code>125002</code>\n<message></message>\n</error>\n";
        let err = parse_response::<()>(body).unwrap_err();
        assert_eq!(err.code(), Some(125002));
    }

    #[test]
    fn error_without_code_is_malformed() {
        let err = parse_response::<()>(b"<error><message/></error>").unwrap_err();
        assert!(matches!(err, Error::Malformed(_)), "{err:?}");
    }

    #[test]
    fn other_roots_and_garbage_are_malformed() {
        for body in [
            &b"<html><body>home</body></html>"[..],
            b"",
            b"not xml",
            b"<response><a></b></response>",
            b"<response>",
            b"<response/><response/>",
        ] {
            let err = parse_response::<()>(body).unwrap_err();
            assert!(matches!(err, Error::Malformed(_)), "{body:?}: {err:?}");
        }
    }

    #[test]
    fn text_is_kept_exactly_and_entities_resolved() {
        let root = parse_root(
            b"<response><a>I have </a><b>10.0.2.2&#40;H190SP1C983&#41;</b><c>&gt;=-51dBm</c><d>x &nbsp; & y</d></response>",
        )
        .unwrap();
        assert_eq!(root.raw("a"), Some("I have "));
        assert_eq!(root.string("b"), "10.0.2.2(H190SP1C983)");
        assert_eq!(root.string("c"), ">=-51dBm");
        assert_eq!(root.string("d"), "x &nbsp; & y");
    }

    #[test]
    fn control_characters_become_spaces() {
        let root =
            parse_root(b"<response><Content>a\x01b\x1fc\td\ne</Content></response>").unwrap();
        assert_eq!(root.raw("Content"), Some("a b c\td\ne"));
    }

    #[test]
    fn cesu8_round_trip_and_lossy_decoding() {
        let text = "hi \u{1F600} ok";
        let bytes = encode_cesu8(text);
        assert_eq!(&bytes[..3], b"hi ");
        assert_eq!(bytes.len(), text.len() + 2);
        assert_eq!(decode_body(&bytes), text);
        assert_eq!(decode_body(b"a\xFFb\xED\xA0"), "a\u{FFFD}b\u{FFFD}\u{FFFD}");
        assert_eq!(decode_body(b"\xEF\xBB\xBF<x/>"), "<x/>");
    }

    #[test]
    fn request_is_compact_and_escaped() {
        let body = RequestXml::new()
            .field("Index", -1)
            .open("Phones")
            .field("Phone", "+1")
            .close("Phones")
            .field("Sca", "")
            .field("Content", "a<b & 'c'")
            .finish();
        assert_eq!(
            body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><Index>-1</Index><Phones><Phone>+1</Phone></Phones><Sca></Sca><Content>a&lt;b &amp; 'c'</Content></request>"
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let body = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert!(parse(&body).is_err());
    }
}
