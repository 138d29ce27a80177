//! The life of a session: building one (home page cookie, then `SesTokInfo`, then
//! `webserver/token`, then no token; a login when `user/hilink_login` says so), the two
//! login schemes, and logging out.

use reqwest::header::{COOKIE, HeaderValue, LOCATION};

use super::Client;
use super::call::Request;
use super::session::{Session, TokenSource, csrf_meta_tokens};
use crate::auth;
use crate::code;
use crate::error::Error;
use crate::model::login::{
    HilinkLogin, ScramChallenge, ScramFinal, SesTokInfo, StateLogin, TokenReply,
    authentication_login_body, challenge_login_body, login_body, logout_body,
};
use crate::xml::{Element, FromResponse};

/// Redirects followed from the home page.
const MAX_REDIRECTS: usize = 5;

/// Why a session logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Login {
    /// `user/hilink_login` says 1.
    Required,
    /// The device has no `hilink_login`; log in if it has `user/state-login`.
    IfOffered,
}

impl Client {
    /// A POST of the login family (its reply replaces the token queue) whose body does not
    /// depend on the token.
    async fn login_step(
        &self,
        session: &mut Session,
        path: &str,
        body: &str,
    ) -> Result<Element, Error> {
        let request = Request::Post {
            body: &|_| body.to_owned(),
            login: true,
        };
        self.exchange(session, path, request).await
    }

    /// Logs out when a login was made; the next call builds a new session.
    pub async fn logout(&self) -> Result<(), Error> {
        let mut session = self.session.lock().await;
        if !session.established || self.credentials.is_none() {
            session.reset();
            return Ok(());
        }
        let body = logout_body();
        let result = self
            .login_step(&mut session, "api/user/logout", &body)
            .await;
        session.reset();
        match result {
            Ok(_) => Ok(()),
            Err(Error::Device {
                code: code::NO_RIGHT | code::NOT_SUPPORTED,
                ..
            }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Builds a new session: cookie, token source, login.
    pub(super) async fn establish(&self, session: &mut Session) -> Result<(), Error> {
        session.reset();
        let meta = self.fetch_home(session).await?;
        if !meta.is_empty() {
            session.push_tokens(meta);
            session.token_source = TokenSource::HomePage;
        }
        if session.token_source == TokenSource::None
            && let Some(info) = self
                .optional::<SesTokInfo>(session, "api/webserver/SesTokInfo")
                .await?
        {
            if !info.session_id.is_empty() {
                session.set_cookie("SessionID", &info.session_id);
            }
            if !info.token.is_empty() {
                session.push_tokens([info.token]);
                session.token_source = TokenSource::SesTokInfo;
            }
        }
        if session.token_source == TokenSource::None
            && let Some(reply) = self
                .optional::<TokenReply>(session, "api/webserver/token")
                .await?
            && !reply.usable().is_empty()
        {
            session.push_tokens([reply.usable().to_owned()]);
            session.token_source = TokenSource::Token;
        }
        let login = match self
            .optional::<HilinkLogin>(session, "api/user/hilink_login")
            .await?
        {
            Some(reply) => reply.required.then_some(Login::Required),
            // Firmware without the switch (routers): log in when we were given credentials
            // and the device has a login at all.
            None => self.credentials.is_some().then_some(Login::IfOffered),
        };
        tracing::debug!(
            base = %self.base,
            token_source = ?session.token_source,
            ?login,
            "HiLink session"
        );
        if let Some(login) = login {
            self.login(session, login).await?;
        }
        session.established = true;
        Ok(())
    }

    /// `GET /`: the session cookie, and CSRF tokens when the page carries them. Redirects are
    /// followed here by hand so that a `Set-Cookie` on a redirect is not lost.
    pub(super) async fn fetch_home(&self, session: &mut Session) -> Result<Vec<String>, Error> {
        let mut url = self.base.clone();
        for _ in 0..MAX_REDIRECTS {
            let mut request = self.http.get(url.clone());
            if let Some(cookie) = session.cookie_header()
                && let Ok(value) = HeaderValue::from_str(&cookie)
            {
                request = request.header(COOKIE, value);
            }
            let response = request.send().await.map_err(Error::Transport)?;
            session.absorb_headers(response.headers());
            let status = response.status();
            if status.is_redirection()
                && let Some(next) = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                    // Cookies go to the device only, never to another host.
                    .filter(|next| next.origin() == self.base.origin())
            {
                url = next;
                continue;
            }
            if !status.is_success() {
                return Ok(Vec::new());
            }
            let body = self.read_body(response).await?;
            return Ok(csrf_meta_tokens(&String::from_utf8_lossy(&body)));
        }
        Ok(Vec::new())
    }

    /// A GET whose absence is normal on some firmware: a device error or a reply that is not
    /// the expected XML means "not supported" (`None`); transport failures are errors.
    async fn optional<T: FromResponse>(
        &self,
        session: &mut Session,
        path: &str,
    ) -> Result<Option<T>, Error> {
        let result = async {
            let root = self.exchange(session, path, Request::Get).await?;
            T::from_response(&root)
        }
        .await;
        match result {
            Ok(value) => Ok(Some(value)),
            Err(e @ (Error::Transport(_) | Error::TooLarge(_))) => Err(e),
            Err(Error::HttpStatus(status)) if status >= 500 => Err(Error::HttpStatus(status)),
            Err(e) => {
                tracing::debug!(path, error = %e, "not supported by this device");
                Ok(None)
            }
        }
    }

    /// Logs in with the scheme the device asks for.
    async fn login(&self, session: &mut Session, login: Login) -> Result<(), Error> {
        let (username, password) = self.credentials.as_ref().ok_or(Error::CredentialsMissing)?;
        let state = match self
            .optional::<StateLogin>(session, "api/user/state-login")
            .await?
        {
            Some(state) => state,
            None if login == Login::IfOffered => return Ok(()),
            None => StateLogin::default(),
        };
        if state.logged_in() {
            return Ok(());
        }
        let result = if state.wants_scram() {
            self.login_scram(session, username, password).await
        } else {
            let password_type = state.password_type.unwrap_or(auth::PASSWORD_TYPE_BASE64);
            let body = move |token: Option<&str>| {
                if password_type == auth::PASSWORD_TYPE_SHA256 {
                    let hashed =
                        auth::password_type4(username, password, token.unwrap_or_default());
                    login_body(username, &hashed, password_type)
                } else {
                    login_body(username, &auth::password_type0(password), password_type)
                }
            };
            self.exchange(
                session,
                "api/user/login",
                Request::Post {
                    body: &body,
                    login: true,
                },
            )
            .await
            .map(drop)
        };
        match result {
            Err(Error::Device {
                code: code::ALREADY_LOGGED_IN,
                ..
            }) => Ok(()),
            Err(e @ Error::Device { .. }) => {
                tracing::warn!(error = %e, "HiLink login refused");
                Err(e)
            }
            other => other,
        }
    }

    /// The SCRAM exchange (`challenge_login`, `authentication_login`).
    async fn login_scram(
        &self,
        session: &mut Session,
        username: &str,
        password: &str,
    ) -> Result<(), Error> {
        let first_nonce = auth::scram_first_nonce();
        let body = challenge_login_body(username, &first_nonce);
        let root = self
            .login_step(session, "api/user/challenge_login", &body)
            .await?;
        let challenge = ScramChallenge::from_response(&root)?;
        if !challenge.server_nonce.starts_with(&first_nonce) {
            return Err(Error::Login("the server nonce does not extend ours".into()));
        }
        let keys = auth::scram(
            password,
            &challenge.salt,
            challenge.iterations,
            &first_nonce,
            &challenge.server_nonce,
        );
        let body =
            authentication_login_body(&hex::encode(keys.client_proof), &challenge.server_nonce);
        let root = self
            .login_step(session, "api/user/authentication_login", &body)
            .await?;
        let done = ScramFinal::from_response(&root)?;
        if !done
            .server_signature
            .eq_ignore_ascii_case(&hex::encode(keys.server_signature))
        {
            return Err(Error::Login("the server signature is wrong".into()));
        }
        Ok(())
    }
}
