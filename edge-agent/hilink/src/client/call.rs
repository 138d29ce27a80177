//! One API call: the session lock, the CSRF token of a POST, the cookie, the reply's
//! headers and body, and one session rebuild and retry when the device rejects the session.

use std::time::Instant;

use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderValue};

use super::Client;
use super::session::{Session, TokenSource};
use crate::error::{Error, ErrorClass};
use crate::headers;
use crate::model::login::{SesTokInfo, TokenReply};
use crate::xml::{Element, FromResponse, encode_cesu8, parse_root};

/// The Content-Type the WebUI posts with; every firmware accepts it.
const POST_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=UTF-8";

/// A request the client sends; the body may depend on the CSRF token it goes with.
pub(super) enum Request<'a> {
    Get,
    Post {
        body: &'a (dyn Fn(Option<&str>) -> String + Send + Sync),
        /// Login replies replace the token queue instead of extending it.
        login: bool,
    },
}

impl Request<'_> {
    fn reborrow(&self) -> Request<'_> {
        match self {
            Request::Get => Request::Get,
            Request::Post { body, login } => Request::Post {
                body: *body,
                login: *login,
            },
        }
    }
}

impl Client {
    pub(super) async fn get<T: FromResponse>(&self, path: &str) -> Result<T, Error> {
        self.call(path, Request::Get).await
    }

    pub(super) async fn post<T: FromResponse>(&self, path: &str, body: &str) -> Result<T, Error> {
        self.call(
            path,
            Request::Post {
                body: &|_| body.to_owned(),
                login: false,
            },
        )
        .await
    }

    /// One API call under the session lock, with one session rebuild and retry on a
    /// session error.
    async fn call<T: FromResponse>(&self, path: &str, request: Request<'_>) -> Result<T, Error> {
        let mut session = self.session.lock().await;
        let mut retried = false;
        loop {
            let result = async {
                if !session.established {
                    self.establish(&mut session).await?;
                }
                let root = self
                    .exchange(&mut session, path, request.reborrow())
                    .await?;
                T::from_response(&root)
            }
            .await;
            match result {
                Err(e) if e.class() == ErrorClass::RefreshSession && !retried => {
                    tracing::warn!(path, error = %e, "session rejected; rebuilding it and retrying once");
                    session.reset();
                    retried = true;
                }
                other => return other,
            }
        }
    }

    /// One HTTP exchange within the session: token (for a POST), cookie, reply headers
    /// absorbed, body parsed.
    pub(super) async fn exchange(
        &self,
        session: &mut Session,
        path: &str,
        request: Request<'_>,
    ) -> Result<Element, Error> {
        match request {
            Request::Get => self.get_root(session, path).await,
            Request::Post { body, login } => {
                let url = self.url(path)?;
                let token = self.next_token(session).await?;
                let xml = body(token.as_deref());
                let mut builder = self
                    .http
                    .post(url)
                    .header(CONTENT_TYPE, POST_CONTENT_TYPE)
                    .body(encode_cesu8(&xml));
                if let Some(token) = token {
                    builder = builder.header(headers::TOKEN, token);
                }
                self.transmit(session, path, builder, login).await
            }
        }
    }

    /// A GET within the session (cookie only; GETs carry no token).
    pub(super) async fn get_root(
        &self,
        session: &mut Session,
        path: &str,
    ) -> Result<Element, Error> {
        let builder = self.http.get(self.url(path)?);
        self.transmit(session, path, builder, false).await
    }

    fn url(&self, path: &str) -> Result<Url, Error> {
        self.base
            .join(path)
            .map_err(|e| Error::InvalidRequest(format!("path {path:?}: {e}")))
    }

    /// Sends a prepared request with the session cookie, takes cookies and tokens from the
    /// reply (a login reply replaces the token queue), and parses the body.
    async fn transmit(
        &self,
        session: &mut Session,
        path: &str,
        mut builder: reqwest::RequestBuilder,
        login: bool,
    ) -> Result<Element, Error> {
        let started = Instant::now();
        if let Some(cookie) = session.cookie_header()
            && let Ok(value) = HeaderValue::from_str(&cookie)
        {
            builder = builder.header(COOKIE, value);
        }
        let response = builder
            .header("X-Requested-With", "XMLHttpRequest")
            .send()
            .await
            .map_err(Error::Transport)?;
        if login {
            session.clear_tokens();
        }
        session.absorb_headers(response.headers());
        let status = response.status();
        let body = self.read_body(response).await?;
        tracing::debug!(
            path,
            status = status.as_u16(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "HiLink request"
        );
        if !status.is_success() {
            return Err(Error::HttpStatus(status.as_u16()));
        }
        parse_root(&body)
    }

    /// The token for the next POST: the queue's head, else a fresh one from the session's
    /// token source, else none.
    async fn next_token(&self, session: &mut Session) -> Result<Option<String>, Error> {
        if let Some(token) = session.next_token() {
            return Ok(Some(token));
        }
        let fetched = match session.token_source {
            TokenSource::None => None,
            TokenSource::HomePage => self.fetch_home(session).await?.into_iter().next(),
            TokenSource::SesTokInfo => {
                let root = self.get_root(session, "api/webserver/SesTokInfo").await?;
                let info = SesTokInfo::from_response(&root)?;
                if !info.session_id.is_empty() {
                    session.set_cookie("SessionID", &info.session_id);
                }
                Some(info.token)
            }
            TokenSource::Token => {
                let root = self.get_root(session, "api/webserver/token").await?;
                Some(TokenReply::from_response(&root)?.usable().to_owned())
            }
        };
        Ok(fetched
            .filter(|t| !t.is_empty())
            .or_else(|| session.next_token()))
    }

    /// Reads a reply body up to the size limit.
    pub(super) async fn read_body(
        &self,
        mut response: reqwest::Response,
    ) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(Error::Transport)? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(Error::TooLarge(self.max_body_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
