//! One program of a stack as a child process that can be killed (SIGKILL, as a crash or
//! a power cut would), stopped cleanly (SIGTERM) and started again with the same command
//! line. Its output goes to a log file that every start appends to, and it is killed when
//! dropped, so a failing test leaves nothing running.

use std::{
    ffi::OsString,
    fs::OpenOptions,
    future::Future,
    io::Write as _,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::Duration,
};

use nix::{sys::signal::Signal, unistd::Pid};
use tokio::time::Instant;

use crate::{E2eError, eventually};

/// How long a clean stop may take before the process is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// A free port on 127.0.0.1 that this process has not handed out before (the OS could
/// otherwise give the same free port to two stacks before either binds it).
pub fn free_port() -> Result<u16, E2eError> {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| E2eError::io("cannot find a free port", e))?
            .port();
        let mut given = GIVEN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !given.contains(&port) {
            given.push(port);
            return Ok(port);
        }
    }
    Err(E2eError::Unexpected(
        "the OS keeps handing out ports already given".into(),
    ))
}

/// A program of the stack.
#[derive(Debug)]
pub struct Process {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    log: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl Process {
    /// A process that runs `program args…` with `envs` added to the environment and its
    /// output in `log`; not started yet.
    pub fn new(
        name: &str,
        program: &Path,
        args: impl IntoIterator<Item = impl Into<OsString>>,
        envs: impl IntoIterator<Item = (impl Into<OsString>, impl Into<OsString>)>,
        log: PathBuf,
    ) -> Self {
        Self {
            name: name.to_owned(),
            program: program.to_owned(),
            args: args.into_iter().map(Into::into).collect(),
            envs: envs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            log,
            child: None,
            starts: 0,
        }
    }

    /// Its name in logs and errors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id while it runs (to read its memory, for instance).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Its log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Starts it (again); a running instance is killed first.
    pub fn start(&mut self) -> Result<(), E2eError> {
        self.kill();
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| E2eError::io(format!("cannot open {}", self.log.display()), e))?;
        let _ = writeln!(log, "===== start {} of {} =====", self.starts, self.name);
        let stderr = log
            .try_clone()
            .map_err(|e| E2eError::io("cannot share the log file", e))?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| E2eError::io(format!("cannot start {}", self.program.display()), e))?;
        self.child = Some(child);
        Ok(())
    }

    /// Whether it runs. A process that exited by itself is reaped.
    pub fn running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Fails with the end of its log if it has exited.
    pub fn check_running(&mut self) -> Result<(), E2eError> {
        if self.running() {
            return Ok(());
        }
        Err(E2eError::Command(format!(
            "{} is not running; the end of {}:\n{}",
            self.name,
            self.log.display(),
            self.log_tail(30)
        )))
    }

    /// SIGKILL, and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits up to [`STOP_GRACE`] for a clean exit before killing it.
    pub async fn stop(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                self.child = None;
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.kill();
    }

    /// Waits until `answers` says it serves (a port open, a health check passing),
    /// failing early with the end of its log if it exits meanwhile.
    pub async fn wait_answering<F, Fut>(
        &mut self,
        within: Duration,
        answers: F,
    ) -> Result<(), E2eError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = bool>,
    {
        let what = format!("{} to answer", self.name);
        eventually(within, &what, || {
            let alive = self.check_running().map_err(|e| e.to_string());
            let answer = answers();
            async move {
                alive?;
                if answer.await {
                    Ok(())
                } else {
                    Err("no answer yet".to_owned())
                }
            }
        })
        .await
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}
