//! The four programs under test, built by cargo in the test's own profile and target
//! directory.
//!
//! `env!("CARGO_BIN_EXE_…")` only names binaries of the test's own package, and artifact
//! dependencies are unstable, so the harness runs cargo itself, once per test process,
//! before the first stack starts: `cargo build --workspace --bins --tests`, with the
//! target directory and profile of the running test executable
//! (`target/<profile>/deps/…`), from the workspace root. That selection resolves features
//! exactly as `cargo test --workspace` does, so after the README's test command compiled
//! the workspace it is a fingerprint check of a second (cargo releases its build lock
//! before it runs the tests), and it never replaces the binaries other packages' tests
//! use with a build of other features. Run alone (`cargo test -p smsgw-e2e`), the first
//! run compiles the rest of the workspace's tests too.
//!
//! `SMSGW_E2E_BIN_DIR=/path/to/dir` skips the build and uses the binaries found there
//! (e.g. `target/release` for the big chaos run).

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
};

use crate::E2eError;

/// What cargo builds: every binary (`hilink-sim` gets its `sim` feature from the
/// workspace's dev-dependencies), with features unified as for `cargo test --workspace`.
const BUILD_ARGS: [&str; 4] = ["build", "--workspace", "--bins", "--tests"];

/// Where the programs under test are.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `smsgw-api`.
    pub api: PathBuf,
    /// `smsgw-broker`.
    pub broker: PathBuf,
    /// `smsgw-agent`.
    pub agent: PathBuf,
    /// `hilink-sim`.
    pub sim: PathBuf,
}

impl Binaries {
    /// The binaries in `dir`, all of which must exist.
    pub fn in_dir(dir: &Path) -> Result<Self, E2eError> {
        let binaries = Self {
            api: dir.join("smsgw-api"),
            broker: dir.join("smsgw-broker"),
            agent: dir.join("smsgw-agent"),
            sim: dir.join("hilink-sim"),
        };
        for path in [
            &binaries.api,
            &binaries.broker,
            &binaries.agent,
            &binaries.sim,
        ] {
            if !path.is_file() {
                return Err(E2eError::Build(format!(
                    "{} does not exist",
                    path.display()
                )));
            }
        }
        Ok(binaries)
    }
}

/// The programs under test, built on first use (see the module documentation).
pub fn binaries() -> Result<&'static Binaries, E2eError> {
    static BUILT: OnceLock<Result<Binaries, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| locate_or_build().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| E2eError::Build(e.clone()))
}

/// The workspace this crate belongs to.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Where cargo put the running test executable, as cargo's arguments: the target
/// directory, the profile and, for cross builds, the target triple.
struct Layout {
    target_dir: PathBuf,
    profile: String,
    triple: Option<OsString>,
    profile_dir: PathBuf,
}

impl Layout {
    fn of_current_exe() -> Result<Self, E2eError> {
        let exe = std::env::current_exe()
            .map_err(|e| E2eError::io("cannot find the test executable", e))?;
        // target/<profile>/deps/<test>-<hash>, or target/<triple>/<profile>/deps/…
        let unexpected = || {
            E2eError::Build(format!(
                "{} is not in a cargo target directory (target/<profile>/deps/); set SMSGW_E2E_BIN_DIR",
                exe.display()
            ))
        };
        let profile_dir = exe
            .parent()
            .filter(|d| d.file_name().is_some_and(|n| n == "deps"))
            .and_then(Path::parent)
            .ok_or_else(unexpected)?;
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(unexpected)?
            .to_owned();
        let above = profile_dir.parent().ok_or_else(unexpected)?;
        // Cargo marks the target directory itself with CACHEDIR.TAG.
        let (target_dir, triple) = match above.parent() {
            Some(top)
                if !above.join("CACHEDIR.TAG").exists() && top.join("CACHEDIR.TAG").exists() =>
            {
                (top.to_path_buf(), above.file_name().map(OsString::from))
            }
            _ => (above.to_path_buf(), None),
        };
        Ok(Self {
            target_dir,
            profile,
            triple,
            profile_dir: profile_dir.to_path_buf(),
        })
    }
}

fn locate_or_build() -> Result<Binaries, E2eError> {
    if let Some(dir) = std::env::var_os("SMSGW_E2E_BIN_DIR") {
        return Binaries::in_dir(Path::new(&dir));
    }
    let layout = Layout::of_current_exe()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(&cargo);
    build
        .current_dir(workspace_root())
        .args(BUILD_ARGS)
        .env("CARGO_TARGET_DIR", &layout.target_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // `target/debug` is what `cargo test` builds without a profile flag.
    if layout.profile != "debug" {
        build.args(["--profile", &layout.profile]);
    }
    if let Some(triple) = &layout.triple {
        build.arg("--target").arg(triple);
    }
    eprintln!(
        "smsgw-e2e: building the programs under test ({} {}, {} profile) in {}",
        Path::new(&cargo).display(),
        BUILD_ARGS.join(" "),
        layout.profile,
        layout.target_dir.display()
    );
    let status = build
        .status()
        .map_err(|e| E2eError::io(format!("cannot run {}", Path::new(&cargo).display()), e))?;
    if !status.success() {
        return Err(E2eError::Build(format!(
            "cargo build exited with {status} (its output is above)"
        )));
    }
    Binaries::in_dir(&layout.profile_dir)
}
