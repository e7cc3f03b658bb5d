//! `obsdemo export kubernetes`: the stack as Kubernetes manifests, written into a
//! directory with a `kustomization.yaml`, or printed.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::exit::Code;
use super::{Global, PlanArgs};
use crate::components::Overrides;
use crate::components::deploy::cluster_plan;
use crate::export::kubernetes::{self, Options};

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
    let (plan, changed) = cluster_plan(config, &overrides).map_err(crate::Error::from)?;
    let mut options = Options { namespace: args.namespace, image_prefix: args.image_prefix, ..Options::default() };
    if let Some(image) = args.services_image {
        options.services_image = image;
    }
    let to_stdout = args.out.as_os_str() == "-";
    let kept = if to_stdout { Default::default() } else { kubernetes::kept_secrets(&args.out) };
    let export = kubernetes::export(&plan, &options, &kept).map_err(crate::Error::from)?;
    for note in changed.iter().chain(&export.notes) {
        eprintln!("note: {note}");
    }
    if to_stdout {
        for m in &export.manifests {
            let text = m.text().map_err(crate::Error::from)?;
            println!("---\n{}", text.trim_end());
        }
        return Ok(Code::Success);
    }
    let written = kubernetes::write(&export, &options, &args.out).map_err(crate::Error::from)?;
    if args.json {
        let files: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        println!(
            "{}",
            serde_json::json!({ "dir": args.out.display().to_string(), "files": files, "notes": export.notes })
        );
    } else {
        for path in &written {
            println!("{}", path.display());
        }
        eprintln!("apply with: kubectl apply -k {}", args.out.display());
    }
    Ok(Code::Success)
}
