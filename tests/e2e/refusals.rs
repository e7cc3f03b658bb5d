//! Bad input and a hostile machine: each gets a clear error, the right exit code,
//! and leaves nothing running.

use std::net::TcpListener;
use std::time::Duration;

use crate::harness::*;

#[test]
fn port_in_use_is_refused_naming_port_component_and_holder() {
    require(&["jaeger", "collector", "prometheus"]);
    let stack = TestStack::new();
    let port = stack.port(16686);
    let _holder = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let out = stack.try_up(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("port {port} (jaeger ui) is already in use")), "{stderr}");
    assert!(stderr.contains(&format!("held by pid {}", std::process::id())), "{stderr}");
    assert!(stderr.contains("--port-offset"), "{stderr}");
    // Nothing started: no supervisor, no state.
    assert!(!stack.state_dir().join("state.json").exists());
    assert!(!stack.state_dir().join("supervisor.sock").exists());
}

#[test]
fn malformed_stack_toml_names_file_line_column_and_key() {
    let cases = [
        ("[jaeger.ports]\nui = \"sixteen\"\n", "stack.toml:2:6", "jaeger.ports.ui"),
        ("[prometheus]\nscrape_intervall = \"5s\"\n", "stack.toml:2:1", "prometheus.scrape_intervall"),
        ("[collector\nenabled = true\n", "stack.toml:1:", "expected"),
    ];
    for (toml, position, mention) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("stack.toml"), toml).unwrap();
        let out = std::process::Command::new(BIN).current_dir(dir.path()).args(["up"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}\n{}", describe(&out));
        assert!(stderr.contains(position), "expected {position} in: {stderr}");
        assert!(stderr.contains(mention), "expected {mention} in: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!dir.path().join(".obsdemo").exists(), "nothing may be written for a bad config");
    }
    // --config names its own file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mine.toml"), "bind = 7\n").unwrap();
    let out = std::process::Command::new(BIN)
        .current_dir(dir.path())
        .args(["--config", "mine.toml", "render"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mine.toml:1:8: key `bind`"), "{}", describe(&out));
}

#[test]
fn missing_binary_stops_up_before_anything_starts() {
    let stack = TestStack::with_config("[collector]\nbinary = \"/nonexistent/otelcol\"\n");
    let out = stack.try_up(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for hint in ["no binary for collector", "/nonexistent/otelcol", "obsdemo install collector", "--without collector"]
    {
        assert!(stderr.contains(hint), "expected `{hint}` in: {stderr}");
    }
    assert!(!stack.state_dir().join("state.json").exists());
}

#[test]
fn missing_grafana_names_the_install_and_without_hints() {
    // Where Grafana is absent the default stack shows the real case; where it is
    // installed, a wrong explicit path stands in for it.
    let config = if grafana_present() { "[grafana]\nbinary = \"/nonexistent/grafana\"\n" } else { "" };
    let mut stack = TestStack::with_config(config);
    stack.include_grafana = true;
    let out = stack.try_up(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no binary for grafana"), "{stderr}");
    assert!(stderr.contains("obsdemo install grafana") && stderr.contains("--without grafana"), "{stderr}");
    assert!(!stack.state_dir().join("state.json").exists(), "nothing may start");
}

/// A fake Collector that writes a line and fails, as a real one does on a bad config.
fn crashing_collector(stack: &TestStack) -> String {
    let path = stack.dir().join("crashing-otelcol");
    std::fs::write(&path, "#!/bin/sh\necho 'Error: invalid configuration: boom' >&2\nexit 1\n").unwrap();
    make_executable(&path);
    path.display().to_string()
}

/// A fake Collector that runs but never becomes ready.
fn hanging_collector(stack: &TestStack) -> String {
    let path = stack.dir().join("hanging-otelcol");
    std::fs::write(&path, "#!/bin/sh\necho 'starting slowly'\nexec sleep 600\n").unwrap();
    make_executable(&path);
    path.display().to_string()
}

fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A stack whose Collector binary is the script `script` writes.
fn with_collector(script: fn(&TestStack) -> String) -> TestStack {
    let stack = TestStack::new();
    let binary = script(&stack);
    stack.set_config(&format!("[collector]\nbinary = \"{binary}\"\n"));
    stack
}

#[test]
fn component_crashing_on_start_shows_its_last_log_lines_and_stops_the_rest() {
    require(&["jaeger"]);
    let stack = with_collector(crashing_collector);
    let out = stack.try_up(&["--without", "prometheus"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("collector did not start"), "{stderr}");
    assert!(stderr.contains("Error: invalid configuration: boom"), "the component's log lines: {stderr}");
    let pids = stack.recorded_pids();
    let ports = stack.recorded_ports();
    assert_nothing_left(&pids, &ports);
}

#[test]
fn timeout_stops_everything_that_up_started() {
    require(&["jaeger"]);
    let stack = with_collector(hanging_collector);
    let out = stack.try_up(&["--without", "prometheus", "--timeout", "3s"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("still waiting for collector"), "{}", describe(&out));
    assert_nothing_left(&stack.recorded_pids(), &stack.recorded_ports());
}

#[test]
fn ctrl_c_during_up_stops_everything_it_started() {
    require(&["jaeger"]);
    let stack = with_collector(hanging_collector);
    let offset = stack.offset.to_string();
    let mut up = stack
        .command(&["up", "--port-offset", &offset, "--without", "prometheus", "--without", "grafana"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the (never ready) collector has a process, then press Ctrl-C.
    eventually("the collector process to start", Duration::from_secs(20), || {
        let state = std::fs::read(stack.state_dir().join("state.json")).ok()?;
        let state: serde_json::Value = serde_json::from_slice(&state).ok()?;
        state["components"]
            .as_array()?
            .iter()
            .any(|c| c["name"] == "collector" && c["process"]["pid"].is_u64())
            .then_some(())
    });
    let pids = stack.recorded_pids();
    assert!(std::process::Command::new("kill").args(["-INT", &up.id().to_string()]).status().unwrap().success());
    let status = up.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_nothing_left(&pids, &stack.recorded_ports());
}
