//! The serde types of `stack.toml`.
//!
//! Every table rejects unknown keys, and every field has a default, so a user's file
//! only needs the keys it changes. The defaults here are the single source of truth;
//! the repository's `stack.toml` spells them out and a test keeps the two equal.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::duration::HumanDuration;
use super::version::Version;

/// The whole stack: where it listens, where it keeps state, and each component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StackConfig {
    /// Address every listener binds to. Loopback unless the user asks otherwise, so
    /// nothing of the demo is reachable from the network by accident.
    pub bind: IpAddr,
    /// State dir (rendered configs, logs, data, secrets, state.json, the socket),
    /// relative to the working directory unless absolute.
    pub state_dir: PathBuf,
    /// `collector`: services -> Collector -> Jaeger. `direct`: services -> Jaeger, no
    /// Collector, Jaeger on the original plan's exact ports.
    pub topology: Topology,
    /// The OpenTelemetry Collector.
    pub collector: CollectorConfig,
    /// The tracing backend and UI.
    pub jaeger: JaegerConfig,
    /// The metrics store, scraping only the Collector's host metrics.
    pub prometheus: PrometheusConfig,
    /// Dashboards over Prometheus.
    pub grafana: GrafanaConfig,
    /// The demo microservices (`[[services]]`), each its own process.
    pub services: Vec<ServiceConfig>,
    /// The user's own processes (`[[apps]]`), supervised beside the stack with the
    /// OpenTelemetry settings that point them at it.
    pub apps: Vec<AppConfig>,
    /// obsdemo's own web page over the running stack.
    pub console: ConsoleConfig,
    /// Metrics beyond the host's.
    pub metrics: MetricsConfig,
}

impl Default for StackConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::from([127, 0, 0, 1]),
            state_dir: PathBuf::from(".obsdemo"),
            topology: Topology::Collector,
            collector: CollectorConfig::default(),
            jaeger: JaegerConfig::default(),
            prometheus: PrometheusConfig::default(),
            grafana: GrafanaConfig::default(),
            services: ServiceConfig::defaults(),
            apps: Vec::new(),
            console: ConsoleConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

/// How spans travel from the services to Jaeger.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Topology {
    /// Services export to the Collector, which exports to Jaeger.
    #[default]
    Collector,
    /// No Collector: services export straight to Jaeger on 4317/4318.
    Direct,
}

/// Which Jaeger binary and configuration style to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JaegerFlavour {
    /// `jaeger` (v2), configured by a rendered YAML file.
    #[default]
    V2,
    /// `jaeger-all-in-one` (v1, end of life 2025-12-31), configured by flags.
    V1,
}

/// Where Jaeger keeps traces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JaegerStorage {
    /// Badger, an embedded on-disk store, under the state dir's `data/jaeger`.
    #[default]
    Badger,
    /// Memory: fastest, bounded by `max_traces`, lost on every restart.
    Memory,
}

/// The OpenTelemetry Collector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorConfig {
    /// Start this component with the stack.
    pub enabled: bool,
    /// An explicit binary; when unset the managed dir and then `PATH` are searched.
    pub binary: Option<PathBuf>,
    /// The Collector release (`obsdemo install` builds or fetches it).
    pub version: Version,
    /// The Collector's listeners.
    pub ports: CollectorPorts,
    /// The hostmetrics receiver that feeds Prometheus.
    pub hostmetrics: HostMetricsConfig,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            binary: None,
            version: Version::new("0.165.0").expect("a release number"),
            ports: CollectorPorts::default(),
            hostmetrics: HostMetricsConfig::default(),
        }
    }
}

/// The Collector's listeners.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorPorts {
    /// OTLP over gRPC: where the services send spans.
    pub otlp_grpc: u16,
    /// OTLP over HTTP.
    pub otlp_http: u16,
    /// The Prometheus exporter carrying host metrics.
    pub prometheus_exporter: u16,
    /// The Collector's own metrics.
    pub metrics: u16,
    /// The health_check extension.
    pub health: u16,
}

impl Default for CollectorPorts {
    fn default() -> Self {
        Self { otlp_grpc: 4317, otlp_http: 4318, prometheus_exporter: 8889, metrics: 8888, health: 13133 }
    }
}

/// The hostmetrics receiver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostMetricsConfig {
    /// How often the host is sampled.
    pub interval: HumanDuration,
    /// Which scrapers run.
    pub scrapers: Vec<HostScraper>,
}

impl Default for HostMetricsConfig {
    fn default() -> Self {
        Self { interval: HumanDuration::from_secs(10), scrapers: HostScraper::ALL.to_vec() }
    }
}

/// One scraper of the hostmetrics receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostScraper {
    /// CPU time and utilization per state and core.
    Cpu,
    /// Memory usage by state.
    Memory,
    /// Disk I/O per device.
    Disk,
    /// Filesystem usage per mountpoint.
    Filesystem,
    /// Network traffic per interface and connections.
    Network,
    /// Load average.
    Load,
    /// Paging and swap.
    Paging,
    /// Process counts.
    Processes,
}

impl HostScraper {
    /// Every scraper, in the order the dashboards show them.
    pub const ALL: [HostScraper; 8] = [
        Self::Cpu,
        Self::Memory,
        Self::Disk,
        Self::Filesystem,
        Self::Network,
        Self::Load,
        Self::Paging,
        Self::Processes,
    ];
}

/// Jaeger, v2 or v1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JaegerConfig {
    /// Start this component with the stack.
    pub enabled: bool,
    /// An explicit binary; when unset the managed dir and then `PATH` are searched.
    pub binary: Option<PathBuf>,
    /// The Jaeger release; v2 2.13.0 and v1 1.76.0 come from the same source tree.
    pub version: Version,
    /// `v2` (default) or `v1`.
    pub flavour: JaegerFlavour,
    /// Where traces are kept: `badger` (default; on disk in the state dir, so they
    /// survive a restart) or `memory`.
    pub storage: JaegerStorage,
    /// How long traces are kept on disk; unset, it follows `prometheus.retention`, so
    /// traces and host metrics cover the same window.
    pub retention: Option<HumanDuration>,
    /// Traces kept in memory before the oldest are dropped (`storage = "memory"` only).
    pub max_traces: u32,
    /// Jaeger's listeners.
    pub ports: JaegerPorts,
}

impl Default for JaegerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            binary: None,
            version: Version::new("1.76.0").expect("a release number"),
            flavour: JaegerFlavour::V2,
            storage: JaegerStorage::Badger,
            retention: None,
            max_traces: 100_000,
            ports: JaegerPorts::default(),
        }
    }
}

/// Jaeger's listeners. The OTLP pair sits on 14317/14318 because the Collector owns
/// 4317/4318; in the `direct` topology Jaeger takes the Collector's OTLP ports instead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JaegerPorts {
    /// UI and HTTP query API.
    pub ui: u16,
    /// gRPC query API.
    pub query_grpc: u16,
    /// OTLP over gRPC (the Collector exports here).
    pub otlp_grpc: u16,
    /// OTLP over HTTP.
    pub otlp_http: u16,
    /// Zipkin.
    pub zipkin: u16,
    /// Jaeger's own gRPC span intake.
    pub grpc: u16,
    /// Jaeger's HTTP span intake (`--collector.http-server.host-port`).
    pub collector_http: u16,
    /// v1 admin server: health and metrics.
    pub admin: u16,
    /// v2 health check.
    pub health: u16,
    /// v2 own metrics.
    pub metrics: u16,
}

impl Default for JaegerPorts {
    fn default() -> Self {
        Self {
            ui: 16686,
            query_grpc: 16685,
            otlp_grpc: 14317,
            otlp_http: 14318,
            zipkin: 9411,
            grpc: 14250,
            collector_http: 14271,
            admin: 14269,
            health: 13134,
            metrics: 8887,
        }
    }
}

/// Prometheus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusConfig {
    /// Start this component with the stack.
    pub enabled: bool,
    /// An explicit binary; when unset the managed dir and then `PATH` are searched.
    pub binary: Option<PathBuf>,
    /// The Prometheus release `obsdemo install` fetches.
    pub version: Version,
    /// How often the Collector's exporter is scraped.
    pub scrape_interval: HumanDuration,
    /// How long samples are kept.
    pub retention: HumanDuration,
    /// Prometheus's listeners.
    pub ports: PrometheusPorts,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            binary: None,
            version: Version::new("3.5.0").expect("a release number"),
            scrape_interval: HumanDuration::from_secs(5),
            retention: HumanDuration::from_secs(24 * 3600),
            ports: PrometheusPorts::default(),
        }
    }
}

/// Prometheus's listeners.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusPorts {
    /// UI and API.
    pub http: u16,
}

impl Default for PrometheusPorts {
    fn default() -> Self {
        Self { http: 9090 }
    }
}

/// Metrics beyond the host's system resources.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// RED metrics (rate, errors, duration per service and operation) from the spans:
    /// the Collector's spanmetrics connector feeds Prometheus, and Jaeger's Monitor tab
    /// reads them. Off by default: the plan asks for system metrics only.
    pub red: bool,
}

/// The console: one page, served while the stack runs, over the stack, its apps,
/// logs, load runs and doctor. Every request needs the stack's token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Serve it with the stack.
    pub enabled: bool,
    /// Its listener.
    pub ports: ConsolePorts,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self { enabled: true, ports: ConsolePorts::default() }
    }
}

/// The console's listener.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsolePorts {
    /// The page and its API.
    pub http: u16,
}

impl Default for ConsolePorts {
    fn default() -> Self {
        Self { http: 16600 }
    }
}

/// Grafana.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrafanaConfig {
    /// Start this component with the stack.
    pub enabled: bool,
    /// An explicit binary (`grafana` or `grafana-server`).
    pub binary: Option<PathBuf>,
    /// Grafana's home (its `public/` and `conf/`); found next to the binary when unset.
    pub homepath: Option<PathBuf>,
    /// The Grafana OSS release `obsdemo install` fetches.
    pub version: Version,
    /// Let visitors in as viewers without logging in.
    pub anonymous: bool,
    /// Confirms `anonymous` with a bind off loopback: anyone on the network then sees
    /// the dashboards without logging in. Refused unless set.
    pub anonymous_on_network: bool,
    /// Grafana's listeners.
    pub ports: GrafanaPorts,
}

impl Default for GrafanaConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            binary: None,
            homepath: None,
            version: Version::new("12.2.1").expect("a release number"),
            anonymous: false,
            anonymous_on_network: false,
            ports: GrafanaPorts::default(),
        }
    }
}

/// Grafana's listeners.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrafanaPorts {
    /// UI and API.
    pub http: u16,
}

impl Default for GrafanaPorts {
    fn default() -> Self {
        Self { http: 3000 }
    }
}

/// What a demo service does; decides its API and whom it calls for what.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    /// `POST /orders`, `GET /orders/{id}`: reserves stock, charges, books shipping.
    Order,
    /// `POST /charges`: authorizes a payment (errors are declined cards).
    Payment,
    /// `POST /reservations`: reserves stock.
    Inventory,
    /// `POST /shipments`: books a shipment and notifies the customer.
    Shipping,
    /// `POST /notifications`: sends a notification.
    Notification,
}

/// One demo microservice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Its `service.name`, exactly as traces show it.
    pub name: String,
    /// What it does.
    pub kind: ServiceKind,
    /// Its HTTP port.
    pub port: u16,
    /// The services it calls, by name.
    #[serde(default)]
    pub calls: Vec<String>,
    /// Simulated work time of each request.
    #[serde(default)]
    pub latency: Option<HumanDuration>,
    /// Share of requests that fail (0.0 to 1.0); for Payment these are declined cards.
    #[serde(default)]
    pub error_rate: f64,
    /// Start this service with the stack.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl ServiceConfig {
    /// The original plan's five services.
    pub fn defaults() -> Vec<Self> {
        let service = |name: &str, kind, port, calls: &[&str], latency_ms: u64| ServiceConfig {
            name: name.into(),
            kind,
            port,
            calls: calls.iter().map(|c| c.to_string()).collect(),
            latency: Some(HumanDuration::from_millis(latency_ms)),
            error_rate: 0.0,
            enabled: true,
        };
        vec![
            service(
                "Order-service",
                ServiceKind::Order,
                8001,
                &["Inventory-service", "Payment-service", "Shipping-service"],
                2,
            ),
            service("Payment-service", ServiceKind::Payment, 8002, &[], 5),
            service("Inventory-service", ServiceKind::Inventory, 8003, &[], 3),
            service("Shipping-service", ServiceKind::Shipping, 8004, &["Notification-service"], 4),
            service("Notification-service", ServiceKind::Notification, 8005, &[], 1),
        ]
    }
}

/// One of the user's own processes: a Django service, say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Its name: the `service.name` its spans get (`OTEL_SERVICE_NAME`), its log file,
    /// and what `--without`, `logs` and `status` call it.
    pub name: String,
    /// The program and its arguments. `{port.NAME}` becomes this app's port NAME,
    /// `{app.OTHER.port.NAME}` another app's, `{host}` the stack's host.
    pub command: Vec<String>,
    /// Where it runs; relative to the stack file's directory.
    #[serde(default)]
    pub workdir: Option<std::path::PathBuf>,
    /// Extra environment (same placeholders). A standard `OTEL_*` variable set here
    /// wins over the one obsdemo would set.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Its listeners by name (`http = 8101`); they join the port plan and its checks.
    #[serde(default)]
    pub ports: BTreeMap<String, u16>,
    /// What must answer for it to count as ready; without one it is ready once started.
    #[serde(default)]
    pub health: Option<AppHealth>,
    /// Components or apps that must be ready before it starts (the span intake always is).
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// When to start it again after it exits.
    #[serde(default)]
    pub restart: RestartMode,
    /// Restarts after which it is marked failed.
    #[serde(default = "default_max_restarts")]
    pub max_restarts: u32,
    /// Start it with the stack.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The container image that holds it, for `obsdemo export kubernetes`; an app
    /// without one stays out of the exported manifests.
    #[serde(default)]
    pub image: Option<String>,
    /// The OTLP transport its SDK speaks, so obsdemo points it at the matching intake:
    /// `grpc` or `http`. When unset: what its `env` says in
    /// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL`, else gRPC.
    #[serde(default)]
    pub otlp: Option<OtlpProtocol>,
}

impl AppConfig {
    /// The transport obsdemo points this app's SDK at.
    pub fn protocol(&self) -> OtlpProtocol {
        let declared = || {
            ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"]
                .iter()
                .find_map(|key| OtlpProtocol::from_sdk_setting(self.env.get(*key)?))
        };
        self.otlp.or_else(declared).unwrap_or(OtlpProtocol::Grpc)
    }
}

/// The two transports of OTLP, each with its own intake port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtlpProtocol {
    /// OTLP over gRPC (port 4317 by default).
    Grpc,
    /// OTLP over HTTP, protobuf-encoded (port 4318 by default).
    Http,
}

impl OtlpProtocol {
    /// Reads an SDK's `OTEL_EXPORTER_OTLP_PROTOCOL` value (`grpc`, `http/protobuf`,
    /// `http/json`; opentelemetry-specification `protocol/exporter.md`).
    pub fn from_sdk_setting(value: &str) -> Option<Self> {
        match value.trim() {
            "grpc" => Some(Self::Grpc),
            v if v.starts_with("http") => Some(Self::Http),
            _ => None,
        }
    }

    /// Its name as an app's `otlp` key takes it: `grpc` or `http`.
    pub fn setting_name(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::Http => "http",
        }
    }

    /// The value of `OTEL_EXPORTER_OTLP_PROTOCOL` that selects it.
    pub fn sdk_setting(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::Http => "http/protobuf",
        }
    }

    /// The intake's name among the running stack's endpoints, and the placeholder
    /// (`{otlp.grpc}`, `{otlp.http}`) an app's `env` and `command` may use for it.
    pub const fn endpoint_name(self) -> &'static str {
        match self {
            Self::Grpc => "otlp.grpc",
            Self::Http => "otlp.http",
        }
    }

    /// The intake's listener name, as components name their ports.
    pub fn port_name(self) -> &'static str {
        match self {
            Self::Grpc => "otlp_grpc",
            Self::Http => "otlp_http",
        }
    }
}

fn default_max_restarts() -> u32 {
    5
}

/// An app's readiness and health check: exactly one of `http` (a path, asked on the
/// port `port`, by default its first) or `tcp` (a port name to connect to).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppHealth {
    /// `GET` this path; healthy on a 2xx answer.
    #[serde(default)]
    pub http: Option<String>,
    /// Connect to this port (by name).
    #[serde(default)]
    pub tcp: Option<String>,
    /// The port (by name) the `http` check asks; the app's first port when unset.
    #[serde(default)]
    pub port: Option<String>,
}

/// When a process that exited is started again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartMode {
    /// After it exits with an error or a signal (default).
    #[default]
    OnFailure,
    /// After every exit, even a clean one.
    Always,
    /// Never: an exit is final.
    Never,
}
