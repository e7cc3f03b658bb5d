//! What must hold when things go wrong: two `up` at once, a stale state file whose pid
//! now belongs to someone else, a state dir that cannot be made, traces kept across
//! restarts.

use std::time::Duration;

use crate::harness::*;

#[test]
fn two_ups_at_once_on_one_state_dir_have_exactly_one_winner() {
    require(&["jaeger", "collector"]);
    let stack = TestStack::new();
    let offset = stack.offset.to_string();
    let args = ["up", "--json", "--port-offset", &offset, "--without", "prometheus", "--without", "grafana"];
    let spawn = || stack.spawn(&args);
    let (first, second) = (spawn(), spawn());
    let outs = [first.wait_with_output().unwrap(), second.wait_with_output().unwrap()];
    let winners = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(winners, 1, "exactly one up wins:\n{}\n{}", describe(&outs[0]), describe(&outs[1]));
    let loser = outs.iter().find(|o| !o.status.success()).unwrap();
    assert_eq!(loser.status.code(), Some(3), "{}", describe(loser));
    let said = String::from_utf8_lossy(&loser.stderr);
    assert!(said.contains("another `obsdemo up`") || said.contains("already running"), "{said}");
    let status = stack.status();
    let healthy = status["components"].as_array().unwrap().iter().filter(|c| c["healthy"] == true).count();
    assert_eq!(healthy, 8, "the winner runs the whole stack (with the console): {status:#}");
}

#[test]
fn a_stale_state_file_never_signals_the_unrelated_process_that_now_has_its_pid() {
    let stack = TestStack::new();
    let mut unrelated = std::process::Command::new("sleep").arg("300").spawn().unwrap();
    let pid = unrelated.id();
    // A state file as a supervisor would leave it, naming that pid with another start
    // time: the pid was reused.
    let state = serde_json::json!({
        "supervisor": { "pid": pid, "start_time": 1 },
        "bind": "127.0.0.1",
        "components": [{
            "name": "jaeger", "state": "running", "process": { "pid": pid, "start_time": 1 },
            "started_at": 1, "restarts": 0, "last_exit": null, "probes": [], "ports": [], "log": "/dev/null"
        }],
    });
    std::fs::create_dir_all(stack.state_dir()).unwrap();
    std::fs::write(stack.state_dir().join("state.json"), state.to_string()).unwrap();
    assert_success(&stack.run(&["down"]), "down");
    std::thread::sleep(Duration::from_millis(300));
    assert!(unrelated.try_wait().unwrap().is_none(), "the unrelated process was signalled");
    let _ = unrelated.kill();
    let _ = unrelated.wait();
}

#[test]
fn a_state_dir_that_cannot_be_made_is_a_clear_error_not_a_panic() {
    let stack = TestStack::with_config("state_dir = \"not-a-dir/state\"");
    std::fs::write(stack.dir().join("not-a-dir"), "a file where the state dir's parent should be").unwrap();
    let out = stack.try_up(&["--without", "prometheus"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr.contains("cannot create the state dir") && stderr.contains("not-a-dir"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn ctrl_c_or_sigterm_to_up_while_components_start_stops_everything_it_started() {
    use nix::sys::signal::Signal;
    require(&["jaeger", "collector", "prometheus"]);
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // An app that never becomes ready keeps `up` waiting while the rest has started.
        let stack = TestStack::with_config(
            "[[apps]]\nname = \"slow\"\ncommand = [\"sh\", \"-c\", \"sleep 600\"]\nports = { http = 8192 }\nhealth = { http = \"/\" }",
        );
        let offset = stack.offset.to_string();
        let up = stack.spawn(&["up", "--port-offset", &offset, "--without", "grafana"]);
        eventually("the backends running", Duration::from_secs(30), || {
            let state: serde_json::Value =
                serde_json::from_slice(&std::fs::read(stack.state_dir().join("state.json")).ok()?).ok()?;
            let running = state["components"].as_array()?.iter().filter(|c| c["state"] == "running").count();
            (running >= 3).then_some(())
        });
        let (pids, ports) = (stack.recorded_pids(), stack.recorded_ports());
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(up.id() as i32), signal).unwrap();
        let out = up.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130), "{signal}: {}", describe(&out));
        assert_nothing_left(&pids, &ports);
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    let stack = TestStack::new();
    // `status` prints a line even with no stack; `completions` prints thousands.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("'{BIN}' completions bash | head -1 >/dev/null; echo \"exit=${{PIPESTATUS:-?}}\""))
        .current_dir(stack.dir())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
    // `status --json` prints to stdout even when no stack ran here.
    let mut out = stack.spawn(&["status", "--json"]);
    // The reader goes away before obsdemo writes.
    drop(out.stdout.take());
    let ended = out.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&ended.stderr).contains("panicked"), "{}", describe(&ended));
}

/// Sends one span straight to the stack's OTLP intake and waits until Jaeger has it.
fn traced(stack: &TestStack, span_name: &str) -> String {
    let id = send_span(&format!("http://127.0.0.1:{}", stack.port(4317)), "persistence-test", span_name);
    jaeger_trace(stack.port(16686), &id, span_name);
    id
}

#[test]
fn traces_survive_a_jaeger_crash_and_a_restart_of_the_stack() {
    require(&["jaeger", "collector"]);
    let stack = TestStack::new();
    stack.up(&["--without", "prometheus", "--without", "services"]);
    let before_crash = traced(&stack, "before-crash");
    stack.kill_and_await_restart("jaeger");
    jaeger_trace(stack.port(16686), &before_crash, "before-crash");

    let before_down = traced(&stack, "before-down");
    stack.down();
    stack.up(&["--without", "prometheus", "--without", "services"]);
    jaeger_trace(stack.port(16686), &before_crash, "before-crash");
    jaeger_trace(stack.port(16686), &before_down, "before-down");
    assert!(stack.state_dir().join("data/jaeger/keys").is_dir(), "Badger keeps its data in the state dir");
}

#[test]
fn jaeger_v1_keeps_traces_on_disk_too_and_memory_is_still_an_option() {
    require(&["collector"]);
    require_jaeger_v1();
    let stack = TestStack::with_config("[jaeger]\nflavour = \"v1\"\n");
    stack.up(&["--without", "prometheus", "--without", "services"]);
    let kept = traced(&stack, "v1-kept");
    stack.down();
    stack.up(&["--without", "prometheus", "--without", "services"]);
    jaeger_trace(stack.port(16686), &kept, "v1-kept");
    stack.down();

    stack.set_config("[jaeger]\nflavour = \"v1\"\nstorage = \"memory\"\n");
    stack.up(&["--without", "prometheus", "--without", "services"]);
    let lost = traced(&stack, "v1-memory");
    stack.down();
    stack.up(&["--without", "prometheus", "--without", "services"]);
    let url = format!("http://127.0.0.1:{}/api/traces/{lost}", stack.port(16686));
    let body = get_json(&url).unwrap_or_default();
    assert!(body["data"].as_array().is_none_or(|d| d.is_empty()), "memory storage forgets on restart: {body}");
}

#[test]
fn a_full_disk_under_the_logs_stops_nothing() {
    require(&["jaeger", "collector"]);
    let stack = TestStack::new();
    stack.up(&["--without", "prometheus", "--without", "services"]);
    // Every log now answers every write with ENOSPC, as a full disk does.
    let logs = stack.state_dir().join("logs");
    for entry in std::fs::read_dir(&logs).unwrap().flatten() {
        std::fs::remove_file(entry.path()).unwrap();
        std::os::unix::fs::symlink("/dev/full", entry.path()).unwrap();
    }
    // A restart writes its header line to the full log first; it must still start.
    let restarted = stack.kill_and_await_restart("collector");
    assert_eq!(restarted["restarts"], 1, "{restarted}");
    let id = send_span(&format!("http://127.0.0.1:{}", stack.port(4317)), "disk-full", "while-full");
    jaeger_trace(stack.port(16686), &id, "while-full");
    let logs_out = stack.run(&["logs", "collector"]);
    assert!(!String::from_utf8_lossy(&logs_out.stderr).contains("panicked"), "{}", describe(&logs_out));
    let pids = stack.recorded_pids();
    let ports = stack.recorded_ports();
    stack.down();
    assert_nothing_left(&pids, &ports);
}

#[test]
fn a_component_that_crashes_on_every_start_is_given_up_on_and_the_rest_keeps_running() {
    require(&["jaeger", "collector"]);
    let stack = TestStack::new();
    stack.up(&["--without", "prometheus", "--without", "services"]);
    // From now on every start of the Collector dies at once on its config.
    std::fs::write(stack.state_dir().join("rendered/otelcol.yaml"), "receivers: [not a config\n").unwrap();
    stack.kill("collector");
    // Restarts: at once, then after 1, 2, 4 and 8 s; then it is given up on.
    let failed = eventually("the collector given up on", Duration::from_secs(60), || {
        let c = stack.component("collector");
        (c["state"] == "failed").then_some(c)
    });
    assert_eq!(failed["restarts"], 5, "{failed}");
    let table = stack.run(&["status"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("failed collector") && text.contains("the last lines of"), "{text}");
    assert!(text.contains("not a config") || text.to_lowercase().contains("error"), "shows why: {text}");
    assert_eq!(table.status.code(), Some(1), "an unhealthy stack is a failing status");
    let jaeger = stack.component("jaeger");
    assert_eq!(jaeger["healthy"], true, "the rest keeps running: {jaeger}");
}

/// Connects to the control socket at `socket` as uid/gid 65534 (nobody) and asks the
/// supervisor to stop; returns what happened: `EACCES`, or `ANSWER:` and the answer
/// (nothing when the connection was closed).
fn stop_as_another_user(socket: &std::path::Path) -> String {
    const CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("EACCES"); sys.exit(0)
s.settimeout(10)
try:
    s.sendall(b'{"cmd":"stop"}\n')
    print("ANSWER:" + s.recv(100).decode())
except (BrokenPipeError, ConnectionResetError):
    print("ANSWER:")
"#;
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", CLIENT])
        .arg(socket)
        .output()
        .expect("setpriv (util-linux) and /usr/bin/python3 run; the test must run as root to act as another user");
    assert_success(&out, "the other user's client");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn the_control_socket_answers_only_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    require(&["jaeger", "collector"]);
    let stack = TestStack::new();
    stack.up(&["--without", "prometheus", "--without", "services"]);
    let socket = stack.state_dir().join("supervisor.sock");
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600);
    // A user who loosens the state dir still keeps everyone else out: first by the
    // socket's mode, then, with that loosened too, by the peer's uid.
    let open = |path: &std::path::Path, mode| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    open(stack.dir(), 0o755).unwrap();
    open(&stack.state_dir(), 0o755).unwrap();
    assert_eq!(stop_as_another_user(&socket), "EACCES");
    open(&socket, 0o666).unwrap();
    assert_eq!(stop_as_another_user(&socket), "ANSWER:", "closed unanswered");
    assert_eq!(stack.component("jaeger")["healthy"], true, "the stack did not stop");
    let log = std::fs::read_to_string(stack.state_dir().join("logs/supervisor.log")).unwrap();
    assert!(log.contains("refused a control connection from uid 65534"), "{log}");
}

#[test]
fn spans_in_flight_while_the_collector_or_jaeger_crashes_and_restarts_are_not_lost() {
    require(&["jaeger", "collector"]);
    for victim in ["collector", "jaeger"] {
        let stack = TestStack::new();
        stack.up(&["--without", "prometheus"]);
        let load = stack.spawn(&["load", "--json", "--rps", "100", "--duration", "8s", "--mix", "create=1"]);
        std::thread::sleep(Duration::from_secs(3));
        // The Collector dies holding accepted spans, and is gone for about a second
        // while the services keep sending: its queue on disk and the services' retries
        // keep them. Jaeger dies holding stored ones: Badger keeps them, and the
        // Collector's queue holds the rest until it is back (while `load`, checking
        // traces as it goes, waits for it too).
        stack.kill_and_await_restart(victim);
        let out = load.wait_with_output().unwrap();
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{victim}: {e}\n{}", describe(&out)));
        let v = &report["verification"];
        assert_eq!(report["errors"], 0, "{victim}: the services never noticed: {report:#}");
        assert_eq!(v["complete"], v["expected"], "{victim}: no trace lost: {v:#}");
    }
}

/// Runs `command` with its output and errors on one pipe (`2>&1 | reader`) and its
/// input on a pipe this test keeps open; returns its exit code and how long after its
/// exit the reader saw the end of the pipe (never, within 10 s: `None`).
fn through_merged_pipe(mut command: std::process::Command) -> (Option<i32>, Option<Duration>) {
    let (mut reader, writer) = std::io::pipe().unwrap();
    let (input, _kept_open) = std::io::pipe().unwrap();
    command.stdin(input).stdout(writer.try_clone().unwrap()).stderr(writer);
    let mut child = command.spawn().unwrap();
    // The Command holds our copies of the pipe's ends until it is dropped.
    drop(command);
    let (done, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
        let _ = done.send(std::time::Instant::now());
    });
    let code = child.wait().unwrap().code();
    let exited = std::time::Instant::now();
    let eof = ended.recv_timeout(Duration::from_secs(10)).ok().map(|at| at.saturating_duration_since(exited));
    (code, eof)
}

#[test]
fn a_merged_pipe_ends_when_the_command_does_though_the_stack_runs_on() {
    require(&["jaeger", "collector", "prometheus"]);
    let stack = TestStack::new();
    let offset = stack.offset.to_string();
    let prometheus = format!("http://127.0.0.1:{}/-/healthy", stack.port(9090));
    let commands: [&[&str]; 3] = [
        &["up", "--port-offset", &offset, "--without", "grafana", "--without", "services"],
        &["run", "--", "sh", "-c", "echo out; echo err >&2"],
        &["load", "--url", &prometheus, "--mix", "get=1", "--rps", "20", "--duration", "1s"],
    ];
    for args in commands {
        let (code, eof) = through_merged_pipe(stack.command(args));
        assert_eq!(code, Some(0), "{args:?}");
        // The supervisor and every process of the stack hold no end of the caller's pipes.
        assert!(
            eof.is_some_and(|after| after < Duration::from_secs(2)),
            "{args:?}: the reader saw the end after {eof:?}"
        );
    }
    stack.down();
}
