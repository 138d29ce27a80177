//! A fresh PostgreSQL database for every stack, on whichever server this machine has:
//! `smsgw-testpg` finds it the way the API's tests find theirs (`DATABASE_URL`, else
//! 127.0.0.1:5432, else a throwaway cluster; `SMSGW_TEST_PG=throwaway` forces the last).
//! Databases are named `smsgw_e2e_<uuid v7>`; each is dropped when its stack is, and the
//! first stack of a test process drops those an earlier, killed, process left behind.

use crate::E2eError;

/// Name prefix of the databases made here.
const PREFIX: &str = "smsgw_e2e_";

/// A database of one stack, dropped with it.
#[derive(Debug)]
pub struct Database {
    name: String,
    url: String,
}

impl Database {
    /// Creates `smsgw_e2e_<uuid v7>` on the server.
    pub async fn create() -> Result<Self, E2eError> {
        let (name, url) = smsgw_testpg::create_database(PREFIX)
            .await
            .map_err(E2eError::Postgres)?;
        Ok(Self { name, url })
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread with a
        // runtime of its own drops it (closing the connections of a killed API).
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(smsgw_testpg::drop_database(&name));
            }
        });
        let _ = dropped.join();
    }
}
