//! Ctrl-C (SIGINT sent to obsdemo alone, as a script or a supervisor of its own sends
//! it) ends every command that can take more than a second within a second, with exit
//! code 130, and leaves no process and no partial file behind.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::harness::*;

/// Starts `command`, lets it work for `after`, sends it SIGINT, and returns its exit
/// code and how long it took to end after the signal.
fn interrupt(mut command: Command, after: Duration) -> (Option<i32>, Duration, String) {
    let child: Child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(after);
    let signalled = Instant::now();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code(), signalled.elapsed(), describe(&out))
}

/// The component's pid in `status`.
fn pid_of(stack: &TestStack, name: &str) -> i32 {
    stack.component(name)["pid"].as_u64().unwrap() as i32
}

#[test]
fn ctrl_c_ends_status_wait_doctor_and_down_at_once_and_leaves_nothing() {
    require(&["jaeger", "collector", "prometheus"]);
    let stack = TestStack::new();
    stack.up(&["--without", "grafana", "--without", "services"]);
    // A Collector that does not answer: `status --wait` waits for it, `doctor`'s probe
    // span hangs on it, and `down`'s SIGTERM waits out its grace period.
    let collector = pid_of(&stack, "collector");
    kill(Pid::from_raw(collector), Signal::SIGSTOP).unwrap();
    let (pids, ports) = (stack.recorded_pids(), stack.recorded_ports());

    for args in [&["status", "--wait", "--timeout", "60s"][..], &["doctor"]] {
        let (code, took, out) = interrupt(stack.command(args), Duration::from_millis(1500));
        assert_eq!(code, Some(130), "{args:?}: {out}");
        assert!(took < Duration::from_secs(1), "{args:?} took {took:?} to end");
    }

    let (code, took, out) = interrupt(stack.command(&["down", "--grace", "30"]), Duration::from_millis(1500));
    assert_eq!(code, Some(130), "down: {out}");
    assert!(took < Duration::from_secs(2), "down took {took:?} to end");
    assert_nothing_left(&pids, &ports);
}

#[test]
fn ctrl_c_ends_a_source_build_killing_go_and_leaving_no_partial_install() {
    require(&["prometheus"]);
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command
        .args(["install", "--from-source", "prometheus", "--force"])
        .env("OBSDEMO_HOME", home.path())
        .current_dir(home.path());
    let (code, took, out) = interrupt(command, Duration::from_secs(4));
    assert_eq!(code, Some(130), "{out}");
    assert!(took < Duration::from_secs(1), "took {took:?} to end");
    assert!(out.contains("interrupted"), "{out}");
    // No Go process of this build lives on, and nothing half-built is left to resolve.
    let home_text = home.path().to_string_lossy().to_string();
    eventually("the Go processes of the build gone", Duration::from_secs(2), || {
        let left: Vec<String> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|p| std::fs::read_link(p.path().join("cwd")).ok())
            .map(|cwd| cwd.to_string_lossy().to_string())
            .filter(|cwd| cwd.starts_with(&home_text))
            .collect();
        left.is_empty().then_some(())
    });
    assert_no_partial(&home.path().join("bin/prometheus"));
}

/// Nothing but complete installs (none, here) below `dir`.
pub fn assert_no_partial(dir: &Path) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind in {}: {left:?}", dir.display());
}
