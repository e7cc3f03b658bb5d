//! The stack's life: up, status, telemetry through every component, logs, a second
//! up, crashes, a killed supervisor, two stacks side by side, and down.

use std::time::Duration;

use crate::harness::*;

#[test]
fn up_status_telemetry_down_leaves_nothing() {
    require(&["jaeger", "collector", "prometheus"]);
    let stack = TestStack::new();
    let up = stack.up(&[]);
    assert_eq!(up["healthy"], true);

    // status --json: every enabled component running and healthy, with pid and URL.
    let status = stack.status();
    let components = status["components"].as_array().unwrap();
    for name in ["jaeger", "collector", "prometheus"] {
        let c = components.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("{name} missing: {status}"));
        assert_eq!(c["state"], "running", "{c}");
        assert_eq!(c["healthy"], true, "{c}");
        assert!(c["pid"].as_u64().is_some_and(|p| p > 1), "{c}");
        assert!(c["url"].as_str().is_some_and(|u| u.starts_with("http://127.0.0.1:")), "{c}");
        assert!(c["rss_bytes"].as_u64().is_some_and(|b| b > 0), "{c}");
    }
    if !grafana_present() {
        let g = components.iter().find(|c| c["name"] == "grafana").unwrap();
        assert_eq!(g["state"], "disabled");
    }

    // A span sent over OTLP/gRPC to the Collector's 4317 comes back from Jaeger's API.
    let otlp = format!("http://127.0.0.1:{}", stack.port(4317));
    let trace_id = send_span(&otlp, "obsdemo-lifecycle-test", "lifecycle-span");
    let trace = jaeger_trace(stack.port(16686), &trace_id, "lifecycle-span");
    let process = trace["processes"].as_object().unwrap().values().next().unwrap();
    assert_eq!(process["serviceName"], "obsdemo-lifecycle-test");

    // Prometheus returns host metric series that it scraped from the Collector.
    let url = format!("http://127.0.0.1:{}/api/v1/query?query=system_cpu_time_seconds_total", stack.port(9090));
    let series = eventually("host CPU series in Prometheus", Duration::from_secs(30), || {
        let body = get_json(&url)?;
        let result = body["data"]["result"].as_array()?.clone();
        (!result.is_empty()).then_some(result)
    });
    assert_eq!(series[0]["metric"]["job"], "otelcol-hostmetrics", "{series:?}");

    // Logs are readable; a second `up` refuses and changes nothing.
    let logs = stack.run(&["logs", "collector", "-n", "5"]);
    assert_success(&logs, "logs collector");
    // `logs -f` prints what is written after it started.
    let mut follower =
        stack.command(&["logs", "collector", "-f", "-n", "0"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let stdout = follower.stdout.take().unwrap();
    // Its first line is the (empty) tail; after that it is following.
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    lines_rx.recv_timeout(Duration::from_secs(10)).expect("logs -f printed its tail");
    let mut log = std::fs::OpenOptions::new().append(true).open(stack.state_dir().join("logs/collector.log")).unwrap();
    std::io::Write::write_all(&mut log, b"marker written by the test\n").unwrap();
    let followed = (0..50)
        .map_while(|_| lines_rx.recv_timeout(Duration::from_secs(10)).ok())
        .find(|line| line.contains("marker written by the test"));
    let _ = follower.kill();
    let _ = follower.wait();
    assert!(followed.is_some(), "logs -f did not print a line appended to the log");
    let pids = stack.recorded_pids();
    let again = stack.try_up(&[]);
    assert_eq!(again.status.code(), Some(3), "{}", describe(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running"), "{}", describe(&again));
    assert_eq!(stack.recorded_pids(), pids, "a second up must change nothing");

    let ports = stack.recorded_ports();
    stack.down();
    assert_nothing_left(&pids, &ports);
    let status = stack.run(&["status", "--json"]);
    assert_eq!(status.status.code(), Some(1), "status after down is unhealthy: {}", describe(&status));
    // down is idempotent.
    stack.down();
}

#[test]
fn killed_supervisor_takes_every_child_with_it() {
    require(&["jaeger", "collector", "prometheus"]);
    let stack = TestStack::new();
    stack.up(&[]);
    let pids = stack.recorded_pids();
    let ports = stack.recorded_ports();
    assert_eq!(pids.len(), 10, "the supervisor, three components, five services and the console: {pids:?}");
    let supervisor = pids[0];
    assert!(Command::new("kill").args(["-KILL", &supervisor.to_string()]).status().unwrap().success());
    eventually("every child gone after the supervisor was killed", Duration::from_secs(5), || {
        pids.iter().all(|p| !alive(*p)).then_some(())
    });
    // down still works from state.json, and reports nothing left.
    stack.down();
    assert_nothing_left(&pids, &ports);
}

#[test]
fn every_kind_of_component_killed_is_restarted() {
    require(&["jaeger", "collector", "prometheus"]);
    let stack = TestStack::new();
    stack.up(&[]);
    for name in ["collector", "jaeger", "prometheus", "Order-service", "Notification-service"] {
        let restarted = stack.kill_and_await_restart(name);
        assert_eq!(restarted["restarts"], 1, "{name}: {restarted}");
        assert!(
            restarted["last_exit"].as_str().is_some_and(|e| !e.is_empty()),
            "{name}: says how it ended: {restarted}"
        );
    }
}

#[test]
fn two_stacks_run_side_by_side_with_port_offsets() {
    require(&["jaeger", "collector"]);
    let (a, b) = (TestStack::new(), TestStack::new());
    assert_ne!(a.offset, b.offset);
    let up_a = std::thread::scope(|s| {
        let ha = s.spawn(|| a.up(&["--without", "prometheus"]));
        let hb = s.spawn(|| b.up(&["--without", "prometheus"]));
        hb.join().unwrap();
        ha.join().unwrap()
    });
    assert_eq!(up_a["healthy"], true);
    for stack in [&a, &b] {
        let otlp = format!("http://127.0.0.1:{}", stack.port(4317));
        let id = send_span(&otlp, "offset-test", "offset-span");
        jaeger_trace(stack.port(16686), &id, "offset-span");
    }
}

use std::process::Command;

#[test]
fn a_build_without_a_web_ui_is_not_advertised_as_one() {
    // The tests run Jaeger and Prometheus built from source, which serve no UI.
    require(&["jaeger", "collector", "prometheus"]);
    let stack = TestStack::new();
    let up = stack.up(&["--without", "services"]);
    let missing: Vec<&str> =
        up["ui_missing"].as_array().unwrap().iter().map(|m| m["component"].as_str().unwrap()).collect();
    assert_eq!(missing, ["jaeger", "prometheus"], "{up:#}");
    for m in up["ui_missing"].as_array().unwrap() {
        assert!(m["why"].as_str().unwrap().contains("--force"), "names the fix: {m}");
    }
    let table = stack.run(&["status"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("no UI: jaeger") && text.contains("obsdemo install jaeger --force"), "{text}");
    let status = stack.status();
    let collector = status["components"].as_array().unwrap().iter().find(|c| c["name"] == "collector").unwrap();
    assert!(collector.get("ui_missing").is_none(), "the Collector has no UI to miss");
}

/// The listening TCP sockets of `pid`, as (address, port), from /proc.
fn listening_sockets(pid: u32) -> Vec<(String, u16)> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|l| l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for row in text.lines().skip(1) {
            let f: Vec<&str> = row.split_whitespace().collect();
            // Columns: sl, local_address, rem_address, st (0A = LISTEN), ..., inode (9).
            if f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
                let (addr, port) = f[1].split_once(':').unwrap();
                out.push((addr.to_owned(), u16::from_str_radix(port, 16).unwrap()));
            }
        }
    }
    out
}

#[test]
fn every_listener_of_the_stack_is_on_loopback_by_default() {
    require(&["jaeger", "collector", "prometheus"]);
    let stack = TestStack::new();
    stack.up(&[]);
    let mut seen = 0;
    for pid in stack.recorded_pids() {
        for (addr, port) in listening_sockets(pid) {
            seen += 1;
            // 127.0.0.1 in /proc's little-endian hex, or ::1.
            let loopback = addr == "0100007F" || addr == "00000000000000000000000001000000";
            assert!(loopback, "pid {pid} listens on {addr}:{port}, off loopback");
        }
    }
    assert!(seen >= 10, "found the stack's listeners ({seen})");
}
