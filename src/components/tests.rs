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
    let files = render_for_host(&plan(StackConfig::default()), &paths(), "h").unwrap();
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
