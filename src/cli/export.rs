//! `obsdemo export kubernetes`: the stack as Kubernetes manifests, written into a
//! directory with a `kustomization.yaml`, or printed.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::exit::Code;
use super::{Global, PlanArgs};
use crate::components::Overrides;
use crate::export::kubernetes::Options;
use crate::ops::export::Destination;

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    target: Target,
}

/// The engines the stack can be exported to.
#[derive(Debug, Subcommand)]
enum Target {
    /// Manifests for a Kubernetes cluster: the Collector as an agent on every node and a
    /// gateway, Jaeger and Prometheus on volumes, Grafana, the demo services, and your
    /// apps that name an `image`.
    #[command(after_help = "Examples:
  obsdemo export kubernetes --out k8s && kubectl apply -k k8s
  obsdemo export kubernetes --namespace demo --image-prefix registry.example.com/mirror
  obsdemo export kubernetes --out - | kubectl apply --dry-run=server -f -

What it does not do: no Ingress and no TLS; reach the UIs with `kubectl port-forward`.")]
    Kubernetes(KubernetesArgs),
}

/// Arguments of `export kubernetes`.
#[derive(Debug, Args)]
struct KubernetesArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// The directory to write (with a kustomization.yaml), or `-` for one YAML stream
    /// on stdout.
    #[arg(long, value_name = "DIR | -", default_value = "obsdemo-kubernetes")]
    out: PathBuf,
    /// The namespace of every object.
    #[arg(long, value_name = "NS", default_value = "obsdemo")]
    namespace: String,
    /// The registry (and path) in front of every upstream image, for a mirror.
    #[arg(long, value_name = "PREFIX", default_value = "docker.io")]
    image_prefix: String,
    /// The image of the demo services (built from obsdemo's Dockerfile).
    #[arg(long, value_name = "IMAGE")]
    services_image: Option<String>,
    /// Print the files written as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `export`.
pub fn run(args: ExportArgs, global: &Global) -> anyhow::Result<Code> {
    let Target::Kubernetes(args) = args.target;
    let (config, _) = global.config()?;
    let overrides =
        Overrides { without: args.plan.without.clone(), port_offset: args.plan.port_offset, state_dir: None };
    let mut options = Options { namespace: args.namespace, image_prefix: args.image_prefix, ..Options::default() };
    if let Some(image) = args.services_image {
        options.services_image = image;
    }
    let to = if args.out.as_os_str() == "-" { Destination::Stream } else { Destination::Dir(args.out.clone()) };
    let report = crate::ops::export::kubernetes(config, &overrides, &options, &to)?;
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    if let Some(stream) = &report.stream {
        print!("{stream}");
    } else if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        for path in &report.files {
            println!("{path}");
        }
        eprintln!("apply with: kubectl apply -k {}", args.out.display());
    }
    Ok(Code::Success)
}
