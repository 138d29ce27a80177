//! A whole gateway in processes: [`Stack`] starts `smsgw-broker`, `smsgw-api`, and per
//! site its `hilink-sim` modems and its `smsgw-agent`, wired as an operator would wire
//! them: the API's CLI migrates the database, registers each site and prints the agent's
//! broker token, and creates the API key. Every stack has its own database, ports and
//! temporary directory (configurations, agent journals, one log file per program), so
//! stacks run side by side.
//!
//! Timings are fast (simulated sends take milliseconds, the agent polls often, budgets
//! are high) so that a test runs in seconds, while every program runs its production
//! code. Dropping a stack kills every process and drops its database; when the test
//! panicked, the directory is kept and the end of every log is printed.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use hilink::sim::{LedgerEntry, Timings};
use tokio::net::TcpStream;

use crate::{
    ApiClient, E2eError, SimControl, binaries,
    binaries::Binaries,
    postgres::Database,
    process::{Process, free_port},
};

/// How long a stack may take to come up, or a program to come back.
pub const START_WITHIN: Duration = Duration::from_secs(90);

/// Log filter of the programs, unless `SMSGW_E2E_LOG` says otherwise.
const DEFAULT_LOG: &str = "info,sqlx=warn,rumqttd=warn";

/// A site to start: its id and its modems' budget.
#[derive(Debug, Clone)]
pub struct SiteSpec {
    /// Site id (`[a-z0-9]{1,32}`).
    pub id: String,
    /// Simulated modems at the site.
    pub modems: usize,
    /// `max_per_minute` of each modem.
    pub max_per_minute: u32,
    /// `min_gap_ms` of each modem.
    pub min_gap_ms: u64,
}

impl SiteSpec {
    /// A site with `modems` modems and a budget that never holds a test up.
    pub fn new(id: &str, modems: usize) -> Self {
        Self {
            id: id.to_owned(),
            modems,
            max_per_minute: 60_000,
            min_gap_ms: 0,
        }
    }

    /// The same site with another modem budget.
    pub fn budget(mut self, max_per_minute: u32, min_gap_ms: u64) -> Self {
        self.max_per_minute = max_per_minute;
        self.min_gap_ms = min_gap_ms;
        self
    }
}

/// What to start; [`Stack::builder`].
#[derive(Debug, Clone)]
pub struct StackBuilder {
    sites: Vec<SiteSpec>,
    sim_timings: Timings,
    max_attempts: u32,
}

impl StackBuilder {
    /// Adds a site.
    pub fn site(mut self, site: SiteSpec) -> Self {
        self.sites.push(site);
        self
    }

    /// Timings of every simulated modem (default: [`Timings::fast`]).
    pub fn sim_timings(mut self, timings: Timings) -> Self {
        self.sim_timings = timings;
        self
    }

    /// Attempts an agent makes before a message fails for good (default 4).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Starts everything and waits until the API is ready and every site online.
    pub async fn start(self) -> Result<Stack, E2eError> {
        Stack::start(self).await
    }
}

/// One simulated modem.
#[derive(Debug)]
struct Modem {
    process: Process,
    control: SimControl,
}

/// A site: its agent and its modems.
#[derive(Debug)]
struct Site {
    id: String,
    agent: Process,
    modems: Vec<Modem>,
}

/// Process ids of a stack's programs (`None` for one that is not running).
#[derive(Debug, Clone)]
pub struct Pids {
    /// `smsgw-api`.
    pub api: Option<u32>,
    /// `smsgw-broker`.
    pub broker: Option<u32>,
    /// Each site's `smsgw-agent`, by site id.
    pub agents: Vec<(String, Option<u32>)>,
}

/// A running gateway; see the module documentation.
#[derive(Debug)]
pub struct Stack {
    dir: Option<tempfile::TempDir>,
    /// Settings every `smsgw-api` invocation gets (database, pepper, JWT secret).
    admin_env: Vec<(String, String)>,
    bins: &'static Binaries,
    broker: Process,
    broker_port: u16,
    api: Process,
    api_url: String,
    sites: Vec<Site>,
    key: String,
    db: Database,
}

fn log_filter() -> String {
    std::env::var("SMSGW_E2E_LOG").unwrap_or_else(|_| DEFAULT_LOG.to_owned())
}

/// 64 random hex digits.
fn secret() -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    format!("{:032x}{:032x}", rng.random::<u128>(), rng.random::<u128>())
}

fn write(path: &Path, text: &str) -> Result<(), E2eError> {
    std::fs::write(path, text)
        .map_err(|e| E2eError::io(format!("cannot write {}", path.display()), e))
}

async fn port_open(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).await.is_ok()
}

/// The agent's configuration: fast loops, so that a test sees each step in milliseconds.
fn agent_toml(
    site: &SiteSpec,
    state_dir: &Path,
    broker_port: u16,
    token: &str,
    modems: &[String],
    max_attempts: u32,
) -> String {
    let mut text = format!(
        "site = \"{id}\"\nstate_dir = \"{dir}\"\nmetrics_addr = \"\"\n\n\
         [mqtt]\nurl = \"mqtt://127.0.0.1:{broker_port}\"\npassword = \"{token}\"\n\
         keep_alive_secs = 5\nreconnect_min_ms = 100\nreconnect_max_ms = 1000\nack_timeout_ms = 1500\n\n\
         [timing]\nnotification_poll_ms = 100\nlist_poll_ms = 500\nhealth_interval_ms = 1000\n\
         multipart_settle_ms = 300\nsend_status_poll_ms = 20\nsend_status_timeout_ms = 5000\n\
         retry_min_ms = 100\nretry_max_ms = 1000\nmax_attempts = {max_attempts}\n\
         breaker_failures = 3\nbreaker_open_ms = 500\n\
         modem_connect_timeout_ms = 500\nmodem_request_timeout_ms = 2000\n",
        id = site.id,
        dir = state_dir.display(),
    );
    for (i, url) in modems.iter().enumerate() {
        text.push_str(&format!(
            "\n[[modems]]\nid = \"m{i}\"\nurl = \"{url}\"\nmax_per_minute = {}\nmin_gap_ms = {}\n",
            site.max_per_minute, site.min_gap_ms
        ));
    }
    text
}

impl Stack {
    /// A stack with no site yet.
    pub fn builder() -> StackBuilder {
        StackBuilder {
            sites: Vec::new(),
            sim_timings: Timings::fast(),
            max_attempts: 4,
        }
    }

    async fn start(spec: StackBuilder) -> Result<Self, E2eError> {
        let bins = tokio::task::spawn_blocking(binaries)
            .await
            .map_err(|e| E2eError::Build(format!("the build task failed: {e}")))??;
        let db = Database::create().await?;
        let dir = tempfile::Builder::new()
            .prefix("smsgw-e2e-")
            .tempdir()
            .map_err(|e| E2eError::io("cannot create a temp dir", e))?;
        let root = dir.path().to_path_buf();
        let admin_env = vec![
            ("DATABASE_URL".to_owned(), db.url().to_owned()),
            ("SMSGW_KEY_PEPPER".to_owned(), secret()),
            ("SMSGW_JWT_SECRET".to_owned(), secret()),
            ("RUST_LOG".to_owned(), log_filter()),
            ("NO_COLOR".to_owned(), "1".to_owned()),
        ];

        let broker_port = free_port()?;
        let broker_config = root.join("broker.toml");
        write(
            &broker_config,
            &format!(
                "[[listeners]]\nname = \"e2e\"\nlisten = \"127.0.0.1:{broker_port}\"\n\n\
                 [metrics]\nlisten = \"127.0.0.1:{}\"\n",
                free_port()?
            ),
        )?;
        let broker = Process::new(
            "smsgw-broker",
            &bins.broker,
            [
                "run".into(),
                "--config".into(),
                broker_config.into_os_string(),
            ],
            admin_env.iter().cloned(),
            root.join("broker.log"),
        );

        let api_port = free_port()?;
        let api_url = format!("http://127.0.0.1:{api_port}");
        let mut api_env = admin_env.clone();
        api_env.extend([
            (
                "SMSGW_HTTP_ADDR".to_owned(),
                format!("127.0.0.1:{api_port}"),
            ),
            (
                "SMSGW_MQTT_URL".to_owned(),
                format!("mqtt://127.0.0.1:{broker_port}"),
            ),
            ("SMSGW_DB_MAX_CONNECTIONS".to_owned(), "5".to_owned()),
        ]);
        let api = Process::new(
            "smsgw-api",
            &bins.api,
            ["serve"],
            api_env,
            root.join("api.log"),
        );

        let mut stack = Self {
            dir: Some(dir),
            admin_env,
            bins,
            broker,
            broker_port,
            api,
            api_url,
            sites: Vec::new(),
            key: String::new(),
            db,
        };
        stack.admin(&["migrate"]).await?;
        stack.broker.start()?;
        stack.wait_broker().await?;
        stack.api.start()?;
        stack.wait_api().await?;
        stack.key = stack.create_key("e2e", None).await?;

        for site in &spec.sites {
            stack.add_site(site, &spec).await?;
        }
        for site in &mut stack.sites {
            site.agent.start()?;
        }
        let api = stack.api();
        for site in &stack.sites {
            api.wait_presence(&site.id, "online", START_WITHIN).await?;
        }
        Ok(stack)
    }

    /// Registers a site, starts its modems and writes its agent's configuration.
    async fn add_site(&mut self, site: &SiteSpec, spec: &StackBuilder) -> Result<(), E2eError> {
        let root = self.dir()?.to_path_buf();
        let credential = self.admin(&["sites", "create", "--id", &site.id]).await?;
        let token = credential
            .lines()
            .find_map(|l| l.strip_prefix("SMSGW_MQTT_PASSWORD="))
            .ok_or_else(|| {
                E2eError::Command(format!("`sites create` printed no token: {credential}"))
            })?
            .to_owned();
        let mut modems = Vec::new();
        let mut urls = Vec::new();
        for i in 0..site.modems {
            let (device, control) = (free_port()?, free_port()?);
            let t = spec.sim_timings;
            let ms = |d: Duration| d.as_millis().to_string();
            let mut process = Process::new(
                &format!("hilink-sim {}/m{i}", site.id),
                &self.bins.sim,
                [
                    "--addr".to_owned(),
                    format!("127.0.0.1:{device}"),
                    "--control-addr".to_owned(),
                    format!("127.0.0.1:{control}"),
                    "--send-duration-ms".to_owned(),
                    ms(t.send_duration),
                    "--report-delay-ms".to_owned(),
                    ms(t.report_delay),
                    "--min-send-gap-ms".to_owned(),
                    ms(t.min_send_gap),
                    "--request-latency-ms".to_owned(),
                    ms(t.request_latency),
                    "--local-max".to_owned(),
                    "1000".to_owned(),
                ],
                [("RUST_LOG", log_filter()), ("NO_COLOR", "1".to_owned())],
                root.join(format!("sim-{}-m{i}.log", site.id)),
            );
            process.start()?;
            let control = SimControl::new(&format!("http://127.0.0.1:{control}"));
            urls.push(format!("http://127.0.0.1:{device}/"));
            modems.push(Modem { process, control });
        }
        for modem in &mut modems {
            let control = modem.control.clone();
            modem
                .process
                .wait_answering(START_WITHIN, || {
                    let control = control.clone();
                    async move { control.answers().await }
                })
                .await?;
        }
        let state_dir = root.join(format!("agent-{}", site.id));
        let config = root.join(format!("agent-{}.toml", site.id));
        write(
            &config,
            &agent_toml(
                site,
                &state_dir,
                self.broker_port,
                &token,
                &urls,
                spec.max_attempts,
            ),
        )?;
        let agent = Process::new(
            &format!("smsgw-agent {}", site.id),
            &self.bins.agent,
            ["run".into(), "--config".into(), config.into_os_string()],
            [("RUST_LOG", log_filter()), ("NO_COLOR", "1".to_owned())],
            root.join(format!("agent-{}.log", site.id)),
        );
        self.sites.push(Site {
            id: site.id.clone(),
            agent,
            modems,
        });
        Ok(())
    }

    fn dir(&self) -> Result<&Path, E2eError> {
        self.dir
            .as_ref()
            .map(tempfile::TempDir::path)
            .ok_or_else(|| E2eError::Unexpected("the stack's directory is gone".into()))
    }

    /// Where the configurations, journals and logs are.
    pub fn logs(&self) -> PathBuf {
        self.dir().map(Path::to_path_buf).unwrap_or_default()
    }

    /// Runs `smsgw-api ARGS…` against this stack's database; returns its standard output.
    pub async fn admin(&self, args: &[&str]) -> Result<String, E2eError> {
        let output = tokio::process::Command::new(&self.bins.api)
            .args(args)
            .envs(self.admin_env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| E2eError::io("cannot run smsgw-api", e))?;
        if !output.status.success() {
            return Err(E2eError::Command(format!(
                "smsgw-api {} failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Creates an API key (`smsgw-api keys create`) with a large rate limit, whose
    /// messages go to `site` when they name none.
    pub async fn create_key(&self, name: &str, site: Option<&str>) -> Result<String, E2eError> {
        let mut args = vec!["keys", "create", "--name", name, "--rate-limit", "1000000"];
        if let Some(site) = site {
            args.extend(["--default-site", site]);
        }
        let key = self.admin(&args).await?.trim().to_owned();
        if !key.starts_with("sk_live_") {
            return Err(E2eError::Command(format!("`keys create` printed {key:?}")));
        }
        Ok(key)
    }

    /// The API with the stack's own key (no default site).
    pub fn api(&self) -> ApiClient {
        ApiClient::new(&self.api_url, &self.key)
    }

    /// The API with another key.
    pub fn api_with(&self, key: &str) -> ApiClient {
        ApiClient::new(&self.api_url, key)
    }

    /// The URL of the API.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The URL of the stack's database (for checks a test cannot make through the API).
    pub fn db_url(&self) -> &str {
        self.db.url()
    }

    fn site(&self, id: &str) -> Result<&Site, E2eError> {
        self.sites
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| E2eError::Unexpected(format!("no site {id} in this stack")))
    }

    fn site_mut(&mut self, id: &str) -> Result<&mut Site, E2eError> {
        self.sites
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| E2eError::Unexpected(format!("no site {id} in this stack")))
    }

    /// The control API of modem `index` of `site`.
    pub fn sim(&self, site: &str, index: usize) -> Result<&SimControl, E2eError> {
        self.site(site)?
            .modems
            .get(index)
            .map(|m| &m.control)
            .ok_or_else(|| E2eError::Unexpected(format!("site {site} has no modem {index}")))
    }

    /// The ledgers of the modems of `site`, by modem.
    pub async fn site_ledgers(&self, site: &str) -> Result<Vec<Vec<LedgerEntry>>, E2eError> {
        let mut ledgers = Vec::new();
        for modem in &self.site(site)?.modems {
            ledgers.push(modem.control.ledger().await?);
        }
        Ok(ledgers)
    }

    /// Every SMS any modem of the stack sent.
    pub async fn ledger(&self) -> Result<Vec<LedgerEntry>, E2eError> {
        let mut all = Vec::new();
        for site in &self.sites {
            for modem in &site.modems {
                all.extend(modem.control.ledger().await?);
            }
        }
        Ok(all)
    }

    /// Kills the agent of `site` with SIGKILL, as a power cut would.
    pub fn kill_agent(&mut self, site: &str) -> Result<(), E2eError> {
        self.site_mut(site)?.agent.kill();
        Ok(())
    }

    /// Stops the agent of `site` cleanly (SIGTERM: it publishes `offline` and exits).
    pub async fn stop_agent(&mut self, site: &str) -> Result<(), E2eError> {
        self.site_mut(site)?.agent.stop().await;
        Ok(())
    }

    /// Starts the agent of `site` again (it keeps its journal); returns at once.
    pub fn start_agent(&mut self, site: &str) -> Result<(), E2eError> {
        self.site_mut(site)?.agent.start()
    }

    /// Kills the broker (everything it held in memory is lost) and starts it again on
    /// the same port.
    pub async fn restart_broker(&mut self) -> Result<(), E2eError> {
        self.broker.kill();
        self.broker.start()?;
        self.wait_broker().await
    }

    /// Process ids of the API, the broker and each site's agent, for measurements.
    pub fn pids(&self) -> Pids {
        Pids {
            api: self.api.pid(),
            broker: self.broker.pid(),
            agents: self
                .sites
                .iter()
                .map(|s| (s.id.clone(), s.agent.pid()))
                .collect(),
        }
    }

    /// Kills the API with SIGKILL and starts it again on the same port; returns once it
    /// is ready.
    pub async fn restart_api(&mut self) -> Result<(), E2eError> {
        self.api.kill();
        self.api.start()?;
        self.wait_api().await
    }

    /// Fails with the end of its log if any program has exited (the agents included,
    /// unless a test stopped them).
    pub fn check_running(&mut self) -> Result<(), E2eError> {
        self.broker.check_running()?;
        self.api.check_running()?;
        for site in &mut self.sites {
            for modem in &mut site.modems {
                modem.process.check_running()?;
            }
        }
        Ok(())
    }

    async fn wait_broker(&mut self) -> Result<(), E2eError> {
        let port = self.broker_port;
        self.broker
            .wait_answering(START_WITHIN, || port_open(port))
            .await
    }

    async fn wait_api(&mut self) -> Result<(), E2eError> {
        let client = ApiClient::new(&self.api_url, "");
        self.api
            .wait_answering(START_WITHIN, || {
                let client = client.clone();
                async move { client.ready().await }
            })
            .await
    }

    /// Every process, in the order to stop them: agents, API, broker, modems.
    fn processes(&mut self) -> Vec<&mut Process> {
        let mut all = Vec::new();
        let mut modems = Vec::new();
        for site in &mut self.sites {
            all.push(&mut site.agent);
            modems.extend(site.modems.iter_mut().map(|m| &mut m.process));
        }
        all.push(&mut self.api);
        all.push(&mut self.broker);
        all.extend(modems);
        all
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for process in self.processes() {
            process.kill();
        }
        if std::thread::panicking() {
            let mut report = String::new();
            for process in self.processes() {
                report.push_str(&format!(
                    "\n----- {} ({}), last lines -----\n{}\n",
                    process.name(),
                    process.log().display(),
                    process.log_tail(15)
                ));
            }
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                eprintln!(
                    "smsgw-e2e: the test failed; logs and journals are kept in {}{report}",
                    kept.display()
                );
            }
        }
    }
}
