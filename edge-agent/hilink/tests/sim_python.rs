//! The independent check: huawei-lte-api 2.0.1, a Python client written against real
//! devices, drives the simulator (python/check_sim.py). Our client is tested against
//! recorded device bytes; the simulator is tested against this client, so neither half of
//! the crate only tests itself.
//!
//! The test builds a venv under the target directory on first use (`python3 -m venv`,
//! `pip install -r python/requirements.txt`). Without python3 or pip it is skipped with a
//! message, unless `CI=true`, where it must run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hilink::sim::{Profile, SimConfig, Simulator, Timings};

const USERNAME: &str = "admin";
const PASSWORD: &str = "Sim-Pa55";

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a command, describing any failure.
fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The venv's python, after creating the venv and installing the pinned requirements if
/// they are not there yet.
fn python_with_requirements() -> Result<PathBuf, String> {
    let requirements = crate_dir().join("python/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hilink-python-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("installed-requirements.txt");
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&wanted) {
        return Ok(python);
    }
    if !python.exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements))?;
    std::fs::write(&stamp, wanted).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(python)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huawei_lte_api_accepts_the_simulator() {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let python = match tokio::task::spawn_blocking(python_with_requirements)
        .await
        .expect("venv setup ran")
    {
        Ok(python) => python,
        Err(why) if in_ci => panic!("the huawei-lte-api check must run in CI: {why}"),
        Err(why) => {
            eprintln!("SKIPPED huawei-lte-api check (python3/pip unavailable): {why}");
            return;
        }
    };
    let timings = Timings {
        send_duration: Duration::from_millis(100),
        report_delay: Duration::from_millis(300),
        ..Timings::fast()
    };
    let start = |profile| {
        Simulator::start(
            SimConfig::new(profile)
                .with_timings(timings)
                .with_credentials(USERNAME, PASSWORD),
        )
    };
    let e3372h = start(Profile::E3372h).await.unwrap();
    let e303 = start(Profile::E303).await.unwrap();
    let e320 = start(Profile::E3372h320).await.unwrap();
    let output = tokio::process::Command::new(&python)
        .arg(crate_dir().join("python/check_sim.py"))
        .args(["--e3372h", &e3372h.base_url()])
        .args(["--e303", &e303.base_url()])
        .args(["--e3372h-320", &e320.base_url()])
        .args(["--username", USERNAME, "--password", PASSWORD])
        // requests would send loopback traffic through a configured proxy.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), output)
        .await
        .expect("check_sim.py finished within 2 minutes")
        .expect("check_sim.py ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "huawei-lte-api check failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(stdout.matches("ok   ").count(), 3, "{stdout}");
}
