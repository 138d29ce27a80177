//! The device's XML, both ways: replies shaped like the recorded ones (declaration, one
//! element per line, tab indentation) and a lenient reader for request bodies.
//!
//! Real firmware accepts malformed or missing declarations and any content type, so the
//! reader skips whatever `<?…?>` comes first and parses only the element tree. It records
//! whitespace between tags so that the 10.x profile can refuse pretty-printed requests.

use quick_xml::escape::partial_escape;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// The declaration every reply starts with.
const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Builds a reply document one element per line, children indented with tabs.
#[derive(Debug)]
pub struct XmlOut {
    buf: String,
    depth: usize,
}

impl XmlOut {
    /// A document whose root element is `<response>`.
    pub fn response() -> Self {
        let mut out = XmlOut {
            buf: String::from(DECLARATION),
            depth: 0,
        };
        out.open("response");
        out
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.buf.push('\t');
        }
    }

    /// Opens an element that will hold children.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.indent();
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push_str(">\n");
        self.depth += 1;
        self
    }

    /// Closes the innermost open element.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push_str(">\n");
        self
    }

    /// Writes `<name>value</name>`, escaping the value.
    pub fn leaf(&mut self, name: &str, value: impl std::fmt::Display) -> &mut Self {
        let value = value.to_string();
        self.indent();
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        self.buf.push_str(&partial_escape(value.as_str()));
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push_str(">\n");
        self
    }

    /// Writes `<name>raw</name>` with `raw` already in XML form (entities kept as they are).
    pub fn raw_leaf(&mut self, name: &str, raw: &str) -> &mut Self {
        self.indent();
        self.buf.push_str(&format!("<{name}>{raw}</{name}>\n"));
        self
    }

    /// Closes `<response>` and returns the document.
    pub fn finish(mut self) -> String {
        self.close("response");
        self.buf
    }
}

/// `<response>OK</response>`, the answer to every successful write.
pub fn ok() -> String {
    format!("{DECLARATION}<response>OK</response>\n")
}

/// An `<error>` document carrying a device error code.
pub fn error(code: u32) -> String {
    format!("{DECLARATION}<error>\n<code>{code}</code>\n<message></message>\n</error>\n")
}

/// One element of a request body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The tag name.
    pub name: String,
    /// The unescaped text directly inside the element.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// Whether whitespace-only text sits between this element's child tags, i.e. the
    /// request was pretty-printed.
    pub spaced: bool,
}

impl Element {
    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child called `name`, trimmed.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    /// The text of the first child called `name`, as it was sent.
    pub fn raw_text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// Every child called `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Whether this element or any below it was pretty-printed.
    pub fn is_pretty(&self) -> bool {
        self.spaced || self.children.iter().any(Element::is_pretty)
    }
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
#[error("malformed request body: {0}")]
pub struct BadRequest(String);

/// Parses a request body leniently. An empty body is an empty `<request>`.
pub fn parse_request(body: &[u8]) -> Result<Element, BadRequest> {
    let text = decode_body(body)?;
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    // Skip any declaration, well-formed or not (`<?xml version:"1.0" …?>` is common).
    while let Some(after) = rest.strip_prefix("<?") {
        let end = after
            .find("?>")
            .ok_or_else(|| BadRequest("unterminated declaration".into()))?;
        rest = after[end + 2..].trim_start();
    }
    if rest.trim().is_empty() {
        return Ok(Element {
            name: "request".into(),
            ..Element::default()
        });
    }
    let mut reader = Reader::from_str(rest);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|e| BadRequest(e.to_string()))?;
        match event {
            Event::Start(start) => {
                let name = start.name().as_ref().to_owned();
                stack.push(Element {
                    name,
                    ..Element::default()
                });
            }
            Event::Empty(start) => {
                let name = start.name().as_ref().to_owned();
                let element = Element {
                    name,
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(t) => {
                push_text(&mut stack, &t.xml10_content())?;
            }
            Event::GeneralRef(r) => {
                let s = resolve_reference(&r)?;
                push_text(&mut stack, &s)?;
            }
            Event::CData(c) => {
                push_text(&mut stack, &c.xml10_content())?;
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| BadRequest("unbalanced end tag".into()))?;
                let element = finish_element(element);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
        if root.is_some() && stack.is_empty() {
            break;
        }
    }
    if !stack.is_empty() {
        return Err(BadRequest("unclosed element".into()));
    }
    root.ok_or_else(|| BadRequest("no root element".into()))
}

/// Decodes a body as UTF-8, also accepting CESU-8 (characters outside the BMP sent as
/// UTF-8-encoded surrogate pairs, as huawei-lte-api does for the device's sake).
fn decode_body(body: &[u8]) -> Result<std::borrow::Cow<'_, str>, BadRequest> {
    if let Ok(text) = std::str::from_utf8(body) {
        return Ok(text.into());
    }
    let mut fixed = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if let [0xed, h1 @ 0xa0..=0xaf, h2, 0xed, l1 @ 0xb0..=0xbf, l2, ..] = body[i..] {
            let high = 0xd000 | (u32::from(h1 & 0x3f) << 6) | u32::from(h2 & 0x3f);
            let low = 0xd000 | (u32::from(l1 & 0x3f) << 6) | u32::from(l2 & 0x3f);
            let code = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
            if let Some(c) = char::from_u32(code) {
                let mut buf = [0u8; 4];
                fixed.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                i += 6;
                continue;
            }
        }
        fixed.push(body[i]);
        i += 1;
    }
    String::from_utf8(fixed)
        .map(Into::into)
        .map_err(|e| BadRequest(e.to_string()))
}

/// Appends text to the open element; text outside any element is an error unless blank.
fn push_text(stack: &mut [Element], s: &str) -> Result<(), BadRequest> {
    match stack.last_mut() {
        Some(open) => {
            open.text.push_str(s);
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(BadRequest("text outside the root element".into())),
    }
}

/// Marks an element whose children are separated by whitespace, and drops that whitespace.
fn finish_element(mut element: Element) -> Element {
    if !element.children.is_empty() && element.text.trim().is_empty() {
        element.spaced = !element.text.is_empty();
        element.text.clear();
    }
    element
}

/// Resolves `&amp;`, `&#40;`, `&#x2F;` and the other predefined references.
fn resolve_reference(r: &quick_xml::events::BytesRef<'_>) -> Result<String, BadRequest> {
    if let Some(c) = r
        .resolve_char_ref()
        .map_err(|e| BadRequest(e.to_string()))?
    {
        return Ok(c.to_string());
    }
    let name: &str = r.as_ref();
    quick_xml::escape::resolve_predefined_entity(name)
        .map(str::to_owned)
        .ok_or_else(|| BadRequest(format!("unknown entity &{name};")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_compact_request_with_malformed_declaration() {
        let body = br#"<?xml version:"1.0" encoding="UTF-8"?><request><Index>40001</Index><Index>40002</Index></request>"#;
        let req = parse_request(body).unwrap();
        assert_eq!(req.name, "request");
        let all: Vec<_> = req.all("Index").map(|e| e.text.as_str()).collect();
        assert_eq!(all, ["40001", "40002"]);
        assert!(!req.is_pretty());
    }

    #[test]
    fn resolves_entities_and_keeps_leaf_whitespace() {
        let body =
            b"<request><Content>a &amp; &#40;b&#x29; &lt;c&gt;</Content><Sca> </Sca></request>";
        let req = parse_request(body).unwrap();
        assert_eq!(req.raw_text_of("Content"), Some("a & (b) <c>"));
        assert_eq!(req.raw_text_of("Sca"), Some(" "));
        assert!(!req.is_pretty());
    }

    #[test]
    fn notices_pretty_printing_but_not_a_newline_after_the_declaration() {
        let compact = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<request><A>1</A></request>";
        assert!(!parse_request(compact).unwrap().is_pretty());
        let pretty = b"<request>\n  <A>1</A>\n</request>";
        assert!(parse_request(pretty).unwrap().is_pretty());
    }

    #[test]
    fn refuses_broken_xml() {
        assert!(parse_request(b"<request><A>1</request>").is_err());
        assert!(parse_request(b"<request><A>1</A>").is_err());
        assert!(parse_request(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn accepts_cesu8() {
        // U+1F600 as a CESU-8 surrogate pair.
        let mut body = b"<request><Content>".to_vec();
        body.extend_from_slice(&[0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]);
        body.extend_from_slice(b"</Content></request>");
        let req = parse_request(&body).unwrap();
        assert_eq!(req.raw_text_of("Content"), Some("\u{1f600}"));
    }

    #[test]
    fn empty_body_is_empty_request() {
        assert_eq!(parse_request(b"").unwrap().children.len(), 0);
    }

    #[test]
    fn writes_like_the_device() {
        let mut out = XmlOut::response();
        out.leaf("Phone", "").leaf("Content", "a<b");
        assert_eq!(
            out.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n\t<Phone></Phone>\n\t<Content>a&lt;b</Content>\n</response>\n"
        );
    }
}
