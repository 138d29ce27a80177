//! The HiLink client: one device, one session, one request at a time.
//!
//! A [`Client`] builds its session lazily on the first call (home page cookie, then
//! `SesTokInfo`, then `webserver/token`, then no token; a login when `user/hilink_login` says
//! so), sends every POST with the next single-use CSRF token, refills tokens from reply headers,
//! and on a session error (125001/125002/125003, 100003) rebuilds the session and retries the
//! call once. A tokio mutex around the session keeps requests to one device strictly serial,
//! because concurrent requests on one session make the device answer 125002.

use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderValue, LOCATION};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
use tokio::sync::Mutex;

use crate::auth;
use crate::code;
use crate::error::{Error, ErrorClass};
use crate::model::device::{
    CurrentPlmn, DeviceInformation, MonitoringStatus, Notifications, Signal, TrafficStatistics,
    control, control_body,
};
use crate::model::session::{
    HilinkLogin, ScramChallenge, ScramFinal, SesTokInfo, StateLogin, TokenReply,
    authentication_login_body, challenge_login_body, login_body, logout_body,
};
use crate::model::sms::{
    BoxType, MAX_READ_COUNT, Message, SendStatus, SmsConfig, SmsCount, SmsList, SmsListRequest,
    delete_sms_body, send_sms_body, set_read_body,
};
use crate::session::{Session, TokenSource, csrf_meta_tokens};
use crate::xml::{Element, FromResponse, encode_cesu8, parse_root};

/// The request header that carries the CSRF token.
pub const TOKEN_HEADER: &str = "__RequestVerificationToken";
/// The Content-Type the WebUI posts with; every firmware accepts it.
const POST_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=UTF-8";
/// Pages [`Client::sms_list_all`] reads at most (more than LocalMax 500 / 50 per page).
const MAX_PAGES: u32 = 20;
/// Redirects followed from the home page.
const MAX_REDIRECTS: usize = 5;

/// How to reach and log in to one device.
#[derive(Clone)]
pub struct Config {
    /// The device's base URL, e.g. `http://192.168.8.1/`.
    pub base_url: String,
    /// User name for devices that require a login; `admin` when only a password is given.
    pub username: Option<String>,
    /// Password for devices that require a login.
    pub password: Option<String>,
    /// Limit for establishing the TCP connection.
    pub connect_timeout: Duration,
    /// Limit for one whole HTTP exchange, body included.
    pub request_timeout: Duration,
    /// Offset of the `Date` written into send-sms. `None` takes the system's local offset
    /// when it can be determined safely at construction, else UTC (which devices accept).
    pub utc_offset: Option<UtcOffset>,
    /// Largest reply body accepted.
    pub max_body_bytes: usize,
}

impl Config {
    /// Defaults for a device at `base_url`: no login, 5 s to connect, 30 s per request.
    pub fn new(base_url: impl Into<String>) -> Self {
        Config {
            base_url: base_url.into(),
            username: None,
            password: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            utc_offset: None,
            max_body_bytes: 1 << 20,
        }
    }

    /// The same, with login credentials.
    pub fn with_credentials(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }
}

/// Why a session logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Login {
    /// `user/hilink_login` says 1.
    Required,
    /// The device has no `hilink_login`; log in if it has `user/state-login`.
    IfOffered,
}

/// A request the client sends; the body may depend on the CSRF token it goes with.
enum Request<'a> {
    Get,
    Post {
        body: &'a (dyn Fn(Option<&str>) -> String + Send + Sync),
        /// Login replies replace the token queue instead of extending it.
        login: bool,
    },
}

/// A client for one HiLink device.
pub struct Client {
    http: reqwest::Client,
    base: Url,
    credentials: Option<(String, String)>,
    utc_offset: UtcOffset,
    max_body_bytes: usize,
    session: Mutex<Session>,
}

impl Client {
    /// Creates a client; no request is made until the first call.
    pub fn new(config: Config) -> Result<Self, Error> {
        let mut base = Url::parse(&config.base_url)
            .map_err(|e| Error::InvalidRequest(format!("base URL {:?}: {e}", config.base_url)))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // The modem is on a local link; a proxy from the environment would only get in the way.
            .no_proxy()
            // A redirect from an API path means "not supported" (it leads to the home page);
            // the home page's own redirects are followed by hand to keep their cookies.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::Transport)?;
        let credentials = match (config.username, config.password) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, Some(password)) => Some(("admin".to_owned(), password)),
            _ => None,
        };
        let utc_offset = config
            .utc_offset
            .or_else(|| UtcOffset::current_local_offset().ok())
            .unwrap_or(UtcOffset::UTC);
        Ok(Client {
            http,
            base,
            credentials,
            utc_offset,
            max_body_bytes: config.max_body_bytes,
            session: Mutex::new(Session::default()),
        })
    }

    /// The device's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Forgets the session; the next call builds a new one (and logs in again if needed).
    pub async fn reset_session(&self) {
        self.session.lock().await.reset();
    }

    /// Sends one SMS to one or more numbers. `Ok` means the device accepted the job; the
    /// outcome comes from [`Client::send_status`].
    pub async fn send_sms<P: AsRef<str>>(&self, phones: &[P], text: &str) -> Result<(), Error> {
        let now = OffsetDateTime::now_utc().to_offset(self.utc_offset);
        let body = send_sms_body(phones, text, PrimitiveDateTime::new(now.date(), now.time()))?;
        self.post("api/sms/send-sms", &body).await
    }

    /// Progress of the last send.
    pub async fn send_status(&self) -> Result<SendStatus, Error> {
        self.get("api/sms/send-status").await
    }

    /// One page of a message box.
    pub async fn sms_list(&self, request: &SmsListRequest) -> Result<SmsList, Error> {
        self.post("api/sms/sms-list", &request.to_xml()).await
    }

    /// Every message of a box, newest first, reading page after page.
    pub async fn sms_list_all(&self, box_type: BoxType) -> Result<Vec<Message>, Error> {
        let mut all: Vec<Message> = Vec::new();
        for page in 1..=MAX_PAGES {
            let request = SmsListRequest {
                page,
                ..SmsListRequest::new(box_type, MAX_READ_COUNT)
            };
            let list = self.sms_list(&request).await?;
            let before = all.len();
            for message in list.messages.iter() {
                // A device that ignores PageIndex would repeat a page forever.
                if !all.iter().any(|m| m.index == message.index) {
                    all.push(message.clone());
                }
            }
            let page_len = u32::try_from(list.messages.len()).unwrap_or(u32::MAX);
            if page_len < MAX_READ_COUNT || all.len() == before {
                break;
            }
        }
        Ok(all)
    }

    /// Message counts per box.
    pub async fn sms_count(&self) -> Result<SmsCount, Error> {
        self.get("api/sms/sms-count").await
    }

    /// Deletes messages by index. An index the device no longer has (113114) counts as deleted.
    pub async fn delete_sms(&self, indices: &[i64]) -> Result<(), Error> {
        let body = delete_sms_body(indices)?;
        match self.post("api/sms/delete-sms", &body).await {
            Err(Error::Device {
                code: code::SMS_NOT_FOUND,
                ..
            }) => Ok(()),
            other => other,
        }
    }

    /// Marks a received message as read.
    pub async fn set_read(&self, index: i64) -> Result<(), Error> {
        self.post("api/sms/set-read", &set_read_body(index)).await
    }

    /// Reads the SMS settings.
    pub async fn sms_config(&self) -> Result<SmsConfig, Error> {
        self.get("api/sms/config").await
    }

    /// Writes the SMS settings.
    pub async fn set_sms_config(&self, config: &SmsConfig) -> Result<(), Error> {
        self.post("api/sms/config", &config.to_xml()).await
    }

    /// Turns delivery reports on; returns whether the setting had to be changed.
    pub async fn enable_delivery_reports(&self) -> Result<bool, Error> {
        let config = self.sms_config().await?;
        if config.use_s_report {
            return Ok(false);
        }
        self.set_sms_config(&SmsConfig {
            use_s_report: true,
            ..config
        })
        .await?;
        Ok(true)
    }

    /// Connection, SIM and service state.
    pub async fn monitoring_status(&self) -> Result<MonitoringStatus, Error> {
        self.get("api/monitoring/status").await
    }

    /// Unread messages and the storage-full flag.
    pub async fn check_notifications(&self) -> Result<Notifications, Error> {
        self.get("api/monitoring/check-notifications").await
    }

    /// The network operator.
    pub async fn current_plmn(&self) -> Result<CurrentPlmn, Error> {
        self.get("api/net/current-plmn").await
    }

    /// Radio measurements.
    pub async fn signal(&self) -> Result<Signal, Error> {
        self.get("api/device/signal").await
    }

    /// Identity and firmware versions.
    pub async fn device_information(&self) -> Result<DeviceInformation, Error> {
        self.get("api/device/information").await
    }

    /// Data counters.
    pub async fn traffic_statistics(&self) -> Result<TrafficStatistics, Error> {
        self.get("api/monitoring/traffic-statistics").await
    }

    /// Reboots the device. The session is forgotten afterwards.
    pub async fn reboot(&self) -> Result<(), Error> {
        let result = self
            .post("api/device/control", &control_body(control::REBOOT))
            .await;
        self.reset_session().await;
        result
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
            .exchange(
                &mut session,
                "api/user/logout",
                Request::Post {
                    body: &move |_| body.clone(),
                    login: true,
                },
            )
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

    async fn get<T: FromResponse>(&self, path: &str) -> Result<T, Error> {
        self.call(path, Request::Get).await
    }

    async fn post<T: FromResponse>(&self, path: &str, body: &str) -> Result<T, Error> {
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

    /// Builds a new session: cookie, token source, login.
    async fn establish(&self, session: &mut Session) -> Result<(), Error> {
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
    async fn fetch_home(&self, session: &mut Session) -> Result<Vec<String>, Error> {
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
            .exchange(
                session,
                "api/user/challenge_login",
                Request::Post {
                    body: &move |_| body.clone(),
                    login: true,
                },
            )
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
            .exchange(
                session,
                "api/user/authentication_login",
                Request::Post {
                    body: &move |_| body.clone(),
                    login: true,
                },
            )
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

    /// One HTTP exchange within the session: token (for a POST), cookie, reply headers
    /// absorbed, body parsed.
    async fn exchange(
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
                    builder = builder.header(TOKEN_HEADER, token);
                }
                self.transmit(session, path, builder, login).await
            }
        }
    }

    /// A GET within the session (cookie only; GETs carry no token).
    async fn get_root(&self, session: &mut Session, path: &str) -> Result<Element, Error> {
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
    async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, Error> {
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

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("utc_offset", &self.utc_offset)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("username", &self.credentials.as_ref().map(|(user, _)| user))
            .finish_non_exhaustive()
    }
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
