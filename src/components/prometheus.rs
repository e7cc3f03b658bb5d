//! Prometheus: scrapes only the Collector's Prometheus exporter (the host's system
//! resource metrics) and keeps its TSDB in the state dir.

use std::path::Path;

use minijinja::{context, value::Serde};

use super::deploy::{self, Resources, Volume, Workload};
use super::{CommandLine, Component, ComponentId, Endpoint, EndpointKey, StackPlan, host_port, named};
use crate::health::{Probe, UiCheck};
use crate::install::{BinarySpec, SourceRecipe};
use crate::render::{RenderError, Renderer, Site};
use crate::stack::{StackConfig, StatePaths};

/// Prometheus.
pub struct Prometheus;

/// Its UI and HTTP API.
pub const API: EndpointKey = EndpointKey::new("prometheus", "http");

impl Component for Prometheus {
    fn instances(&self, _config: &StackConfig) -> Vec<ComponentId> {
        vec![ComponentId::Prometheus]
    }

    fn is_enabled(&self, config: &StackConfig, _id: &ComponentId) -> bool {
        config.prometheus.enabled
    }

    fn disable(&self, config: &mut StackConfig, _id: &ComponentId) {
        config.prometheus.enabled = false;
    }

    fn port_slots<'a>(&self, config: &'a mut StackConfig, _id: &ComponentId) -> Vec<(String, &'a mut u16)> {
        named([("http", &mut config.prometheus.ports.http)])
    }

    fn endpoints(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Endpoint> {
        vec![Endpoint::new(id, API.key(), "UI and API", plan.url(id, "http")).shown()]
    }

    fn ui(&self, plan: &StackPlan, id: &ComponentId) -> Option<UiCheck> {
        // A module build has no web assets compiled in: /query answers 500 ("Error
        // opening React index.html"), while the API works.
        Some(UiCheck {
            url: format!("{}/query", plan.url(id, "http")),
            placeholder: None,
            fix: "`obsdemo install prometheus --force` installs the official build, which has the UI".into(),
        })
    }

    fn main_endpoint(&self, _plan: &StackPlan, _id: &ComponentId) -> String {
        "prometheus.http".into()
    }

    fn files(&self, plan: &StackPlan, out: &mut Renderer<'_>) -> Result<(), RenderError> {
        let c = &plan.config;
        let ctx = context! {
            host => plan.host(),
            p => Serde(&c.prometheus),
            collector_exporter_port => c.collector.ports.prometheus_exporter,
            kubernetes => out.site == Site::Cluster,
            agent => deploy::COLLECTOR_AGENT,
            agent_port => deploy::port_name("prometheus_exporter"),
            red => plan.makes_red(),
            // In a cluster the gateway makes the RED series; its Service fronts it.
            gateway => deploy::peer_host(plan, out.site, &ComponentId::Collector),
        };
        out.emit("prometheus.yml", "prometheus.yml", ctx)
    }

    fn command(&self, plan: &StackPlan, paths: &StatePaths, _id: &ComponentId, _program: &Path) -> CommandLine {
        let c = &plan.config.prometheus;
        let args = vec![
            format!("--config.file={}", paths.rendered().join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", paths.data().join("prometheus").display()),
            format!("--storage.tsdb.retention.time={}", c.retention),
            format!("--web.listen-address={}", host_port(plan.bind(), c.ports.http)),
        ];
        CommandLine { args, env: vec![], workdir: None }
    }

    fn probes(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Probe> {
        vec![Probe::http(format!("{}/-/ready", plan.url(id, "http")))]
    }

    fn depends_on(&self, _plan: &StackPlan, _id: &ComponentId) -> Vec<ComponentId> {
        Vec::new()
    }

    fn workloads(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Workload> {
        let paths = deploy::cluster_paths();
        // prom/prometheus:v<release>, running /bin/prometheus as nobody (prometheus
        // v3.5.0 `Dockerfile`; `Makefile.common` DOCKER_REPO=prom).
        let image = format!("prom/prometheus:v{}", plan.config.prometheus.version);
        let mut w = Workload::new(deploy::service_name(id), id, image);
        w.args = self.command(plan, &paths, id, Path::new("prometheus")).args;
        w.ports = deploy::listeners_of(plan, id);
        w.files = vec!["prometheus.yml".into()];
        w.volumes = vec![Volume::Claim {
            name: "prometheus-data".into(),
            path: paths.data().join("prometheus"),
            size: "10Gi".into(),
        }];
        w.probes = self.probes(plan, id);
        w.user = Some(65534);
        w.resources = Resources { cpu: "100m", memory: "256Mi", memory_limit: "1Gi" };
        w.discovers_pods = true;
        vec![w]
    }

    fn binary(&self, config: &StackConfig) -> Option<BinarySpec> {
        let c = &config.prometheus;
        // `prometheus, version 3.5.0 (branch: ...)` (prometheus/common `version/info.go`).
        let spec = BinarySpec::new("prometheus", &c.version, &["prometheus"], c.binary.as_deref());
        Some(spec.asking_version_with(&["--version"]))
    }

    fn source_recipe(&self, config: &StackConfig) -> Option<Result<SourceRecipe, RenderError>> {
        Some(module_version(&config.prometheus.version).map(|version| SourceRecipe::GoModule {
            module: MODULE.into(),
            version,
            commands: vec![("cmd/prometheus".into(), "prometheus".into())],
            // What promu stamps into a release (prometheus/promu `cmd/build.go`, the
            // `-X` flags of its default ldflags; prometheus `.promu.yml`), read back by
            // `--version`, `/api/v1/status/buildinfo` and `prometheus_build_info`.
            stamps: vec![(
                "prometheus".into(),
                [
                    ("Version", config.prometheus.version.to_string()),
                    ("Revision", "{commit}".to_owned()),
                    ("Branch", "HEAD".to_owned()),
                    ("BuildUser", "obsdemo".to_owned()),
                    ("BuildDate", "{build_date}".to_owned()),
                ]
                .into_iter()
                .map(|(var, value)| (format!("github.com/prometheus/common/version.{var}"), value))
                .collect(),
            )],
            files: vec![("plugins/plugins.go".into(), plugins_go(DISCOVERY))],
        }))
    }
}

/// Prometheus's Go module.
const MODULE: &str = "github.com/prometheus/prometheus";

/// The service discoveries a source build has, besides static targets and the file
/// and HTTP discoveries every build has (`plugins/minimum.go`). Prometheus lets a
/// source build choose them (its README, "Service discovery plugins": edit
/// `plugins.yml`, which `make plugins` turns into `plugins/plugins.go`). The stack's
/// config scrapes static targets only; Kubernetes is what the cluster export's config
/// uses, and the tests run it with this build. Leaving the other 23 out (the AWS,
/// Azure and Google Cloud SDKs among them) is most of what compiling Prometheus costs.
const DISCOVERY: &[&str] = &["kubernetes"];

/// `plugins/plugins.go` registering the discoveries `names`, as prometheus v0.305.0
/// `plugins/generate.go` writes it from `plugins.yml`.
fn plugins_go(names: &[&str]) -> String {
    let imports: String =
        names.iter().map(|name| format!("\t// Register {name} plugin.\n\t_ \"{MODULE}/discovery/{name}\"\n")).collect();
    format!(
        "// Code generated by obsdemo, as Prometheus's \"make plugins\" writes it. DO NOT EDIT.\n\n\
         package plugins\n\nimport (\n{imports})\n"
    )
}

/// The Go module version of Prometheus `3.M.P`: `0.3MM.P` (the module's `VERSION` file
/// at v0.305.0 reads 3.5.0). Such a build has no web UI assets compiled in; the API
/// works.
fn module_version(release: &str) -> Result<String, RenderError> {
    let bad = || RenderError::Value(format!("Prometheus {release} has no Go module version: only 3.x releases do"));
    let mut parts = release.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Some(3)), Some(Some(minor)), Some(Some(patch)), None) if minor < 100 => {
            Ok(format!("0.{}.{patch}", 300 + minor))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn module_versions_follow_the_release() {
        assert_eq!(super::module_version("3.5.0").unwrap(), "0.305.0");
        assert_eq!(super::module_version("3.10.2").unwrap(), "0.310.2");
        assert!(super::module_version("2.42.0").is_err());
    }

    #[test]
    fn a_source_build_has_the_kubernetes_discovery_and_says_so_in_its_key() {
        let plugins = super::plugins_go(super::DISCOVERY);
        let imports: Vec<&str> = plugins.lines().filter(|l| l.trim_start().starts_with("_ ")).collect();
        assert_eq!(imports, ["\t_ \"github.com/prometheus/prometheus/discovery/kubernetes\""], "{plugins}");
        assert!(plugins.contains("\npackage plugins\n"), "{plugins}");
        use crate::components::Component;
        let recipe = super::Prometheus.source_recipe(&Default::default()).unwrap().unwrap();
        assert!(recipe.source().contains(", plugins/plugins.go sha256:"), "{}", recipe.source());
    }
}

/// One Prometheus scrape target, as `status` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ScrapeTarget {
    /// The scrape job.
    pub job: String,
    /// The URL scraped.
    pub url: String,
    /// `up`, `down` or `unknown`.
    pub health: String,
    /// The last scrape's error, empty when it worked.
    pub last_error: String,
    /// How often it is scraped, as Prometheus writes it (`15s`; prometheus
    /// `web/api/v1/api.go`, `Target.ScrapeInterval`).
    pub scrape_interval: String,
}

/// Prometheus's active targets, asked of the API at `api`.
pub async fn scrape_targets(api: &str) -> Option<Vec<ScrapeTarget>> {
    let url = reqwest::Url::parse(api).ok()?.join("/api/v1/targets?state=active").ok()?;
    let body: serde_json::Value =
        crate::health::local_client(std::time::Duration::from_secs(2)).get(url).send().await.ok()?.json().await.ok()?;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let targets = body["data"]["activeTargets"].as_array()?;
    Some(
        targets
            .iter()
            .map(|t| ScrapeTarget {
                job: text(&t["labels"]["job"]),
                url: text(&t["scrapeUrl"]),
                health: text(&t["health"]),
                last_error: text(&t["lastError"]),
                scrape_interval: text(&t["scrapeInterval"]),
            })
            .collect(),
    )
}
