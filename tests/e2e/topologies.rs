//! The original plan's variants: Jaeger v1 with its exact flags, and the `direct`
//! topology where services send straight to Jaeger on 4317.

use crate::harness::*;

/// The original plan's Jaeger flags, each of which the v1 command line must carry.
const SEED_FLAGS: [&str; 6] = [
    "--collector.otlp.grpc.host-port=",
    "--collector.otlp.http.host-port=",
    "--collector.zipkin.host-port=",
    "--collector.http-server.host-port=",
    "--query.http-server.host-port=",
    "--collector.grpc-server.host-port=",
];

fn launch_args(stack: &TestStack, component: &str) -> Vec<String> {
    let launch: serde_json::Value =
        serde_json::from_slice(&std::fs::read(stack.state_dir().join("rendered/launch.json")).unwrap()).unwrap();
    let spec = launch["specs"].as_array().unwrap().iter().find(|s| s["name"] == component).unwrap();
    spec["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect()
}

#[test]
fn jaeger_v1_with_the_original_flags_is_healthy_and_receives_spans() {
    require(&["collector"]);
    require_jaeger_v1();
    let stack = TestStack::with_config("[jaeger]\nflavour = \"v1\"\n");
    stack.up(&["--without", "prometheus"]);
    let args = launch_args(&stack, "jaeger");
    for flag in SEED_FLAGS {
        let arg = args.iter().find(|a| a.starts_with(flag)).unwrap_or_else(|| panic!("{flag} missing from {args:?}"));
        assert!(arg.contains("127.0.0.1:"), "bound to loopback: {arg}");
    }
    assert!(args.contains(&format!("--query.http-server.host-port=127.0.0.1:{}", stack.port(16686))), "{args:?}");

    // Straight into v1's own OTLP port, and through the Collector.
    let direct = send_span(&format!("http://127.0.0.1:{}", stack.port(14317)), "v1-direct", "v1-direct-span");
    jaeger_trace(stack.port(16686), &direct, "v1-direct-span");
    let via = send_span(&format!("http://127.0.0.1:{}", stack.port(4317)), "v1-via-collector", "v1-via-span");
    jaeger_trace(stack.port(16686), &via, "v1-via-span");

    // `load` finds and checks its traces over v1's gRPC query API as over v2's.
    assert_load_verifies(&stack, 20);
}

/// `load` at 10 rps for 2 s passes, with `traces` complete traces.
fn assert_load_verifies(stack: &TestStack, traces: u64) {
    let out = stack.run(&["load", "--json", "--rps", "10", "--duration", "2s"]);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("load --json: {e}\n{}", describe(&out)));
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["verification"]["complete"], traces, "{report:#}");
}

#[test]
fn direct_topology_runs_jaeger_on_the_original_otlp_ports_without_a_collector() {
    require(&["jaeger"]);
    let stack = TestStack::with_config("topology = \"direct\"\n");
    stack.up(&["--without", "prometheus"]);
    let status = stack.status();
    let collector = status["components"].as_array().unwrap().iter().find(|c| c["name"] == "collector").unwrap();
    assert_eq!(collector["state"], "disabled", "{status}");
    assert!(collector["pid"].is_null());
    let jaeger_ports: Vec<u64> =
        stack.state()["components"].as_array().unwrap().iter().find(|c| c["name"] == "jaeger").unwrap()["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_u64().unwrap())
            .collect();
    assert!(
        jaeger_ports.contains(&(stack.port(4317) as u64)) && jaeger_ports.contains(&(stack.port(4318) as u64)),
        "{jaeger_ports:?}"
    );

    let id = send_span(&format!("http://127.0.0.1:{}", stack.port(4317)), "direct-service", "direct-span");
    jaeger_trace(stack.port(16686), &id, "direct-span");

    // With no Collector's counters to follow, `load` asks for its traces by the clock.
    assert_load_verifies(&stack, 20);
}
