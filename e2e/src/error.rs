//! The one error type of the harness: every way setting up or driving a stack can fail,
//! with enough context (which program, which log) to see why without a debugger.

use std::time::Duration;

/// Why the harness could not do what a test asked.
#[derive(Debug, thiserror::Error)]
pub enum E2eError {
    /// `cargo build` of the programs under test failed, or they are missing.
    #[error("the programs under test are not available: {0}")]
    Build(String),
    /// No PostgreSQL server could be found or started, or it refused a statement.
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A command of one of the programs (e.g. `smsgw-api sites create`) failed.
    #[error("{0}")]
    Command(String),
    /// An HTTP request could not be made or its answer not read.
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    /// An answer that the contract does not allow.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
    /// Something the test waited for did not happen in time.
    #[error("timed out after {within:?} waiting for {what}")]
    Timeout {
        /// What was awaited, with the last thing seen.
        what: String,
        /// How long it waited.
        within: Duration,
    },
}

impl E2eError {
    /// An I/O error with what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}
