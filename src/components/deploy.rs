//! How a component runs in a Kubernetes cluster, as each component says beside how it
//! is spawned ([`super::Component::workloads`]). The description is neutral of the
//! manifest format: `crate::export::kubernetes` turns it into objects.
//!
//! In a container every file sits where it sits in a state dir rooted at
//! [`CLUSTER_ROOT`], so the configs rendered for the cluster are the same templates,
//! rendered from the same plan, with only addresses (Service names instead of the
//! loopback host) and the bind address (every interface of the pod) changed.

use std::path::PathBuf;

use super::{ComponentId, Overrides, PlanError, StackPlan};
use crate::health::Probe;
use crate::render::Site;
use crate::stack::{JaegerFlavour, StackConfig, StatePaths, Topology};

/// The state dir as every container sees it: rendered configs below `rendered/`
/// (ConfigMaps), data below `data/` (volumes), secrets below `secrets/`.
pub const CLUSTER_ROOT: &str = "/var/lib/obsdemo";

/// The layout of the state dir inside every container.
pub fn cluster_paths() -> StatePaths {
    StatePaths::new(CLUSTER_ROOT)
}

/// The plan of `config` as it runs in a cluster, with what was changed to get there:
/// listeners on every interface of their pod (a Service fronts them), Jaeger v2 and
/// the Collector always (the agent/gateway split needs it).
pub fn cluster_plan(mut config: StackConfig, overrides: &Overrides) -> Result<(StackPlan, Vec<String>), PlanError> {
    let mut changed = Vec::new();
    if config.jaeger.flavour == JaegerFlavour::V1 {
        config.jaeger.flavour = JaegerFlavour::V2;
        changed.push("Jaeger runs as v2 in the cluster (v1's all-in-one has no config file to ship)".to_owned());
    }
    if config.topology == Topology::Direct {
        config.topology = Topology::Collector;
        changed.push("the Collector is kept: in the cluster it is the agent on each node and the gateway".to_owned());
    }
    config.bind = std::net::Ipv4Addr::UNSPECIFIED.into();
    // The console shows a stack obsdemo's supervisor runs on this machine; in a
    // cluster there is none, and `kubectl` is the console.
    config.console.enabled = false;
    let overrides = Overrides { state_dir: Some(CLUSTER_ROOT.into()), ..overrides.clone() };
    let plan = StackPlan::new(config, &overrides, std::path::Path::new("/"))?;
    Ok((plan, changed))
}

/// The host name by which a component is reached from another one at `site`.
pub fn peer_host(plan: &StackPlan, site: Site, id: &ComponentId) -> String {
    match site {
        Site::Local => plan.host(),
        Site::Cluster => service_name(id),
    }
}

/// `http://HOST:PORT` of `id`'s listener `port`, as a peer at `site` reaches it.
pub fn peer_url(plan: &StackPlan, site: Site, id: &ComponentId, port: &str) -> String {
    format!("http://{}:{}", peer_host(plan, site, id), plan.port(id, port))
}

/// obsdemo's own image, which runs the demo services (the repository's Dockerfile);
/// `export kubernetes --services-image` names another.
pub fn own_image() -> String {
    format!("obsdemo:{}", env!("CARGO_PKG_VERSION"))
}

/// The names of every listener of `id` in `plan`.
pub fn listeners_of(plan: &StackPlan, id: &ComponentId) -> Vec<String> {
    plan.listeners.iter().filter(|l| &l.component == id).map(|l| l.name.clone()).collect()
}

/// The Kubernetes name of `id`'s Service: its name in lower case, `_` and `.` as `-`.
/// The Collector's Service is its gateway's (spans go there).
pub fn service_name(id: &ComponentId) -> String {
    match id {
        ComponentId::Collector => COLLECTOR_GATEWAY.to_owned(),
        _ => object_name(id.name()),
    }
}

/// The Collector's Deployment and Service: OTLP in from the services, out to Jaeger.
pub const COLLECTOR_GATEWAY: &str = "collector-gateway";
/// The Collector's DaemonSet: host metrics of every node.
pub const COLLECTOR_AGENT: &str = "collector-agent";

/// `name` as a Kubernetes object name (lower case; `_` and `.` become `-`). Whether
/// the result is a valid name is checked where objects are made.
pub fn object_name(name: &str) -> String {
    name.chars().map(|c| if c == '_' || c == '.' { '-' } else { c.to_ascii_lowercase() }).collect()
}

/// A listener's name as a Kubernetes port name (at most 15 characters, `-` not `_`).
pub fn port_name(listener: &str) -> String {
    match listener {
        // The only built-in listener name longer than a port name may be. The agent's
        // serves host metrics, the gateway's RED metrics: named for what both are.
        "prometheus_exporter" => "prom-exporter".to_owned(),
        other => other.replace('_', "-").to_ascii_lowercase(),
    }
}

/// One workload of a component in a cluster: a Deployment of one pod, or a pod on
/// every node.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Its object name (and its Service's, when it has one).
    pub name: String,
    /// The component it runs.
    pub component: ComponentId,
    /// One pod, or one per node.
    pub placement: Placement,
    /// The container image, without a registry prefix.
    pub image: String,
    /// The container's command, when not the image's entrypoint.
    pub command: Vec<String>,
    /// Arguments to the entrypoint (or to `command`).
    pub args: Vec<String>,
    /// Environment.
    pub env: Vec<Env>,
    /// The listeners (of the plan, by name) the container serves.
    pub ports: Vec<String>,
    /// Whether a Service fronts those ports (when it has any).
    pub service: bool,
    /// Rendered files the container reads, relative to the rendered dir; a directory
    /// stands for every file below it.
    pub files: Vec<PathBuf>,
    /// Volumes besides the rendered files.
    pub volumes: Vec<Volume>,
    /// Readiness checks, as `up` waits for them (liveness uses the first).
    pub probes: Vec<Probe>,
    /// The user id it runs as; `None` keeps the image's (still refused if root).
    pub user: Option<u32>,
    /// Whether its root filesystem can be read-only.
    pub read_only_root: bool,
    /// What the scheduler reserves for it, and the memory it may not pass.
    pub resources: Resources,
    /// Whether it lists and watches the pods of its namespace (Prometheus's service
    /// discovery): it gets a ServiceAccount and the least Role that allows it.
    pub discovers_pods: bool,
}

impl Workload {
    /// A Deployment of `image` for `component`, named `name`, with safe defaults:
    /// read-only root, small resources, no ports, files or volumes yet.
    pub fn new(name: impl Into<String>, component: &ComponentId, image: String) -> Self {
        Self {
            name: name.into(),
            component: component.clone(),
            placement: Placement::Deployment,
            image,
            command: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            ports: Vec::new(),
            service: true,
            files: Vec::new(),
            volumes: Vec::new(),
            probes: Vec::new(),
            user: None,
            read_only_root: true,
            resources: Resources::SMALL,
            discovers_pods: false,
        }
    }
}

/// How many pods of a workload run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// One pod, replaced on failure (a Deployment).
    Deployment,
    /// One pod on every node (a DaemonSet).
    EveryNode,
}

/// One environment variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Env {
    /// A fixed value.
    Value(String, String),
    /// A field of the pod itself (downward API): `spec.nodeName`, `metadata.name`.
    FromPod(String, &'static str),
}

/// `K8S_NODE_NAME`: the node a pod runs on.
pub fn node_name_env() -> Env {
    Env::FromPod("K8S_NODE_NAME".into(), "spec.nodeName")
}

/// The pod's namespace, name and node as variables, then `OTEL_RESOURCE_ATTRIBUTES`
/// holding them as resource attributes beside `attributes` (`key=value,...`): a span
/// then names the pod that made it, as the OpenTelemetry Operator's injection does.
/// Kubernetes expands `$(VAR)` of variables defined before.
pub fn pod_resource_env(attributes: &str) -> Vec<Env> {
    let k8s = "k8s.namespace.name=$(K8S_NAMESPACE),k8s.pod.name=$(K8S_POD_NAME),k8s.node.name=$(K8S_NODE_NAME)";
    let value = if attributes.is_empty() { k8s.to_owned() } else { format!("{attributes},{k8s}") };
    vec![
        Env::FromPod("K8S_NAMESPACE".into(), "metadata.namespace"),
        Env::FromPod("K8S_POD_NAME".into(), "metadata.name"),
        node_name_env(),
        Env::Value("OTEL_RESOURCE_ATTRIBUTES".into(), value),
    ]
}

impl Env {
    /// Fixed values from `(name, value)` pairs, as [`super::CommandLine::env`] holds them.
    pub fn values(pairs: Vec<(String, String)>) -> Vec<Env> {
        pairs.into_iter().map(|(k, v)| Env::Value(k, v)).collect()
    }
}

/// A volume of a workload, with where it is mounted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Volume {
    /// Storage that outlives the pod (a PersistentVolumeClaim of `size`).
    Claim {
        /// The claim's name.
        name: String,
        /// Where it is mounted.
        path: PathBuf,
        /// How much to ask for (`10Gi`).
        size: String,
    },
    /// Scratch space that lives as long as the pod (survives container restarts).
    Scratch {
        /// The volume's name.
        name: String,
        /// Where it is mounted.
        path: PathBuf,
    },
    /// A directory of the node, read-only.
    Host {
        /// The volume's name.
        name: String,
        /// The node's directory.
        host: PathBuf,
        /// Where it is mounted.
        path: PathBuf,
    },
    /// A generated secret, one file `key` below `path`; made once, kept on re-export.
    GeneratedSecret {
        /// The Secret's name.
        name: String,
        /// The file (and key) holding it.
        key: String,
        /// The directory it is mounted at.
        path: PathBuf,
    },
}

/// Requests and a memory limit. No CPU limit: throttling a Go server's garbage
/// collector turns a busy second into seconds of latency; the request reserves its
/// share, and memory is what must be bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resources {
    /// CPU reserved (`100m`).
    pub cpu: &'static str,
    /// Memory reserved (`128Mi`).
    pub memory: &'static str,
    /// Memory it may not pass.
    pub memory_limit: &'static str,
}

impl Resources {
    /// A demo service or an agent.
    pub const SMALL: Resources = Resources { cpu: "50m", memory: "64Mi", memory_limit: "256Mi" };
}
