//! The Windows build, run for real under Wine: `obsdemo.exe` with `jaeger.exe`, the
//! Collector and Prometheus cross-built for windows/amd64 (`scripts/windows.sh`
//! provides them all).
//!
//! What Wine does differently from Windows, and how the test stands on it:
//! - Wine 8 lacks `bcryptprimitives.dll`; a test-only shim goes into the test's own
//!   prefix (`tests/windows/bcryptprimitives.c`).
//! - Windows processes are Linux processes here: the test finds them by their command
//!   lines in /proc and kills them with SIGKILL, which Windows cannot do to itself.
//! - A process killed that way reports exit code 0 to its parent under Wine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::*;

/// What the test needs from `scripts/windows.sh`, and a Wine prefix of its own.
struct Wine {
    wine: PathBuf,
    exe: PathBuf,
    /// obsdemo's home holding the Windows builds of Jaeger and the Collector.
    home: PathBuf,
    prefix: tempfile::TempDir,
}

impl Wine {
    fn new() -> Self {
        let var = |name: &str| {
            std::env::var_os(name).map(PathBuf::from).unwrap_or_else(|| {
                panic!("this test needs {name}; `./scripts/test.sh` sets it (through scripts/windows.sh)")
            })
        };
        let (wine, exe, home, shim) =
            (var("OBSDEMO_WINE"), var("OBSDEMO_WINDOWS_EXE"), var("OBSDEMO_WINDOWS_HOME"), var("OBSDEMO_WINE_SHIM"));
        for (what, path) in [("wine", &wine), ("obsdemo.exe", &exe), ("the shim", &shim)] {
            assert!(path.is_file(), "{what} is missing at {}; run `./scripts/test.sh`", path.display());
        }
        let prefix = tempfile::Builder::new().prefix("obsdemo-wine-").tempdir().unwrap();
        // The prefix's wineserver is started first, persistent and with no stdio of
        // ours: otherwise the first Wine process starts one that inherits that
        // command's pipes and holds them open, and reading its output never ends.
        let server = Command::new(wine.with_file_name("wineserver"))
            .arg("-p")
            .env("WINEPREFIX", prefix.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(server.success(), "wineserver -p failed");
        let boot = Command::new(&wine)
            .arg("wineboot")
            .arg("-i")
            .env("WINEPREFIX", prefix.path())
            .env("WINEDEBUG", "-all")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(boot.success(), "wineboot -i failed");
        let system32 = prefix.path().join("drive_c/windows/system32");
        std::fs::copy(&shim, system32.join("bcryptprimitives.dll")).unwrap();
        Self { wine, exe, home, prefix }
    }

    /// `obsdemo.exe` with `args`, run in `dir`.
    fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.wine);
        cmd.arg(&self.exe)
            .args(args)
            .current_dir(dir)
            .env("WINEPREFIX", self.prefix.path())
            .env("WINEDEBUG", "-all")
            .env("OBSDEMO_HOME", windows_path(&self.home))
            .env("NO_COLOR", "1")
            .env_remove("OBSDEMO_CONFIG")
            .env_remove("OBSDEMO_STATE_DIR");
        cmd
    }

    /// Runs `obsdemo.exe` with `args`. Its output goes to files, not pipes: Wine's
    /// helper processes (winedevice.exe, started on demand) inherit the pipes of the
    /// command that woke them and would hold them open long after it ended.
    fn run(&self, dir: &Path, args: &[&str]) -> Output {
        run_to_files(self.command(dir, args))
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        let wineserver = self.wine.with_file_name("wineserver");
        let _ = Command::new(&wineserver).arg("-k").env("WINEPREFIX", self.prefix.path()).status();
    }
}

/// Runs `cmd` with its stdout and stderr in temporary files, and returns them.
fn run_to_files(mut cmd: Command) -> Output {
    let (out, err) = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
    let status = cmd.stdout(out.try_clone().unwrap()).stderr(err.try_clone().unwrap()).status().unwrap();
    let read = |mut f: std::fs::File| {
        use std::io::{Read, Seek};
        let mut bytes = Vec::new();
        f.rewind().unwrap();
        f.read_to_end(&mut bytes).unwrap();
        bytes
    };
    Output { status, stdout: read(out), stderr: read(err) }
}

/// `path` as Windows under Wine names it: the Linux root is drive Z:.
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// Linux pids of the processes whose command line holds `needle`.
fn pids_with(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(needle))
                && alive(*pid as u32)
        })
        .collect()
}

fn kill9(pid: i32) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
}

fn component<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["components"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()
}

#[test]
fn the_windows_build_runs_the_stack_under_wine() {
    let wine = Wine::new();
    // A state dir and a binary path with spaces and backslashes, as Windows users write them.
    let stack = TestStack::new();
    let state = stack.dir().join("state dir").join("obsdemo");
    let jaeger_dir = stack.dir().join("Program Files").join("Jaeger");
    std::fs::create_dir_all(&jaeger_dir).unwrap();
    let jaeger = wine.home.join("bin/jaeger/1.76.0/jaeger.exe");
    std::fs::copy(&jaeger, jaeger_dir.join("jaeger.exe")).unwrap();
    // TOML literal strings: backslashes as they are.
    stack.set_config(&format!(
        "state_dir = '{}'\n\n[jaeger]\nbinary = '{}'\n",
        windows_path(&state),
        windows_path(&jaeger_dir.join("jaeger.exe"))
    ));
    let offset = stack.offset.to_string();
    let needle = windows_path(&state);

    // `up | reader` returns once the stack is up: the supervisor keeps no handle of
    // the caller's pipe.
    let up = wine
        .command(stack.dir(), &["up", "--json", "--port-offset", &offset, "--without", "grafana", "--timeout", "90s"]);
    // The pipe to `cat` is the one under test; nothing else of the test is a pipe (see
    // `run_to_files`): the reader's output goes to a file.
    let out_file = stack.dir().join("up-through-cat.json");
    let mut through_cat = Command::new("sh")
        .args(["-c", "\"$@\" | cat > \"$OBSDEMO_TEST_OUT\"", "sh"])
        .arg(up.get_program())
        .args(up.get_args())
        .envs(up.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("OBSDEMO_TEST_OUT", &out_file)
        .current_dir(stack.dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ended = eventually("`up | cat` to end", Duration::from_secs(120), || through_cat.try_wait().unwrap());
    let piped = Output { status: ended, stdout: std::fs::read(&out_file).unwrap_or_default(), stderr: Vec::new() };
    assert_success(&piped, "up | cat (under Wine)");
    let up: Value = serde_json::from_slice(&piped.stdout).unwrap_or_else(|e| panic!("{e}\n{}", describe(&piped)));
    assert_eq!(up["healthy"], true, "{up:#}");

    let status_of = || -> Value {
        let out = wine.run(stack.dir(), &["status", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("status --json: {e}\n{}", describe(&out)))
    };
    let status = status_of();
    for name in ["jaeger", "collector", "prometheus", "Order-service", "Notification-service"] {
        assert_eq!(component(&status, name)["healthy"], true, "{name}: {status:#}");
    }
    assert!(
        component(&status, "jaeger")["log"].as_str().unwrap().contains("state dir"),
        "the state dir with a space is used"
    );

    // The console of the Windows build: each page and an action, with the token.
    let (url, base) = console_of(&up);
    let cookie = console_cookie(&url);
    assert_eq!(http_call("GET", &format!("{base}/api/stack"), &[]).0, 401);
    for path in ["/", "/console.js", "/console.css", "/api/stack", "/api/load"] {
        let (status, _, body) = http_call("GET", &format!("{base}{path}"), &[("cookie", &cookie)]);
        assert_eq!(status, 200, "{path} of the Windows console: {body}");
    }
    let (status, _, body) = http_call("GET", &format!("{base}/api/stack"), &[("cookie", &cookie)]);
    assert_eq!(status, 200);
    assert!(body.contains("\"Notification-service\""), "{body}");
    let before = component(&status_of(), "Notification-service")["pid"].as_u64().unwrap();
    let restart = format!("{base}/api/components/Notification-service/restart");
    let (status, _, body) = http_call("POST", &restart, &[("cookie", &cookie), ("origin", &base)]);
    assert_eq!(status, 200, "{body}");
    eventually("Notification-service restarted from the console", Duration::from_secs(60), || {
        let c = component(&status_of(), "Notification-service").clone();
        (c["healthy"] == true && c["pid"].as_u64() != Some(before)).then_some(())
    });

    // A span over OTLP to the Windows Collector comes back from the Windows Jaeger.
    let trace_id = send_span(&format!("http://127.0.0.1:{}", stack.port(4317)), "wine-probe", "wine-span");
    jaeger_trace(stack.port(16686), &trace_id, "wine-span");

    // Host metrics: the Windows Collector's hostmetrics, scraped by the Windows
    // Prometheus. Which scrapers work depends on Wine's performance counters (no
    // paging ones), so any host series will do.
    let query =
        format!("http://127.0.0.1:{}/api/v1/query?query=count(%7B__name__%3D~%22system_.%2B%22%7D)", stack.port(9090));
    eventually("host metrics in Prometheus", Duration::from_secs(60), || {
        let count = get_json(&query)?["data"]["result"][0]["value"][1].as_str()?.parse::<u32>().ok()?;
        (count > 0).then_some(())
    });

    // Traffic through the five services, every trace verified.
    let out = wine.run(stack.dir(), &["load", "--json", "--rps", "10", "--duration", "5s"]);
    let load: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("load: {e}\n{}", describe(&out)));
    assert_eq!(out.status.code(), Some(0), "{load:#}");
    assert_eq!(load["verification"]["complete"], load["verification"]["expected"], "{load:#}");
    // As a user's own service (`--url`): the Windows build starts each trace and sends
    // its own span of each request, and every trace is whole under it.
    let url = format!("http://127.0.0.1:{}", stack.port(8001));
    let out = wine.run(stack.dir(), &["load", "--json", "--url", &url, "--rps", "10", "--duration", "2s", "--verify"]);
    let load: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("load: {e}\n{}", describe(&out)));
    assert_eq!(out.status.code(), Some(0), "{load:#}");
    assert_eq!(
        (load["verification"]["expected"].as_u64(), load["verification"]["complete"].as_u64()),
        (Some(20), Some(20))
    );

    // A component killed is restarted.
    let jaeger_pids = pids_with(&format!("jaeger.exe --config={needle}"));
    assert_eq!(jaeger_pids.len(), 1, "one Jaeger of this stack: {jaeger_pids:?}");
    kill9(jaeger_pids[0]);
    eventually("Jaeger restarted and healthy", Duration::from_secs(60), || {
        let status = status_of();
        let j = component(&status, "jaeger");
        (j["restarts"].as_u64()? >= 1 && j["healthy"] == true).then_some(())
    });

    // The supervisor killed: its kill-on-close Job Object ends every child.
    let ports = {
        let state_json: Value = serde_json::from_slice(&std::fs::read(state.join("state.json")).unwrap()).unwrap();
        state_json["components"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["ports"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap() as u16))
            .collect::<Vec<_>>()
    };
    let supervisor = pids_with(&format!("supervise --state-dir {needle}"));
    assert_eq!(supervisor.len(), 1, "{supervisor:?}");
    kill9(supervisor[0]);
    eventually("no process of the stack left", Duration::from_secs(30), || pids_with(&needle).is_empty().then_some(()));
    assert_nothing_left(&[], &ports);

    // down afterwards: succeeds, nothing runs, every port is free.
    let down = wine.run(stack.dir(), &["down"]);
    assert_success(&down, "down (under Wine)");
    assert!(pids_with(&needle).is_empty());
    assert_nothing_left(&[], &ports);
}

/// Every file of the export in `dir` and `dir/base` (its record too), by path below `dir`.
fn files_in(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let mut files = std::collections::BTreeMap::new();
    for sub in ["", "base"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap().flatten().filter(|e| e.path().is_file()) {
            let name = format!("{sub}/{}", e.file_name().to_string_lossy());
            files.insert(name, std::fs::read_to_string(e.path()).unwrap());
        }
    }
    files
}

#[test]
fn the_windows_build_exports_the_same_kubernetes_manifests() {
    // A Windows user's export runs in Linux containers: no path of theirs may leak in
    // with backslashes, and nothing else may differ.
    let wine = Wine::new();
    let stack = TestStack::new();
    let linux = stack.dir().join("k8s-linux");
    assert_success(&stack.run(&["export", "kubernetes", "--out", linux.to_str().unwrap()]), "export kubernetes");
    // The same password: the Windows build exports again over a copy of the Linux
    // build's export, keeping its Secret and rewriting everything else of base/.
    let windows = stack.dir().join("k8s-windows");
    for (name, text) in &files_in(&linux) {
        let path = windows.join(name.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let out = wine.run(stack.dir(), &["export", "kubernetes", "--out", "k8s-windows"]);
    assert_success(&out, "export kubernetes (under Wine)");
    let (from_linux, from_windows) = (files_in(&linux), files_in(&windows));
    assert_eq!(from_linux.keys().collect::<Vec<_>>(), from_windows.keys().collect::<Vec<_>>());
    for (name, text) in &from_linux {
        assert_eq!(&from_windows[name], text, "{name} differs between the Linux and Windows builds");
    }
    assert!(!from_windows.values().any(|t| t.contains('\\') && t.contains("\\var")), "no Windows path in any manifest");
}
