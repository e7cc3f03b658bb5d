//! `obsdemo export kubernetes`: the stack of one `stack.toml` as Kubernetes manifests.
//!
//! The same plan `up` runs, adapted by [`deploy::cluster_plan`], and the same templates
//! rendered for the cluster ([`crate::render::Site::Cluster`]); each component says how
//! it runs there ([`crate::components::Component::workloads`]), and [`objects`] turns
//! that into objects: one file per workload, with a `kustomization.yaml`, written below
//! a kustomization of the user's own ([`output`]), so a user patches rather than edits.

pub mod names;
mod objects;
mod output;

pub use output::{BASE, kept_secrets, write};

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::components::deploy::{self, Volume, Workload};
use crate::components::{ComponentId, StackPlan};
use crate::render::RenderError;
use names::dns_label_problem;

/// The first line of every file obsdemo writes: what made it, and how to change it.
const HEADER: &str =
    "# Written by `obsdemo export kubernetes`, which rewrites it: patch it from ../kustomization.yaml.\n";

/// The choices of the command line.
#[derive(Clone, Debug)]
pub struct Options {
    /// The namespace of every object.
    pub namespace: String,
    /// Registry (and path) in front of every upstream image: `docker.io`, or a mirror.
    pub image_prefix: String,
    /// The image that runs the demo services.
    pub services_image: String,
}

impl Default for Options {
    fn default() -> Self {
        Self { namespace: "obsdemo".into(), image_prefix: "docker.io".into(), services_image: deploy::own_image() }
    }
}

/// One file of the export.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// Its file name.
    pub file: String,
    /// Its objects, in apply order.
    pub objects: Vec<Value>,
    /// Whether it holds a secret (written with mode 0600).
    pub secret: bool,
}

impl Manifest {
    /// Its text: the header, then one YAML document per object.
    pub fn text(&self) -> Result<String, ExportError> {
        let docs: Result<Vec<String>, ExportError> = self.objects.iter().map(to_yaml).collect();
        Ok(format!("{HEADER}{}", docs?.join("---\n")))
    }
}

/// What an export made, and what it had to change or leave out to get there.
#[derive(Clone, Debug)]
pub struct Export {
    /// Every file, the namespace first.
    pub manifests: Vec<Manifest>,
    /// What differs from the stack on this machine, and what was left out, for the user.
    pub notes: Vec<String>,
}

impl Export {
    /// The `kustomization.yaml` listing every file.
    pub fn kustomization(&self, options: &Options) -> Result<String, ExportError> {
        let resources: Vec<&str> = self.manifests.iter().map(|m| m.file.as_str()).collect();
        let k = json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": options.namespace,
            "resources": resources,
        });
        Ok(format!("{HEADER}{}", to_yaml(&k)?))
    }

    /// Every object, in apply order.
    pub fn objects(&self) -> impl Iterator<Item = &Value> {
        self.manifests.iter().flat_map(|m| &m.objects)
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A name Kubernetes would refuse.
    #[error("{what}: `{name}` is not a name Kubernetes accepts: it {why}")]
    BadName {
        /// Whose name.
        what: String,
        /// The name.
        name: String,
        /// The rule it breaks.
        why: String,
    },
    /// Something of the plan has no counterpart in a cluster.
    #[error("{0}")]
    Unmapped(String),
    /// A config did not render.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// An object did not serialize.
    #[error("cannot write an object as YAML: {0}")]
    Yaml(String),
    /// The output directory is in the way.
    #[error("{path}: {why}")]
    Output {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

impl crate::error::HasKind for ExportError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            Self::BadName { .. } | Self::Unmapped(_) => crate::error::ErrorKind::InvalidInput,
            Self::Output { .. } => crate::error::ErrorKind::Conflict,
            Self::Render(_) | Self::Yaml(_) => crate::error::ErrorKind::Failure,
        }
    }
}

/// The manifests of `plan` (made by [`deploy::cluster_plan`]). `kept` holds secrets
/// of an earlier export by (Secret name, key), reused so a re-export changes no
/// password.
pub fn export(
    plan: &StackPlan,
    options: &Options,
    kept: &BTreeMap<(String, String), String>,
) -> Result<Export, ExportError> {
    if let Some(why) = dns_label_problem(&options.namespace) {
        return Err(bad_name("the namespace", &options.namespace, why));
    }
    let files = crate::components::launch::render_for_cluster(plan)?;
    let cx = objects::Context { namespace: &options.namespace, plan, files: &files };

    let mut notes = Vec::new();
    let namespace = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": options.namespace, "labels": { "app.kubernetes.io/part-of": "obsdemo" } },
    });
    let mut manifests = vec![Manifest { file: "namespace.yaml".into(), objects: vec![namespace], secret: false }];
    let mut names: BTreeMap<String, ComponentId> = BTreeMap::new();
    for id in plan.enabled() {
        let workloads = id.kind().workloads(plan, &id);
        if workloads.is_empty() {
            match &id {
                ComponentId::App(name) => {
                    notes.push(format!("app `{name}` names no `image` in stack.toml, so it is not in the export"));
                    continue;
                }
                _ => return Err(ExportError::Unmapped(format!("{id} has no container image for its version"))),
            }
        }
        for w in workloads {
            if let Some(why) = dns_label_problem(&w.name) {
                return Err(bad_name(&format!("{id} (its Kubernetes name)"), &w.name, why));
            }
            if let Some(other) = names.insert(w.name.clone(), id.clone()) {
                return Err(ExportError::Unmapped(format!(
                    "{other} and {id} would both be called `{}` in the cluster: rename one in stack.toml",
                    w.name
                )));
            }
            let w = in_container(w);
            let image = image(&w, options);
            manifests.push(Manifest {
                file: format!("{}.yaml", w.name),
                objects: objects::objects(&w, &image, &cx)?,
                secret: false,
            });
            for v in &w.volumes {
                if let Volume::GeneratedSecret { name, key, .. } = v {
                    let value = kept
                        .get(&(name.clone(), key.clone()))
                        .cloned()
                        .unwrap_or_else(|| crate::stack::paths::random_token(24));
                    manifests.push(Manifest {
                        file: format!("{name}.secret.yaml"),
                        objects: vec![objects::secret(name, key, &value, &w, &cx)],
                        secret: true,
                    });
                }
            }
        }
    }
    Ok(Export { manifests, notes })
}

/// The image `w` runs: obsdemo's own as chosen, the user's as written, an upstream
/// one behind the registry prefix.
fn image(w: &Workload, options: &Options) -> String {
    if w.image == deploy::own_image() {
        options.services_image.clone()
    } else if matches!(w.component, ComponentId::App(_)) {
        w.image.clone()
    } else {
        match options.image_prefix.trim_end_matches('/') {
            // No registry: the runtime's own default (Docker Hub for most).
            "" => w.image.clone(),
            prefix => format!("{prefix}/{}", w.image),
        }
    }
}

/// `w` with the paths in the arguments and environment of obsdemo's own components
/// `/`-separated: they were joined by this machine's rules and are read in a Linux
/// container. An app's command line is the user's text and stays as written.
fn in_container(mut w: Workload) -> Workload {
    if cfg!(windows) && !matches!(w.component, ComponentId::App(_)) {
        let unix = |s: &mut String| *s = s.replace('\\', "/");
        w.args.iter_mut().for_each(unix);
        for e in &mut w.env {
            if let deploy::Env::Value(_, value) = e {
                unix(value);
            }
        }
    }
    w
}

fn bad_name(what: &str, name: &str, why: &str) -> ExportError {
    ExportError::BadName { what: what.to_owned(), name: name.to_owned(), why: why.to_owned() }
}

/// `value` as one YAML document ending in a newline, with the keys a reader looks
/// for first (`apiVersion`, `kind`, `metadata`, `name`) first and the rest sorted.
fn to_yaml(value: &Value) -> Result<String, ExportError> {
    let mut options = serde_saphyr::SerializerOptions::default();
    // Multi-line text (a config) as a literal block; a long line stays one plain line,
    // not a folded block a reader must unfold in their head.
    options.folded_wrap_chars = usize::MAX;
    let mut text = serde_saphyr::to_string_with_options(&KubernetesOrder(value), options)
        .map_err(|e| ExportError::Yaml(e.to_string()))?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// Serializes a JSON value with Kubernetes' customary key order.
struct KubernetesOrder<'a>(&'a Value);

impl serde::Serialize for KubernetesOrder<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        const FIRST: [&str; 4] = ["apiVersion", "kind", "metadata", "name"];
        match self.0 {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_by_key(|k| (FIRST.iter().position(|f| f == k).unwrap_or(FIRST.len()), k.as_str()));
                let mut out = serializer.serialize_map(Some(keys.len()))?;
                for k in keys {
                    out.serialize_entry(k, &KubernetesOrder(&map[k]))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&KubernetesOrder(item))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::components::Overrides;
    use crate::golden::golden;
    use crate::stack::StackConfig;

    /// The shipped stack plus one app with an image, with a fixed password.
    fn sample() -> (Export, Options) {
        let apps = toml::from_str::<StackConfig>(
            r#"
            [[apps]]
            name = "Django-shop"
            image = "registry.example.com/shop:1.4"
            command = ["python", "manage.py", "runserver", "{host}:{port.http}", "--noreload"]
            ports = { http = 8101 }
            health = { http = "/healthz" }
            "#,
        )
        .expect("apps parse")
        .apps;
        let config = StackConfig { apps, ..StackConfig::default() };
        let (plan, _) = deploy::cluster_plan(config, &Overrides::default()).expect("plan");
        let options = Options::default();
        let kept =
            BTreeMap::from([(("grafana-admin".into(), "grafana-admin-password".into()), "golden-password".into())]);
        (export(&plan, &options, &kept).expect("export"), options)
    }

    #[test]
    fn an_app_that_speaks_otlp_over_http_is_given_the_gateways_http_intake() {
        let apps = toml::from_str::<StackConfig>(
            r#"
            [[apps]]
            name = "dispatch"
            image = "registry.example.com/dispatch:1"
            command = ["dispatch", "--otlp={otlp.grpc}"]
            otlp = "http"
            "#,
        )
        .expect("apps parse")
        .apps;
        let config = StackConfig { apps, ..StackConfig::default() };
        let (plan, _) = deploy::cluster_plan(config, &Overrides::default()).expect("plan");
        let export = export(&plan, &Options::default(), &BTreeMap::new()).expect("export");
        let app = export.objects().find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "dispatch").unwrap();
        let container = &app["spec"]["template"]["spec"]["containers"][0];
        let env = |name: &str| {
            let vars = container["env"].as_array().unwrap();
            vars.iter().find(|e| e["name"] == name).map(|e| e["value"].as_str().unwrap().to_owned()).unwrap()
        };
        assert_eq!(env("OTEL_EXPORTER_OTLP_ENDPOINT"), "http://collector-gateway:4318");
        assert_eq!(env("OTEL_EXPORTER_OTLP_PROTOCOL"), "http/protobuf");
        assert_eq!(container["command"][1], "--otlp=http://collector-gateway:4317");
    }

    #[test]
    fn the_shipped_stack_exports_as_the_golden_manifests() {
        let (export, options) = sample();
        for m in &export.manifests {
            golden("kubernetes", Path::new(&m.file), &m.text().expect("text"));
        }
        golden("kubernetes", Path::new("kustomization.yaml"), &export.kustomization(&options).expect("kustomization"));
    }

    #[test]
    fn images_are_the_versions_obsdemo_install_downloads() {
        let (export, _) = sample();
        let images: Vec<String> = export
            .objects()
            .filter_map(|o| o["spec"]["template"]["spec"]["containers"][0]["image"].as_str().map(str::to_owned))
            .collect();
        let table = crate::install::releases::table();
        let release = |component: &str, binary: &str| {
            table[component].artifacts.iter().find(|a| a.binary == binary).expect("artifact").release.clone()
        };
        for wanted in [
            format!("docker.io/otel/opentelemetry-collector-contrib:{}", release("collector", "otelcol-contrib")),
            format!("docker.io/jaegertracing/jaeger:{}", release("jaeger", "jaeger")),
            format!("docker.io/prom/prometheus:v{}", release("prometheus", "prometheus")),
            format!("docker.io/grafana/grafana:{}", release("grafana", "grafana")),
            deploy::own_image(),
        ] {
            assert!(images.contains(&wanted), "{wanted} is among {images:?}");
        }
    }

    #[test]
    fn the_image_prefix_names_a_mirror_or_nothing() {
        let w = Workload::new("jaeger", &ComponentId::Jaeger, "jaegertracing/jaeger:2.13.0".into());
        let with = |prefix: &str| image(&w, &Options { image_prefix: prefix.into(), ..Options::default() });
        assert_eq!(with("docker.io"), "docker.io/jaegertracing/jaeger:2.13.0");
        assert_eq!(with("registry.example.com/mirror/"), "registry.example.com/mirror/jaegertracing/jaeger:2.13.0");
        assert_eq!(with(""), "jaegertracing/jaeger:2.13.0");
        let own = Workload::new("order-service", &ComponentId::Service("Order-service".into()), deploy::own_image());
        let options = Options { services_image: "registry.example.com/obsdemo:9".into(), ..Options::default() };
        assert_eq!(image(&own, &options), "registry.example.com/obsdemo:9", "the services' image is taken as given");
    }

    #[test]
    fn manifests_parse_back_to_the_objects() {
        let (export, _) = sample();
        for m in &export.manifests {
            let text = m.text().expect("text");
            let parsed: Vec<Value> = serde_saphyr::from_multiple(&text).expect("parses");
            assert_eq!(parsed, m.objects, "{}", m.file);
        }
    }
}
