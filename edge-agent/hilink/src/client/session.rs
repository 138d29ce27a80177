//! What the client remembers between requests to one device: cookies and CSRF tokens.
//!
//! The three firmware families differ only in what they put here: nothing (E303), a session
//! cookie plus a queue of single-use tokens refilled from reply headers (E3372h 22.x, E3131),
//! or the same after a login (E3372h-320 10.x). The HTTP flow around it is the rest of
//! [`crate::client`].

use std::collections::VecDeque;

use reqwest::header::{HeaderMap, SET_COOKIE};

use crate::headers::{TOKEN, TOKEN_ONE, TOKEN_TWO};

/// Most tokens kept; a login hands out about 30.
const MAX_TOKENS: usize = 64;

/// Where the session's CSRF tokens come from when the queue runs dry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenSource {
    /// The device uses no CSRF tokens (E303).
    None,
    /// `<meta name="csrf_token">` tags of the home page (routers).
    HomePage,
    /// `GET api/webserver/SesTokInfo`.
    SesTokInfo,
    /// `GET api/webserver/token`.
    Token,
}

/// The state of one device session.
#[derive(Debug)]
pub(crate) struct Session {
    cookies: Vec<(String, String)>,
    tokens: VecDeque<String>,
    pub(crate) token_source: TokenSource,
    pub(crate) established: bool,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            cookies: Vec::new(),
            tokens: VecDeque::new(),
            token_source: TokenSource::None,
            established: false,
        }
    }
}

impl Session {
    /// Forgets everything; the next request builds a new session.
    pub(crate) fn reset(&mut self) {
        *self = Session::default();
    }

    /// The `Cookie` header value, if any cookie is set.
    pub(crate) fn cookie_header(&self) -> Option<String> {
        if self.cookies.is_empty() {
            return None;
        }
        Some(
            self.cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    }

    /// Sets (or replaces) a cookie.
    pub(crate) fn set_cookie(&mut self, name: &str, value: &str) {
        match self.cookies.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.to_owned(),
            None => self.cookies.push((name.to_owned(), value.to_owned())),
        }
    }

    /// Takes the next unused token.
    pub(crate) fn next_token(&mut self) -> Option<String> {
        self.tokens.pop_front()
    }

    /// Queues tokens at the end.
    pub(crate) fn push_tokens(&mut self, tokens: impl IntoIterator<Item = String>) {
        self.tokens.extend(tokens);
        while self.tokens.len() > MAX_TOKENS {
            self.tokens.pop_front();
        }
    }

    /// Drops all queued tokens (done on every login reply, as the WebUI does).
    pub(crate) fn clear_tokens(&mut self) {
        self.tokens.clear();
    }

    /// Takes cookies and tokens from a reply's headers.
    pub(crate) fn absorb_headers(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            if let Some((name, value)) = value.to_str().ok().and_then(parse_set_cookie) {
                self.set_cookie(name, value);
            }
        }
        let tokens = tokens_from_headers(headers);
        if !tokens.is_empty() {
            tracing::trace!(count = tokens.len(), "new CSRF tokens from reply");
            self.push_tokens(tokens);
        }
    }
}

/// The `name=value` pair at the start of a `Set-Cookie` value.
fn parse_set_cookie(header: &str) -> Option<(&str, &str)> {
    let pair = header.split(';').next()?;
    let (name, value) = pair.split_once('=')?;
    let name = name.trim();
    (!name.is_empty()).then_some((name, value.trim()))
}

/// Splits a token header value: `#`-joined lists, blanks and spaces dropped.
fn split_tokens(value: &str) -> impl Iterator<Item = String> + '_ {
    value
        .split('#')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// New tokens in a reply: `…one` then `…two` when present, else `__RequestVerificationToken`.
fn tokens_from_headers(headers: &HeaderMap) -> Vec<String> {
    let text = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(split_tokens)
            .collect::<Vec<_>>()
    };
    // The pair, in the order the WebUI appends them, wins over the single header.
    let pair: Vec<String> = [TOKEN_ONE, TOKEN_TWO]
        .iter()
        .flat_map(|name| text(name))
        .collect();
    if pair.is_empty() { text(TOKEN) } else { pair }
}

/// The `content` of every `<meta name="csrf_token" content="…">` tag in a page.
pub(crate) fn csrf_meta_tokens(html: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<meta") {
        let tag_and_after = &rest[start..];
        let end = tag_and_after.find('>').unwrap_or(tag_and_after.len());
        let tag = &tag_and_after[..end];
        if tag.contains("csrf_token")
            && let Some(content) = attribute(tag, "content")
            && !content.is_empty()
        {
            tokens.push(content.to_owned());
        }
        rest = &tag_and_after[end..];
    }
    tokens
}

/// A double- or single-quoted attribute value inside a tag.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let at = tag.find(&format!("{name}="))?;
    let after = &tag[at + name.len() + 1..];
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    value.find(quote).map(|end| &value[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn token_headers() {
        let h = headers(&[(
            "__RequestVerificationToken",
            "3pE0zbFV5DRi9kHyw4TOkEXNaq+EJik1",
        )]);
        assert_eq!(
            tokens_from_headers(&h),
            ["3pE0zbFV5DRi9kHyw4TOkEXNaq+EJik1"]
        );
        let h = headers(&[("__RequestVerificationToken", " a#b##c# ")]);
        assert_eq!(tokens_from_headers(&h), ["a", "b", "c"]);
        let h = headers(&[
            ("__requestverificationtokentwo", "two"),
            ("__RequestVerificationTokenone", "one"),
            ("__RequestVerificationToken", "plain"),
        ]);
        assert_eq!(tokens_from_headers(&h), ["one", "two"]);
        assert!(tokens_from_headers(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn cookies_from_set_cookie() {
        let mut s = Session::default();
        s.absorb_headers(&headers(&[(
            "set-cookie",
            "SessionID=abc=; path=/; HttpOnly",
        )]));
        assert_eq!(s.cookie_header().as_deref(), Some("SessionID=abc="));
        s.absorb_headers(&headers(&[
            ("set-cookie", "SessionID=new"),
            ("set-cookie", "x=1"),
        ]));
        assert_eq!(s.cookie_header().as_deref(), Some("SessionID=new; x=1"));
        s.absorb_headers(&headers(&[("set-cookie", "garbage")]));
        assert_eq!(s.cookie_header().as_deref(), Some("SessionID=new; x=1"));
        s.reset();
        assert_eq!(s.cookie_header(), None);
    }

    #[test]
    fn token_queue_is_bounded_and_fifo() {
        let mut s = Session::default();
        s.push_tokens((0..100).map(|i| i.to_string()));
        assert_eq!(s.next_token().as_deref(), Some("36"));
        s.clear_tokens();
        assert_eq!(s.next_token(), None);
    }

    #[test]
    fn meta_tokens() {
        let html = r#"<html><head><meta name="csrf_token" content="AAA"/><meta charset="utf-8"><meta name='csrf_token' content='BBB'><meta name="csrf_token" content=""></head></html>"#;
        assert_eq!(csrf_meta_tokens(html), ["AAA", "BBB"]);
        assert!(csrf_meta_tokens("<meta name=\"csrf_token\" content=\"unterminated").is_empty());
        assert!(csrf_meta_tokens("<html>no tags</html><meta").is_empty());
    }
}
