//! System-resource metrics end to end: Collector hostmetrics -> Prometheus -> the
//! provisioned Grafana dashboards, every panel query run against the real Prometheus.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use crate::harness::*;

/// Runs an instant PromQL query on the stack's Prometheus ([`prometheus_query`]).
fn query(stack: &TestStack, promql: &str) -> Option<Vec<Value>> {
    prometheus_query(stack.port(9090), promql)
}

/// Values of an instant vector, keyed by their label set.
fn values(result: &[Value]) -> BTreeMap<String, f64> {
    result.iter().map(|s| (s["metric"].to_string(), s["value"][1].as_str().unwrap().parse::<f64>().unwrap())).collect()
}

/// A stack with the Collector and Prometheus up and a few scrapes of host metrics in.
fn metrics_stack() -> TestStack {
    require(&["jaeger", "collector", "prometheus"]);
    let stack = TestStack::new();
    stack.up(&[]);
    // rate() needs two samples of every counter; the test stacks scrape every second
    // and sample the host every 2 s.
    eventually("three host samples in Prometheus", Duration::from_secs(60), || {
        let r = query(&stack, "count_over_time(system_cpu_load_average_1m[1m])")?;
        r.first().and_then(|s| s["value"][1].as_str()?.parse::<f64>().ok()).filter(|n| *n >= 3.0)
    });
    stack
}

/// The dashboards as `up` would provision them (rendered with Grafana enabled).
fn rendered_dashboards(stack: &TestStack) -> Vec<Value> {
    let out_dir = stack.dir().join("rendered-with-grafana");
    let offset = stack.offset.to_string();
    let out = stack.run(&["render", "--out", out_dir.to_str().unwrap(), "--port-offset", &offset]);
    assert_success(&out, "render");
    let dir = out_dir.join("grafana/dashboards");
    let mut dashboards: Vec<Value> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    dashboards.sort_by_key(|d| d["uid"].as_str().unwrap().to_owned());
    assert_eq!(dashboards.len(), 2, "system resources and overview");
    dashboards
}

#[test]
fn every_dashboard_panel_query_returns_series_from_the_real_prometheus() {
    let stack = metrics_stack();
    // The host variable's own query, then a real value for it.
    let hosts_url = format!(
        "http://127.0.0.1:{}/api/v1/label/host_name/values?match[]=system_cpu_time_seconds_total",
        stack.port(9090)
    );
    let hosts = get_json(&hosts_url).unwrap();
    let host =
        hosts["data"][0].as_str().unwrap_or_else(|| panic!("no host_name label on host metrics: {hosts}")).to_owned();
    assert_eq!(host, obsdemo::render::host_name());

    let mut checked = 0;
    let mut no_data = Vec::new();
    for dashboard in rendered_dashboards(&stack) {
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap().replace("$host", &host).replace("$__rate_interval", "30s");
                assert!(!expr.contains('$'), "a dashboard variable is left in {expr}");
                checked += 1;
                match query(&stack, &expr) {
                    Some(result) if !result.is_empty() => {
                        // A legend naming a label that no series carries means a wrong label name.
                        for label in legend_labels(target["legendFormat"].as_str().unwrap_or_default()) {
                            if !result.iter().any(|r| r["metric"][&label].as_str().is_some_and(|v| !v.is_empty())) {
                                no_data.push(format!(
                                    "{} / {}: no series has label `{label}`",
                                    dashboard["title"], panel["title"]
                                ));
                            }
                        }
                    }
                    other => {
                        no_data.push(format!("{} / {}: `{expr}` -> {other:?}", dashboard["title"], panel["title"]))
                    }
                }
            }
        }
    }
    assert!(checked >= 25, "only {checked} panel queries found");
    assert!(no_data.is_empty(), "panels that would show \"No data\":\n{}", no_data.join("\n"));
}

/// The labels a Grafana legend format refers to: `{{device}} {{direction}}`.
fn legend_labels(format: &str) -> Vec<String> {
    format.split("{{").skip(1).filter_map(|s| s.split("}}").next()).map(|l| l.trim().to_owned()).collect()
}

#[test]
fn host_metric_values_are_sane() {
    let stack = metrics_stack();
    let ratio = |promql: &str| {
        let v = values(&query(&stack, promql).unwrap());
        assert!(!v.is_empty(), "{promql} returned nothing");
        v
    };
    for (what, v) in [
        ("cpu utilization", ratio("system_cpu_utilization_ratio")),
        ("memory utilization", ratio("system_memory_utilization_ratio")),
        ("filesystem utilization", ratio("system_filesystem_utilization_ratio")),
        (
            "filesystem used / size",
            ratio(
                "sum by (mountpoint) (system_filesystem_usage_bytes{state=\"used\"}) / sum by (mountpoint) (system_filesystem_usage_bytes)",
            ),
        ),
    ] {
        for (labels, x) in v {
            assert!((0.0..=1.0).contains(&x), "{what} out of [0, 1]: {x} for {labels}");
        }
    }
    // Counters never go down between two scrapes.
    let counters = "{__name__=~\"system_(cpu_time_seconds|disk_io_bytes|network_io_bytes|network_packets|paging_operations)_total\"}";
    let first = values(&query(&stack, counters).unwrap());
    std::thread::sleep(Duration::from_secs(3));
    let second = values(&query(&stack, counters).unwrap());
    assert!(first.len() >= 5, "{first:?}");
    for (labels, before) in &first {
        if let Some(after) = second.get(labels) {
            assert!(after >= before, "counter went down: {labels}: {before} -> {after}");
        }
    }
}

#[test]
fn prometheus_scrapes_exactly_the_collector_exporter_and_status_shows_it() {
    let stack = metrics_stack();
    let targets = get_json(&format!("http://127.0.0.1:{}/api/v1/targets", stack.port(9090))).unwrap();
    let active = targets["data"]["activeTargets"].as_array().unwrap();
    assert_eq!(active.len(), 1, "exactly one target: {active:?}");
    assert_eq!(active[0]["labels"]["job"], "otelcol-hostmetrics");
    assert_eq!(active[0]["scrapeUrl"], format!("http://127.0.0.1:{}/metrics", stack.port(8889)));
    assert_eq!(active[0]["health"], "up");

    let status = stack.status();
    let prometheus = status["components"].as_array().unwrap().iter().find(|c| c["name"] == "prometheus").unwrap();
    let scrape = &prometheus["scrape_targets"];
    assert_eq!(scrape[0]["job"], "otelcol-hostmetrics", "{prometheus}");
    assert_eq!(scrape[0]["health"], "up", "{prometheus}");
}

#[test]
fn grafana_serves_the_provisioned_datasource_and_dashboards_where_installed() {
    if !grafana_present() {
        // Written past the test harness's capture, so the output says it plainly.
        let _ = writeln!(
            std::io::stderr(),
            "NOT RUN: the Grafana part of the metrics tests (no `grafana` or `grafana-server` binary here); \
             its provisioning was checked by the render tests and every dashboard query against the real Prometheus"
        );
        return;
    }
    require(&["jaeger", "collector", "prometheus"]);
    let stack = TestStack::new();
    stack.up(&[]);
    let base = format!("http://127.0.0.1:{}", stack.port(3000));
    let health = get_json(&format!("{base}/api/health")).unwrap();
    assert_eq!(health["database"], "ok");
    let password = std::fs::read_to_string(stack.state_dir().join("secrets/grafana-admin-password")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let get = |path: &str| -> Value {
        rt.block_on(async {
            obsdemo::http::local_client(Duration::from_secs(10))
                .get(format!("{base}{path}"))
                .basic_auth("admin", Some(password.trim()))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        })
    };
    let ds = get("/api/datasources/uid/obsdemo-prometheus/health");
    assert_eq!(ds["status"], "OK", "{ds}");
    let found = get("/api/search?type=dash-db");
    let uids: Vec<&str> = found.as_array().unwrap().iter().filter_map(|d| d["uid"].as_str()).collect();
    assert!(uids.contains(&"obsdemo-system-resources") && uids.contains(&"obsdemo-overview"), "{uids:?}");
}

/// Builds the dashboard check of `tests/grafana/check` (Grafana's own types, from
/// grafana-foundation-sdk on the Go module proxy) into `dir`; Go's build cache keeps
/// later builds quick.
fn dashboard_check(dir: &std::path::Path) -> std::path::PathBuf {
    let binary = dir.join("grafana-dashboard-check");
    let out = std::process::Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(".")
        .current_dir(checkout().join("tests/grafana/check"))
        .output()
        .unwrap_or_else(|e| panic!("this test needs Go (`./scripts/test.sh` checks for it): {e}"));
    assert_success(&out, "go build of tests/grafana/check");
    binary
}

#[test]
fn every_provisioned_dashboard_passes_grafanas_own_types_and_rules_and_a_broken_one_does_not() {
    // RED on, so its dashboard is provisioned and checked too.
    let stack = TestStack::with_config("[metrics]\nred = true\n");
    let check = dashboard_check(stack.dir());
    let out_dir = stack.dir().join("rendered");
    assert_success(&stack.run(&["render", "--out", out_dir.to_str().unwrap()]), "render");
    let dashboards: Vec<std::path::PathBuf> =
        std::fs::read_dir(out_dir.join("grafana/dashboards")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dashboards.len(), 3, "system resources, RED and overview");
    let uid = obsdemo::components::grafana::PROMETHEUS_DATASOURCE_UID;
    let out = std::process::Command::new(&check).arg(uid).args(&dashboards).output().unwrap();
    assert_success(&out, "the dashboard check");

    // A field of the wrong type, a datasource that is not provisioned, a uid Grafana's
    // dashboard service refuses: each is named.
    let mut wrong: Value = serde_json::from_slice(&std::fs::read(&dashboards[0]).unwrap()).unwrap();
    wrong["title"] = Value::from(5);
    let mut unknown: Value = serde_json::from_slice(&std::fs::read(&dashboards[1]).unwrap()).unwrap();
    let panel = unknown["panels"].as_array_mut().unwrap().iter_mut().find(|p| p["datasource"].is_object()).unwrap();
    panel["datasource"]["uid"] = Value::from("not-provisioned");
    unknown["uid"] = Value::from("a uid with spaces");
    let broken = [("wrong-type.json", wrong), ("unknown-datasource.json", unknown)].map(|(name, dashboard)| {
        let path = stack.dir().join(name);
        std::fs::write(&path, dashboard.to_string()).unwrap();
        path
    });
    let out = std::process::Command::new(&check).arg(uid).args(&broken).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("wrong-type.json: does not decode as a Grafana dashboard"), "{said}");
    assert!(
        said.contains("names datasource uid \"not-provisioned\", not the provisioned \"obsdemo-prometheus\""),
        "{said}"
    );
    assert!(said.contains("holds characters other than"), "{said}");
}

/// The points of a Jaeger metrics answer (`/api/metrics/...`), in order.
fn jaeger_points(answer: &Value) -> Vec<f64> {
    let metrics = answer["metrics"].as_array().cloned().unwrap_or_default();
    metrics
        .iter()
        .flat_map(|m| m["metricPoints"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["gaugeValue"]["doubleValue"].as_f64())
        .filter(|v| v.is_finite())
        .collect()
}

#[test]
fn red_metrics_reach_prometheus_and_jaegers_monitor_tab() {
    require(&["jaeger", "collector", "prometheus"]);
    // The shipped services, the Payment-service failing a fifth of its authorizations.
    let shipped = include_str!("../../stack.toml");
    let services = &shipped[shipped.find("[[services]]").unwrap()..shipped.find("# Your own processes").unwrap()];
    let payment = services.find("name = \"Payment-service\"").unwrap();
    let at = payment + services[payment..].find("error_rate = 0.0").unwrap();
    let services = format!("{}error_rate = 0.2{}", &services[..at], &services[at + "error_rate = 0.0".len()..]);
    let stack = TestStack::with_config(&format!("[metrics]\nred = true\n\n{services}"));
    stack.up(&[]);
    let out = stack.run(&["load", "--json", "--rps", "40", "--duration", "20s", "--no-verify"]);
    let load: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("load: {e}\n{}", describe(&out)));

    // Prometheus keeps the spanmetrics series under the names Jaeger reads.
    eventually("the spans' calls in Prometheus", Duration::from_secs(60), || {
        let result = query(&stack, "sum(traces_span_metrics_calls_total{service_name=\"Order-service\"})")?;
        (values(&result).values().sum::<f64>() > 0.0).then_some(())
    });

    // Jaeger's Monitor tab: its API, with the parameters of jaegertracing/jaeger
    // `scripts/e2e/spm.sh`.
    let jaeger = format!("http://127.0.0.1:{}", stack.port(16686));
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let ask = |what: &str, extra: &str| {
        get_json(&format!(
            "{jaeger}/api/metrics/{what}?service={extra}&endTs={}&lookback=300000&step=15000&ratePer=60000",
            now()
        ))
    };
    let calls = eventually("calls in Jaeger's Monitor tab", Duration::from_secs(60), || {
        let points = jaeger_points(&ask("calls", "Order-service")?);
        points.iter().any(|v| *v > 0.0).then_some(points)
    });
    assert!(!calls.is_empty());

    // Errors: the share of failed authorizations is the configured one, within 20%.
    let errors = eventually("Payment-service's error rate", Duration::from_secs(60), || {
        let points = jaeger_points(&ask("errors", "Payment-service&spanKind=internal")?);
        points.last().copied().filter(|v| *v > 0.0)
    });
    assert!((0.16..=0.24).contains(&errors), "Jaeger's error rate {errors}, configured 0.2");

    // Latency: Jaeger's p95 lies within one histogram bucket of load's own p90 to p99.
    let p95 = eventually("Order-service's p95", Duration::from_secs(60), || {
        let points = jaeger_points(&ask("latencies", "Order-service&quantile=0.95")?);
        points.last().copied().filter(|v| *v > 0.0)
    });
    // The connector's default buckets, in ms (contrib v0.165.0 spanmetricsconnector `config.go`).
    let buckets = [2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0, 5000.0];
    let bucket = |ms: f64| buckets.iter().position(|b| ms <= *b).unwrap_or(buckets.len());
    let (p90, p99) = (load["latency_ms"]["p90"].as_f64().unwrap(), load["latency_ms"]["p99"].as_f64().unwrap());
    let (low, high) = (bucket(p90).saturating_sub(1), bucket(p99) + 1);
    assert!(
        (low..=high).contains(&bucket(p95)),
        "Jaeger's p95 {p95} ms is more than a bucket from load's p90 {p90} ms to p99 {p99} ms"
    );
    stack.down();
}

#[test]
fn jaeger_v1s_monitor_tab_reads_the_red_metrics_too() {
    require(&["collector", "prometheus"]);
    require_jaeger_v1();
    // v1 is wired through the environment (METRICS_STORAGE_TYPE and its siblings), not
    // a config file: the same proof, its first step.
    let stack = TestStack::with_config("[jaeger]\nflavour = \"v1\"\n\n[metrics]\nred = true\n");
    stack.up(&[]);
    let out = stack.run(&["load", "--json", "--rps", "40", "--duration", "12s", "--no-verify"]);
    assert_success(&out, "load");
    let jaeger = format!("http://127.0.0.1:{}", stack.port(16686));
    eventually("calls in Jaeger v1's Monitor tab", Duration::from_secs(60), || {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        let answer = get_json(&format!(
            "{jaeger}/api/metrics/calls?service=Order-service&endTs={now}&lookback=300000&step=15000&ratePer=60000"
        ))?;
        jaeger_points(&answer).iter().any(|v| *v > 0.0).then_some(())
    });
    stack.down();
}
