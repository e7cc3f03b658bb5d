//! Jaeger: v2 (`jaeger`, an OpenTelemetry Collector distribution configured by a
//! rendered YAML file) or v1 (`jaeger-all-in-one`, configured by the original plan's
//! flags). Its OTLP pair sits on 14317/14318 because the Collector owns 4317/4318; in
//! the `direct` topology it takes those ports itself (see `plan.rs`).

use std::path::{Path, PathBuf};

use minijinja::{context, value::Serde};

use super::deploy::{self, Resources, Volume, Workload};
use super::{CommandLine, Component, ComponentId, Endpoint, EndpointKey, StackPlan, host_port, named};
use crate::health::{Probe, UiCheck};
use crate::install::{BinarySpec, SourceRecipe};
use crate::render::{RenderError, Renderer};
use crate::stack::{HumanDuration, JaegerFlavour, JaegerStorage, StackConfig, StatePaths};

/// The Go module holding both Jaeger v2 (`cmd/jaeger`) and v1 (`cmd/all-in-one`).
const MODULE: &str = "github.com/jaegertracing/jaeger";

/// Jaeger, v2 or v1.
pub struct Jaeger;

/// Its UI (and the query API under it), as `up` shows it.
pub const UI: EndpointKey = EndpointKey::new("jaeger", "ui");
/// Its HTTP query API (`/api/traces`, `/api/services`).
pub const QUERY: EndpointKey = EndpointKey::new("jaeger", "query");
/// Its gRPC query API (`jaeger.api_v2.QueryService`), which the trace check reads.
pub const QUERY_GRPC: EndpointKey = EndpointKey::new("jaeger", "query_grpc");

/// The v2 release built from the same source tree as v1 release `v1` (1.76.0 is 2.13.0:
/// releases.toml; each release pairs 1.N with 2.N-63). `None` for a version too old to
/// have a v2.
fn v2_release(v1: &str) -> Option<String> {
    let mut parts = v1.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Some(1)), Some(Some(minor)), Some(Some(patch)), None) if minor >= 63 => {
            Some(format!("2.{}.{patch}", minor - 63))
        }
        _ => None,
    }
}

/// How long Jaeger keeps traces: its own `retention`, else Prometheus's, so the traces
/// and the host metrics a user compares cover the same window.
fn retention(config: &StackConfig) -> HumanDuration {
    config.jaeger.retention.unwrap_or(config.prometheus.retention)
}

/// Badger's key and value directories, under the state dir so a restart, a crash or
/// `down`/`up` keeps every trace, as Prometheus keeps its samples.
fn badger_dirs(paths: &StatePaths) -> (PathBuf, PathBuf) {
    let root = paths.data().join("jaeger");
    (root.join("keys"), root.join("values"))
}

/// Jaeger traces itself with an OpenTelemetry SDK exporting to localhost:4317, the
/// Collector's port, configured only from the environment (jaegertracing/jaeger
/// `internal/jtracer/jtracer.go`: `otlptracegrpc.NewClient` with env options, the
/// SDK's default sampler). Its spans would show up among the user's services, and at
/// shutdown it waits out the exporter's 10 s timeout once the Collector is gone. No
/// spans are sampled, and a stray export gives up after a second.
fn no_self_tracing() -> Vec<(String, String)> {
    [("OTEL_TRACES_SAMPLER", "always_off"), ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1000")]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec()
}

impl Component for Jaeger {
    fn instances(&self, _config: &StackConfig) -> Vec<ComponentId> {
        vec![ComponentId::Jaeger]
    }

    fn is_enabled(&self, config: &StackConfig, _id: &ComponentId) -> bool {
        config.jaeger.enabled
    }

    fn disable(&self, config: &mut StackConfig, _id: &ComponentId) {
        config.jaeger.enabled = false;
    }

    fn port_slots<'a>(&self, config: &'a mut StackConfig, _id: &ComponentId) -> Vec<(String, &'a mut u16)> {
        let flavour = config.jaeger.flavour;
        let p = &mut config.jaeger.ports;
        let mut slots = vec![
            ("ui", &mut p.ui),
            ("query_grpc", &mut p.query_grpc),
            ("otlp_grpc", &mut p.otlp_grpc),
            ("otlp_http", &mut p.otlp_http),
            ("zipkin", &mut p.zipkin),
            ("grpc", &mut p.grpc),
            ("collector_http", &mut p.collector_http),
        ];
        match flavour {
            JaegerFlavour::V1 => slots.push(("admin", &mut p.admin)),
            JaegerFlavour::V2 => slots.extend([("health", &mut p.health), ("metrics", &mut p.metrics)]),
        }
        named(slots)
    }

    fn endpoints(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Endpoint> {
        let ui = plan.url(id, "ui");
        // Where the services send spans only in the `direct` topology.
        let intake = plan.otlp_target().as_ref() == Some(id);
        let otlp = |e: Endpoint| if intake { e.shown() } else { e };
        vec![
            Endpoint::new(id, UI.key(), "UI and query API", ui.clone()).shown(),
            Endpoint::new(id, QUERY.key(), "HTTP query API", ui),
            Endpoint::new(id, QUERY_GRPC.key(), "gRPC query API", plan.url(id, "query_grpc")),
            otlp(Endpoint::new(id, "otlp_grpc", "OTLP gRPC (send spans here)", plan.url(id, "otlp_grpc"))),
            otlp(Endpoint::new(id, "otlp_http", "OTLP HTTP", plan.url(id, "otlp_http"))),
        ]
    }

    fn ui(&self, plan: &StackPlan, id: &ComponentId) -> Option<UiCheck> {
        Some(UiCheck {
            url: format!("{}/", plan.url(id, "ui")),
            // The page a build without the UI assets serves (jaegertracing/jaeger
            // `cmd/query/app/ui/placeholder/index.html` at v1.76.0).
            placeholder: Some("This is not the Jaeger UI".into()),
            fix: "`obsdemo install jaeger --force` installs the official build, which has the UI".into(),
        })
    }

    fn main_endpoint(&self, _plan: &StackPlan, _id: &ComponentId) -> String {
        "jaeger.ui".into()
    }

    fn files(&self, plan: &StackPlan, out: &mut Renderer<'_>) -> Result<(), RenderError> {
        let c = &plan.config;
        if c.jaeger.flavour == JaegerFlavour::V2 {
            let (keys, values) = badger_dirs(out.paths);
            let ctx = context! {
                bind => plan.bind().to_string(),
                j => Serde(&c.jaeger),
                storage => Serde(c.jaeger.storage),
                badger_keys => out.path(&keys),
                badger_values => out.path(&values),
                retention => retention(c).to_string(),
                red => plan.makes_red(),
                prometheus_url => plan.makes_red().then(|| deploy::peer_url(plan, out.site, &ComponentId::Prometheus, "http")),
            };
            out.emit("jaeger-v2.yaml", "jaeger.yaml", ctx)?;
        }
        Ok(())
    }

    fn command(&self, plan: &StackPlan, paths: &StatePaths, _id: &ComponentId, _program: &Path) -> CommandLine {
        let c = &plan.config;
        match c.jaeger.flavour {
            JaegerFlavour::V2 => CommandLine {
                args: vec![format!("--config={}", paths.rendered().join("jaeger.yaml").display())],
                env: no_self_tracing(),
                workdir: None,
            },
            JaegerFlavour::V1 => {
                let p = &c.jaeger.ports;
                let hp = |port| host_port(plan.bind(), port);
                // The original plan's flags (DESIGN.md), each bound to the plan's address.
                let mut args = vec![
                    format!("--collector.otlp.grpc.host-port={}", hp(p.otlp_grpc)),
                    format!("--collector.otlp.http.host-port={}", hp(p.otlp_http)),
                    format!("--collector.zipkin.host-port={}", hp(p.zipkin)),
                    format!("--collector.http-server.host-port={}", hp(p.collector_http)),
                    format!("--query.http-server.host-port={}", hp(p.ui)),
                    format!("--collector.grpc-server.host-port={}", hp(p.grpc)),
                    // Not in the original plan, but their defaults would bind every interface.
                    format!("--query.grpc-server.host-port={}", hp(p.query_grpc)),
                    format!("--admin.http.host-port={}", hp(p.admin)),
                ];
                let mut env = no_self_tracing();
                // jaegertracing/jaeger v1.76.0 `internal/storage/v1/badger/options.go`
                // (flag names) and `internal/storage/v1/factory/config.go` (SPAN_STORAGE_TYPE).
                match c.jaeger.storage {
                    JaegerStorage::Memory => {
                        args.push(format!("--memory.max-traces={}", c.jaeger.max_traces));
                        env.push(("SPAN_STORAGE_TYPE".into(), "memory".into()));
                    }
                    JaegerStorage::Badger => {
                        let (keys, values) = badger_dirs(paths);
                        args.extend([
                            "--badger.ephemeral=false".to_owned(),
                            format!("--badger.directory-key={}", keys.display()),
                            format!("--badger.directory-value={}", values.display()),
                            format!("--badger.span-store-ttl={}", retention(c)),
                        ]);
                        env.push(("SPAN_STORAGE_TYPE".into(), "badger".into()));
                    }
                }
                if plan.makes_red() {
                    // The Monitor tab of v1 (jaegertracing/jaeger v1.76.0
                    // `docker-compose/monitor/docker-compose-v1.yml`); both normalize
                    // settings default to false, and then the tab shows "No data".
                    env.extend([
                        ("METRICS_STORAGE_TYPE".into(), "prometheus".into()),
                        ("PROMETHEUS_SERVER_URL".into(), plan.url(&ComponentId::Prometheus, "http")),
                        ("PROMETHEUS_QUERY_NORMALIZE_CALLS".into(), "true".into()),
                        ("PROMETHEUS_QUERY_NORMALIZE_DURATION".into(), "true".into()),
                    ]);
                }
                CommandLine { args, env, workdir: None }
            }
        }
    }

    fn probes(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Probe> {
        let health = match plan.config.jaeger.flavour {
            JaegerFlavour::V2 => format!("{}/status", plan.url(id, "health")),
            JaegerFlavour::V1 => format!("{}/", plan.url(id, "admin")),
        };
        vec![Probe::http(format!("{}/", plan.url(id, "ui"))), Probe::http(health)]
    }

    fn depends_on(&self, _plan: &StackPlan, _id: &ComponentId) -> Vec<ComponentId> {
        Vec::new()
    }

    fn workloads(&self, plan: &StackPlan, id: &ComponentId) -> Vec<Workload> {
        let c = &plan.config.jaeger;
        let Some(release) = v2_release(&c.version) else {
            return Vec::new();
        };
        let paths = deploy::cluster_paths();
        // The v2 image runs as 10001 with the `jaeger` binary as its entrypoint
        // (jaegertracing/jaeger v1.76.0 `cmd/jaeger/Dockerfile`); it is published as
        // jaegertracing/jaeger:<v2 release> (`scripts/build/build-upload-a-docker-image.sh`
        // namespace, `scripts/utils/compute-tags.sh`).
        let mut w = Workload::new(deploy::service_name(id), id, format!("jaegertracing/jaeger:{release}"));
        w.args = self.command(plan, &paths, id, Path::new("jaeger")).args;
        w.env = deploy::Env::values(no_self_tracing());
        w.ports = deploy::listeners_of(plan, id);
        w.files = vec!["jaeger.yaml".into()];
        if c.storage == JaegerStorage::Badger {
            w.volumes.push(Volume::Claim {
                name: "jaeger-data".into(),
                path: badger_dirs(&paths).0.parent().map(Path::to_path_buf).unwrap_or_default(),
                size: "10Gi".into(),
            });
        }
        // The image declares /tmp a volume; a read-only root needs it writable.
        w.volumes.push(Volume::Scratch { name: "tmp".into(), path: "/tmp".into() });
        w.probes = self.probes(plan, id);
        w.user = Some(10001);
        // Badger's memtables and caches: 2.9 GB after 60,000 traces here (BENCHMARKS.md).
        w.resources = Resources { cpu: "250m", memory: "512Mi", memory_limit: "4Gi" };
        vec![w]
    }

    fn binary(&self, config: &StackConfig) -> Option<BinarySpec> {
        let names: &[&str] = match config.jaeger.flavour {
            JaegerFlavour::V2 => &["jaeger"],
            JaegerFlavour::V1 => &["jaeger-all-in-one"],
        };
        // Both print `{"gitCommit":...,"gitVersion":"v...",...}` (jaegertracing/jaeger
        // v1.76.0 `internal/version/command.go` and `build.go`).
        let spec = BinarySpec::new("jaeger", &config.jaeger.version, names, config.jaeger.binary.as_deref());
        Some(spec.asking_version_with(&["version"]))
    }

    fn source_recipe(&self, config: &StackConfig) -> Option<Result<SourceRecipe, RenderError>> {
        // Both commands, in the module itself (`go install pkg@version` refuses it:
        // its go.mod has replace directives; jaegertracing/jaeger `go.mod`).
        Some(Ok(SourceRecipe::GoModule {
            module: MODULE.into(),
            version: config.jaeger.version.to_string(),
            commands: vec![
                ("cmd/jaeger".into(), "jaeger".into()),
                ("cmd/all-in-one".into(), "jaeger-all-in-one".into()),
            ],
            // As the release build stamps each binary (jaegertracing/jaeger
            // `scripts/makefiles/BuildInfo.mk`: commitSHA, latestVersion, date; the v2
            // binary `jaeger` gets the v2 tag, `build-jaeger` in BuildBinaries.mk), read
            // back by `jaeger version`.
            stamps: [
                ("jaeger", v2_release(&config.jaeger.version)),
                ("jaeger-all-in-one", Some(config.jaeger.version.to_string())),
            ]
            .into_iter()
            .map(|(binary, version)| {
                let var = |name: &str| format!("{MODULE}/internal/version.{name}");
                let version = version.map_or_else(|| "unknown".to_owned(), |v| format!("v{v}"));
                let flags = vec![
                    (var("commitSHA"), "{commit}".to_owned()),
                    (var("latestVersion"), version),
                    (var("date"), "{date}".to_owned()),
                ];
                (binary.to_owned(), flags)
            })
            .collect(),
            files: vec![],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn red_wires_the_monitor_tab_of_v1_and_v2() {
        let mut config = StackConfig::default();
        config.metrics.red = true;
        let plan = StackPlan::new(config.clone(), &Default::default(), Path::new("/w")).unwrap();
        let files = crate::components::launch::render(&plan, &StatePaths::new("/w/.obsdemo")).unwrap();
        let v2 = &files.iter().find(|f| f.path.ends_with("jaeger.yaml")).unwrap().contents;
        assert!(v2.contains("metrics: red") && v2.contains("normalize_calls: true"), "{v2}");
        config.jaeger.flavour = JaegerFlavour::V1;
        let plan = StackPlan::new(config, &Default::default(), Path::new("/w")).unwrap();
        let env = Jaeger.command(&plan, &StatePaths::new("/w/.obsdemo"), &ComponentId::Jaeger, Path::new("j")).env;
        for (key, value) in [
            ("METRICS_STORAGE_TYPE", "prometheus"),
            ("PROMETHEUS_SERVER_URL", "http://127.0.0.1:9090"),
            ("PROMETHEUS_QUERY_NORMALIZE_CALLS", "true"),
            ("PROMETHEUS_QUERY_NORMALIZE_DURATION", "true"),
        ] {
            assert!(env.contains(&(key.to_owned(), value.to_owned())), "{key}: {env:?}");
        }
    }

    #[test]
    fn v2_releases_pair_with_v1() {
        assert_eq!(super::v2_release("1.76.0").as_deref(), Some("2.13.0"));
        assert_eq!(super::v2_release("1.66.1").as_deref(), Some("2.3.1"));
        assert_eq!(super::v2_release("1.50.0"), None);
        assert_eq!(super::v2_release("2.13.0"), None);
    }
}
