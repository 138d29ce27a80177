//! Who the API is in PostgreSQL, and how it keeps up with a password that changes.
//!
//! `DATABASE_URL` says where the database is; the password (and, if it says so, the user
//! name) may instead come from a file, `SMSGW_DATABASE_PASSWORD_FILE`: the bare password,
//! or a JSON object with `password` and optionally `username` — the shape in which
//! Secrets Manager keeps database credentials, so its secret can be written to the file as
//! it is (terraform/modules/api_service). The file is read at start and then once a
//! second ([`PasswordWatch::watch`]): when its content changes, the pool's next
//! connections use it. Connections already open keep working (PostgreSQL checks a password
//! only when a connection opens), so a rotation needs no restart and drops no request.
//!
//! The role the API serves with holds only DML on the API's tables
//! (deploy/postgres/runtime-role.sql, applied by `smsgw-api migrate --runtime-role`); the
//! migrations run as the role that owns the schema.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use sqlx::{PgPool, postgres::PgConnectOptions};

use crate::config::DatabaseArgs;

/// How often the password file is read again.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// The grants of the role the API serves with (see the file's header), run by
/// `smsgw-api migrate --runtime-role NAME` after the migrations, as the role that ran them.
pub const RUNTIME_ROLE_SQL: &str = include_str!("../../deploy/postgres/runtime-role.sql");

/// Why the database settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `DATABASE_URL` does not parse.
    #[error("DATABASE_URL: {0}")]
    Url(#[source] sqlx::Error),
    /// The password file cannot be read.
    #[error("SMSGW_DATABASE_PASSWORD_FILE {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The password file holds no usable credentials.
    #[error("SMSGW_DATABASE_PASSWORD_FILE {}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the secret itself).
        reason: String,
    },
}

/// What a password file holds.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// A user name that replaces the URL's, when the file names one.
    pub username: Option<String>,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

impl Credentials {
    /// Reads a password file's text: a JSON object (`{"username": …, "password": …}`, other
    /// fields ignored) or the password itself, without its final line break.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim_start().starts_with('{') {
            #[derive(serde::Deserialize)]
            struct Secret {
                username: Option<String>,
                password: Option<String>,
            }
            let secret: Secret = serde_json::from_str(text)
                .map_err(|e| format!("not a JSON object with username and password: {e}"))?;
            let password = secret
                .password
                .filter(|p| !p.is_empty())
                .ok_or("the JSON object has no password")?;
            let username = secret.username.filter(|u| !u.is_empty());
            return Ok(Self { username, password });
        }
        let password = text
            .strip_suffix('\n')
            .map_or(text, |t| t.strip_suffix('\r').unwrap_or(t));
        if password.is_empty() {
            return Err("the file is empty".into());
        }
        if password.contains('\n') {
            return Err("a password is one line (or write a JSON object)".into());
        }
        Ok(Self {
            username: None,
            password: password.to_owned(),
        })
    }

    /// `base` with these credentials.
    fn apply(&self, base: &PgConnectOptions) -> PgConnectOptions {
        let options = base.clone().password(&self.password);
        match &self.username {
            Some(user) => options.username(user),
            None => options,
        }
    }
}

/// A password file watched for the pool's next connections.
#[derive(Debug)]
pub struct PasswordWatch {
    path: PathBuf,
    base: PgConnectOptions,
    applied: Option<Credentials>,
}

impl PasswordWatch {
    /// The watch `args` ask for: none without a password file.
    pub fn of(args: &DatabaseArgs) -> Result<Option<Self>, SettingsError> {
        let Some(path) = &args.database_password_file else {
            return Ok(None);
        };
        Ok(Some(Self {
            path: path.clone(),
            base: base_options(args)?,
            applied: None,
        }))
    }

    /// Reads the file again; the options to use from now on when its credentials differ
    /// from those applied last (the first read always returns them).
    pub async fn reload(&mut self) -> Result<Option<PgConnectOptions>, SettingsError> {
        let text = tokio::fs::read_to_string(&self.path)
            .await
            .map_err(|source| SettingsError::Read {
                path: self.path.clone(),
                source,
            })?;
        let read = parse(&self.path, &text)?;
        if self.applied.as_ref() == Some(&read) {
            return Ok(None);
        }
        let options = read.apply(&self.base);
        self.applied = Some(read);
        Ok(Some(options))
    }

    /// Reads the file every [`WATCH_INTERVAL`] and hands changed credentials to `pool`
    /// for its next connections; runs until aborted. A file that cannot be read (while it
    /// is being replaced, say) leaves the pool as it is, with one warning until it can.
    pub async fn watch(mut self, pool: PgPool) {
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        // The first read finds what the pool started with: no news.
        let mut first = true;
        loop {
            tick.tick().await;
            match self.reload().await {
                Ok(Some(options)) => {
                    pool.set_connect_options(options);
                    failing = false;
                    if !first {
                        tracing::info!(
                            file = %self.path.display(),
                            "the database credentials changed: new connections use them"
                        );
                    }
                }
                Ok(None) => failing = false,
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "the database credentials stay as they were");
                }
                Err(_) => {}
            }
            first = false;
        }
    }
}

fn base_options(args: &DatabaseArgs) -> Result<PgConnectOptions, SettingsError> {
    args.database_url
        .expose()
        .parse()
        .map_err(SettingsError::Url)
}

fn read(path: &Path) -> Result<Credentials, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

fn parse(path: &Path, text: &str) -> Result<Credentials, SettingsError> {
    Credentials::parse(text).map_err(|reason| SettingsError::Invalid {
        path: path.to_owned(),
        reason,
    })
}

/// The connection options of `args`: `DATABASE_URL`, with the credentials of the password
/// file as it reads now when there is one.
pub fn connect_options(args: &DatabaseArgs) -> Result<PgConnectOptions, SettingsError> {
    let base = base_options(args)?;
    match &args.database_password_file {
        None => Ok(base),
        Some(path) => Ok(read(path)?.apply(&base)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_file_holds_the_password_or_a_secret_as_json() {
        let plain = |p: &str| Credentials {
            username: None,
            password: p.to_owned(),
        };
        assert_eq!(Credentials::parse("s3cret\n"), Ok(plain("s3cret")));
        assert_eq!(Credentials::parse("s3cret\r\n"), Ok(plain("s3cret")));
        assert_eq!(
            Credentials::parse(" with spaces "),
            Ok(plain(" with spaces "))
        );
        assert_eq!(
            Credentials::parse(
                r#"{"engine": "postgres", "host": "db", "username": "smsgw_api_clone", "password": "p"}"#
            ),
            Ok(Credentials {
                username: Some("smsgw_api_clone".into()),
                password: "p".into()
            })
        );
        assert_eq!(Credentials::parse(r#"{"password": "p"}"#), Ok(plain("p")));
        for bad in [
            "",
            "\n",
            "two\nlines\n",
            r#"{"username": "u"}"#,
            r#"{"password": ""}"#,
            "{nope",
        ] {
            assert!(Credentials::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_password_never_shows_in_debug() {
        let shown = format!(
            "{:?}",
            Credentials::parse("hunter2-hunter2").expect("parses")
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[tokio::test]
    async fn a_changed_file_changes_the_options_and_an_unchanged_one_does_not() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("password");
        std::fs::write(&path, "first\n").expect("write");
        let args = DatabaseArgs {
            database_url: crate::config::Secret::new("postgres://smsgw_api@db.internal/smsgw"),
            db_max_connections: 1,
            database_password_file: Some(path.clone()),
        };
        assert_eq!(
            connect_options(&args).expect("readable").get_username(),
            "smsgw_api"
        );
        let mut watch = PasswordWatch::of(&args).expect("a URL").expect("a file");
        let first = watch.reload().await.expect("readable");
        assert_eq!(
            first.map(|o| o.get_username().to_owned()).as_deref(),
            Some("smsgw_api")
        );
        assert!(matches!(watch.reload().await, Ok(None)));
        std::fs::write(
            &path,
            r#"{"username": "smsgw_api_clone", "password": "second"}"#,
        )
        .expect("write");
        let changed = watch.reload().await.expect("readable");
        assert_eq!(
            changed.map(|o| o.get_username().to_owned()).as_deref(),
            Some("smsgw_api_clone")
        );
        std::fs::remove_file(&path).expect("remove");
        assert!(matches!(
            watch.reload().await,
            Err(SettingsError::Read { .. })
        ));
        // Back as it was applied last: nothing to change.
        std::fs::write(
            &path,
            r#"{"username": "smsgw_api_clone", "password": "second"}"#,
        )
        .expect("write");
        assert!(matches!(watch.reload().await, Ok(None)));
    }
}
