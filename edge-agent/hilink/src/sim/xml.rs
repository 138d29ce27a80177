//! The device's XML, both ways: replies shaped like the recorded ones (declaration, one
//! element per line, tab indentation) and a lenient reader for request bodies.
//!
//! Real firmware accepts malformed or missing declarations and any content type, so the
//! reader skips whatever `<?…?>` comes first and parses only the element tree, with the
//! crate's XML reader ([`crate::xml`]) under its request rules. The tree keeps whitespace
//! between tags, so that the 10.x profile can refuse pretty-printed requests.

use quick_xml::escape::partial_escape;

use crate::error::Error;
pub use crate::xml::Element;
use crate::xml::{Rules, decode_strict, parse_with};

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

/// Parses a request body leniently where devices are (any declaration, well-formed or not,
/// or none; CESU-8; an empty body is an empty `<request>`) and strictly where they refuse
/// (invalid UTF-8, unknown entities, unbalanced tags).
pub fn parse_request(body: &[u8]) -> Result<Element, Error> {
    let text =
        decode_strict(body).ok_or_else(|| Error::Malformed("request body is not UTF-8".into()))?;
    let mut rest = text.trim_start();
    // Skip any declaration, well-formed or not (`<?xml version:"1.0" …?>` is common).
    while let Some(after) = rest.strip_prefix("<?") {
        let end = after
            .find("?>")
            .ok_or_else(|| Error::Malformed("unterminated declaration".into()))?;
        rest = after[end + 2..].trim_start();
    }
    if rest.trim().is_empty() {
        return Ok(Element {
            name: "request".into(),
            ..Element::default()
        });
    }
    parse_with(rest, Rules::REQUEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_compact_request_with_malformed_declaration() {
        let body = br#"<?xml version:"1.0" encoding="UTF-8"?><request><Index>40001</Index><Index>40002</Index></request>"#;
        let req = parse_request(body).unwrap();
        assert_eq!(req.name, "request");
        let all: Vec<_> = req
            .children_named("Index")
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(all, ["40001", "40002"]);
        assert!(!req.is_pretty());
    }

    #[test]
    fn resolves_entities_and_keeps_leaf_whitespace() {
        let body =
            b"<request><Content>a &amp; &#40;b&#x29; &lt;c&gt;</Content><Sca> </Sca></request>";
        let req = parse_request(body).unwrap();
        assert_eq!(req.raw("Content"), Some("a & (b) <c>"));
        assert_eq!(req.raw("Sca"), Some(" "));
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
        assert!(parse_request(b"<request><C>\xff</C></request>").is_err());
        assert!(parse_request(b"<request><C>&nbsp;</C></request>").is_err());
        assert!(parse_request(b"<request><C>a & b</C></request>").is_err());
    }

    #[test]
    fn accepts_cesu8() {
        // U+1F600 as a CESU-8 surrogate pair.
        let mut body = b"<request><Content>".to_vec();
        body.extend_from_slice(&[0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]);
        body.extend_from_slice(b"</Content></request>");
        let req = parse_request(&body).unwrap();
        assert_eq!(req.raw("Content"), Some("\u{1f600}"));
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
