//! Golden files for every rendered config, and checks that each rendered file binds
//! exactly the plan's ports. `OBSDEMO_BLESS=1 cargo test` rewrites the golden files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::grafana::{JAEGER_DATASOURCE_UID, PROMETHEUS_DATASOURCE_UID};
use super::launch::{self, render_for_host};
use super::*;
use crate::golden::golden;
use crate::render::{DASHBOARDS, RenderedFile};
use crate::stack::{JaegerFlavour, Topology};

fn plan(config: StackConfig) -> StackPlan {
    StackPlan::new(config, &Overrides::default(), Path::new("/work")).unwrap()
}

fn paths() -> StatePaths {
    StatePaths::new("/state")
}

fn binaries(plan: &StackPlan) -> BTreeMap<ComponentId, PathBuf> {
    plan.enabled().into_iter().map(|c| (c.clone(), PathBuf::from(format!("/bin/{c}")))).collect()
}

fn check_case(case: &str, plan: &StackPlan) {
    let files = render_for_host(plan, &paths(), "testhost").unwrap();
    for f in &files {
        golden(case, &f.path, &f.contents);
    }
    let specs = launch::process_specs(plan, &paths(), &binaries(plan));
    golden(case, Path::new("launch.json"), &(serde_json::to_string_pretty(&specs).unwrap() + "\n"));
}

#[test]
fn default_stack_matches_golden_files() {
    check_case("default", &plan(StackConfig::default()));
}

#[test]
fn v1_direct_stack_matches_golden_files() {
    let mut config = StackConfig { topology: Topology::Direct, ..Default::default() };
    config.jaeger.flavour = JaegerFlavour::V1;
    check_case("v1-direct", &plan(config));
}

#[test]
fn every_listener_is_bound_in_its_components_config() {
    let plan =
        StackPlan::new(StackConfig::default(), &Overrides { port_offset: 7, ..Default::default() }, Path::new("/w"))
            .unwrap();
    let files = render_for_host(&plan, &paths(), "h").unwrap();
    let text = |name: &str| files.iter().find(|f| f.path == Path::new(name)).unwrap().contents.clone();
    let configs = [(ComponentId::Collector, text("otelcol.yaml")), (ComponentId::Jaeger, text("jaeger.yaml"))];
    for (component, config) in configs {
        for l in plan.listeners.iter().filter(|l| l.component == component) {
            let bound = format!("127.0.0.1:{}", l.port);
            let as_field = format!("port: {}", l.port);
            assert!(config.contains(&bound) || config.contains(&as_field), "{l} is not set in {component}'s config");
        }
    }
    // Nothing in the Jaeger config may fall back to a default port of its own.
    assert!(!text("jaeger.yaml").contains("localhost"), "every Jaeger listener must be bound explicitly");
    let prometheus = launch::process_specs(&plan, &paths(), &binaries(&plan));
    let args = &prometheus.iter().find(|s| s.name == "prometheus").unwrap().args;
    assert!(args.contains(&format!("--web.listen-address=127.0.0.1:{}", plan.port(&ComponentId::Prometheus, "http"))));
}

#[test]
fn dashboards_are_valid_grafana_json() {
    // With RED on, every dashboard is rendered (without it, all but the RED one).
    let mut config = StackConfig::default();
    config.metrics.red = true;
    let files = render_for_host(&plan(config), &paths(), "h").unwrap();
    let dashboards: Vec<&RenderedFile> = files.iter().filter(|f| f.path.starts_with("grafana/dashboards")).collect();
    assert_eq!(dashboards.len(), DASHBOARDS.len());
    for d in dashboards {
        let json: serde_json::Value = serde_json::from_str(&d.contents).unwrap();
        assert!(json["schemaVersion"].as_u64().is_some_and(|v| v >= 36), "{}: schemaVersion", d.path.display());
        assert!(json["uid"].as_str().is_some_and(|u| !u.is_empty()));
        let panels = json["panels"].as_array().unwrap();
        let mut ids: Vec<u64> = panels.iter().map(|p| p["id"].as_u64().unwrap()).collect();
        ids.sort_unstable();
        let count = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), count, "{}: panel ids must be unique", d.path.display());
        for p in panels.iter().filter(|p| p["type"] != "row" && p["type"] != "text") {
            assert_eq!(p["datasource"]["uid"], PROMETHEUS_DATASOURCE_UID, "{}: panel {}", d.path.display(), p["title"]);
            for t in p["targets"].as_array().unwrap() {
                assert_eq!(t["datasource"]["uid"], PROMETHEUS_DATASOURCE_UID);
                assert!(t["expr"].as_str().is_some_and(|e| !e.is_empty()));
            }
        }
    }
    let datasources = files.iter().find(|f| f.path.ends_with("datasources/obsdemo.yaml")).unwrap();
    let yaml: serde_json::Value = serde_saphyr::from_str(&datasources.contents).unwrap();
    assert_eq!(yaml["datasources"][0]["uid"], PROMETHEUS_DATASOURCE_UID);
    assert_eq!(yaml["datasources"][1]["uid"], JAEGER_DATASOURCE_UID);
}

#[test]
fn every_third_party_component_has_a_release_at_its_default_version() {
    let table = crate::install::releases::table();
    let config = StackConfig::default();
    for id in ComponentId::third_party() {
        let release = table.get(id.name()).unwrap_or_else(|| panic!("{id} missing from releases.toml"));
        assert!(!release.artifacts.is_empty());
        assert_eq!(release.version, id.kind().binary(&config).unwrap().version, "{id}");
    }
}

/// The key paths of a YAML or JSON document (list items as `[]`), or the keys of an
/// INI file, as a set.
fn skeleton(file: &RenderedFile) -> std::collections::BTreeSet<String> {
    fn walk(v: &serde_json::Value, at: String, out: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(map) => map.iter().for_each(|(k, v)| walk(v, format!("{at}.{k}"), out)),
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, format!("{at}[]"), out)),
            _ => {
                out.insert(at);
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    if file.path.extension().is_some_and(|e| e == "ini") {
        out.extend(file.contents.lines().filter_map(|l| l.split_once(" = ").map(|(k, _)| k.to_owned())));
    } else {
        walk(&serde_saphyr::from_str(&file.contents).unwrap(), String::new(), &mut out);
    }
    out
}

#[test]
fn the_cluster_runs_the_configs_up_renders_with_only_addresses_changed() {
    // Every file `up` renders has a counterpart for the cluster with the same keys:
    // the same file, or (the Collector) the gateway's and the agent's together; only
    // Prometheus finds its target differently. With RED metrics and without.
    for red in [false, true] {
        let mut config = StackConfig::default();
        config.metrics.red = red;
        cluster_has_the_same_keys(config);
    }
}

fn cluster_has_the_same_keys(config: StackConfig) {
    let local = render_for_host(&plan(config.clone()), &paths(), "h").unwrap();
    let (cluster_plan, changed) = deploy::cluster_plan(config, &Overrides::default()).unwrap();
    assert!(changed.iter().all(|c| !c.contains("RED")), "the cluster keeps RED: {changed:?}");
    let cluster = launch::render_for_cluster(&cluster_plan).unwrap();
    let of = |files: &[RenderedFile], name: &str| {
        skeleton(files.iter().find(|f| f.path == Path::new(name)).unwrap_or_else(|| panic!("{name} is rendered")))
    };
    for f in &local {
        let name = f.path.to_str().unwrap();
        let (here, there) = match name {
            "otelcol.yaml" => {
                let mut both = of(&cluster, "otelcol-gateway.yaml");
                both.extend(of(&cluster, "otelcol-agent.yaml"));
                assert!(both.remove(".receivers.host_metrics.root_path"), "the agent reads the node below /hostfs");
                let mut here = skeleton(f);
                // Between pods the exporter keeps its default, gzip; on one host it would only cost CPU.
                assert!(
                    here.remove(".exporters.otlp_grpc/jaeger.compression"),
                    "up sends spans to Jaeger uncompressed"
                );
                (here, both)
            }
            "prometheus.yml" => {
                let sd = |keys: std::collections::BTreeSet<String>| -> std::collections::BTreeSet<String> {
                    let target = [".static_configs", ".kubernetes_sd_configs", ".relabel_configs"];
                    keys.into_iter().filter(|k| !target.iter().any(|t| k.contains(t))).collect()
                };
                (sd(skeleton(f)), sd(of(&cluster, name)))
            }
            _ => (skeleton(f), of(&cluster, name)),
        };
        assert_eq!(here, there, "{name}: the cluster's config has other keys than up's");
    }
    assert_eq!(cluster.len(), local.len() + 1, "one file more: the Collector's config is two");
}

/// The environment the launch file gives the app `name` of the stack in `toml`, with
/// `offset` on every port.
fn app_env(toml: &str, offset: u16, name: &str) -> BTreeMap<String, String> {
    let config = crate::stack::load::parse(toml, crate::stack::ConfigSource::Embedded).unwrap();
    let overrides = Overrides { port_offset: offset, ..Default::default() };
    let plan = StackPlan::new(config, &overrides, Path::new("/work")).unwrap();
    let specs = launch::process_specs(&plan, &paths(), &binaries(&plan));
    specs.into_iter().find(|s| s.name == name).unwrap().env.into_iter().collect()
}

#[test]
fn an_app_is_pointed_at_the_intake_its_sdk_speaks() {
    let app = |extra: &str| format!("[[apps]]\nname = \"shop\"\ncommand = [\"shop\"]\n{extra}\n");
    // By default gRPC, as every earlier obsdemo did.
    let env = app_env(&app(""), 0, "shop");
    assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://127.0.0.1:4317");
    assert_eq!(env["OTEL_EXPORTER_OTLP_PROTOCOL"], "grpc");
    assert_eq!(env["OTEL_RESOURCE_ATTRIBUTES"], "deployment.environment.name=obsdemo,obsdemo.app=shop");
    // `otlp = "http"`, shifted with the ports.
    let env = app_env(&app("otlp = \"http\""), 1000, "shop");
    assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://127.0.0.1:5318");
    assert_eq!(env["OTEL_EXPORTER_OTLP_PROTOCOL"], "http/protobuf");
    // What the app's own env declares, when `otlp` is unset.
    let env = app_env(&app("env = { OTEL_EXPORTER_OTLP_PROTOCOL = \"http/json\" }"), 0, "shop");
    assert_eq!(
        (env["OTEL_EXPORTER_OTLP_ENDPOINT"].as_str(), env["OTEL_EXPORTER_OTLP_PROTOCOL"].as_str()),
        ("http://127.0.0.1:4318", "http/json")
    );
    // The intake placeholders, in env and command, shifted by the offset.
    let toml = "[[apps]]\nname = \"shop\"\ncommand = [\"shop\", \"--otlp={otlp.grpc}\"]\n\
                env = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = \"{otlp.http}/v1/traces\" }\n";
    let env = app_env(toml, 7, "shop");
    assert_eq!(env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"], "http://127.0.0.1:4325/v1/traces");
    // Its own resource attributes keep the one that names the app.
    let env = app_env(&app("env = { OTEL_RESOURCE_ATTRIBUTES = \"team=web\" }"), 0, "shop");
    assert_eq!(env["OTEL_RESOURCE_ATTRIBUTES"], "team=web,obsdemo.app=shop");
    let env = app_env(&app("env = { OTEL_RESOURCE_ATTRIBUTES = \"obsdemo.app=mine\" }"), 0, "shop");
    assert_eq!(env["OTEL_RESOURCE_ATTRIBUTES"], "obsdemo.app=mine");
}

#[test]
fn an_apps_command_takes_the_intake_placeholders_and_refuses_unknown_ones() {
    let config = |arg: &str| {
        crate::stack::load::parse(
            &format!("[[apps]]\nname = \"shop\"\ncommand = [\"shop\", \"{arg}\"]\n"),
            crate::stack::ConfigSource::Embedded,
        )
        .unwrap()
    };
    let plan = plan(config("--to={otlp.http}"));
    let specs = launch::process_specs(&plan, &paths(), &binaries(&plan));
    let shop = specs.iter().find(|s| s.name == "shop").unwrap();
    assert_eq!(shop.args, ["--to=http://127.0.0.1:4318"]);
    let refused = StackPlan::new(config("{otlp.zipkin}"), &Overrides::default(), Path::new("/w")).unwrap_err();
    assert!(refused.to_string().contains("{otlp.grpc} or {otlp.http}"), "{refused}");
}

#[test]
fn every_typed_endpoint_key_names_an_endpoint_the_plan_records() {
    let plan = plan(StackConfig::default());
    let recorded = launch::endpoints_by_name(&plan);
    let keys = [jaeger::UI, jaeger::QUERY, jaeger::QUERY_GRPC, collector::OTLP_GRPC, collector::METRICS];
    for key in keys.into_iter().chain([prometheus::API, grafana::API]) {
        assert!(recorded.contains_key(&key.name()), "{} is not recorded: {recorded:?}", key.name());
    }
}

#[test]
fn an_app_that_no_process_could_be_started_with_is_refused_when_planned() {
    for bad in ["command = [\"shop\", \"a\\u0000b\"]", "command = [\"shop\"]\nenv = { \"A=B\" = \"x\" }"] {
        let toml = format!("[[apps]]\nname = \"shop\"\n{bad}\n");
        let config = crate::stack::load::parse(&toml, crate::stack::ConfigSource::Embedded).unwrap();
        let refused = StackPlan::new(config, &Overrides::default(), Path::new("/w")).unwrap_err();
        assert!(refused.to_string().starts_with("apps: shop: "), "{refused}");
    }
}
