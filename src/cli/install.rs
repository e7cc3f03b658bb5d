//! `obsdemo install`: obtain the third-party binaries, as official releases
//! (downloaded and checksum-verified) or built from source with Go.

use clap::Args;
use indicatif::MultiProgress;

use super::activity::Activity;
use super::exit::Code;
use super::{Global, style};
use crate::components::ComponentId;
use crate::error::Error;
use crate::install::manifest::Manifest;
use crate::install::official::{InstallOptions, Outcome};
use crate::install::source::{self, Built, GoTarget};
use crate::runtime::CancellationToken;
use crate::stack::{HumanDuration, StackConfig};
use crate::up::install::{Provided, provide};

/// Arguments of `install`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  obsdemo install                            official releases of every component for this OS
  obsdemo install prometheus grafana --force
  OBSDEMO_MIRROR=https://mirror.corp.example obsdemo install
  obsdemo install --from-source jaeger collector prometheus
  obsdemo install --list")]
pub struct InstallArgs {
    /// Components to install (default: jaeger, collector, prometheus, grafana; with
    /// --from-source: jaeger, collector, prometheus; Grafana has no source build).
    components: Vec<String>,
    /// Build with the Go toolchain instead of downloading (jaeger, collector, prometheus).
    #[arg(long)]
    from_source: bool,
    /// With --from-source: build for another platform (OS/ARCH, e.g. windows/amd64), into
    /// the managed dir of OBSDEMO_HOME; for a machine without Go or network.
    #[arg(long, value_name = "OS/ARCH", requires = "from_source")]
    target: Option<GoTarget>,
    /// Reinstall even when the version is installed.
    #[arg(long)]
    force: bool,
    /// Download from this mirror: replaces scheme and host of every release URL.
    #[arg(long, env = "OBSDEMO_MIRROR", value_name = "URL")]
    mirror: Option<String>,
    /// Give up on a download that sends nothing for this long.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    timeout: HumanDuration,
    /// Show each component's pinned version, what is installed, and where `up` finds it.
    #[arg(long)]
    list: bool,
}

/// Runs `install`; Ctrl-C (`shutdown`) ends a download or a Go build, leaving nothing.
pub async fn run(args: InstallArgs, global: &Global, shutdown: CancellationToken) -> anyhow::Result<Code> {
    let (config, _) = global.config()?;
    if args.list {
        list(&config);
        return Ok(Code::Success);
    }
    let installable = ComponentId::third_party();
    let buildable: Vec<ComponentId> =
        installable.iter().filter(|id| id.kind().source_recipe(&config).is_some()).cloned().collect();
    let components: Vec<ComponentId> = if args.components.is_empty() {
        if args.from_source { buildable.clone() } else { installable.clone() }
    } else {
        let mut chosen = Vec::new();
        for name in &args.components {
            let choices = if args.from_source { &buildable } else { &installable };
            let Some(id) = choices.iter().find(|id| id.name() == name) else {
                let names: Vec<&str> = choices.iter().map(ComponentId::name).collect();
                let how = if args.from_source { "built from source" } else { "installed" };
                anyhow::bail!("`{name}` is not a component that can be {how}; choose from {}", names.join(", "));
            };
            chosen.push(id.clone());
        }
        chosen
    };
    if args.from_source {
        for id in &components {
            // A build runs for minutes in Go processes: off the runtime's threads.
            let (config, id, target, shutdown) = (config.clone(), id.clone(), args.target.clone(), shutdown.clone());
            tokio::task::spawn_blocking(move || {
                build_from_source(&config, &id, target.as_ref(), args.force, &shutdown)
            })
            .await??;
        }
        return Ok(Code::Success);
    }
    let options = InstallOptions { force: args.force, mirror: args.mirror, stall_timeout: args.timeout.get() };
    let bars = MultiProgress::new();
    let mut code = Code::Success;
    for id in &components {
        let activity = Activity::start(&id.to_string(), &bars);
        let provided = provide(&config, id, &options, &bars, &shutdown, &mut |step| activity.stage(step)).await;
        activity.finish(if provided.is_ok() { "done" } else { "failed" });
        let provided = provided?;
        if matches!(provided, Provided::LeftOut { .. }) {
            code = Code::Conflict;
        }
        print_provided(id, &provided);
    }
    Ok(code)
}

/// Tells how `id`'s binary was provided, and why when it was not the official release.
pub fn print_provided(id: &ComponentId, provided: &Provided) {
    match provided {
        Provided::Official(Outcome::AlreadyInstalled(dir)) => {
            println!("{id} is already installed in {} (--force reinstalls)", dir.display())
        }
        Provided::Official(Outcome::Installed(dir)) => {
            println!("{} {id} (official release) in {}", style::good("installed"), dir.display())
        }
        Provided::Built { built, why } => {
            let (Built::AlreadyInstalled(dir) | Built::Installed(dir)) = built;
            println!(
                "{} {id} from source in {}, because the official release could not be had: {why}",
                style::good("built"),
                dir.display()
            );
        }
        Provided::LeftOut { why } => println!("{} {id}: {why}", style::warn("left out:")),
    }
}

fn build_from_source(
    config: &StackConfig,
    id: &ComponentId,
    platform: Option<&GoTarget>,
    force: bool,
    cancel: &CancellationToken,
) -> anyhow::Result<()> {
    let kind = id.kind();
    let (Some(spec), Some(recipe)) = (kind.binary(config), kind.source_recipe(config)) else {
        anyhow::bail!("`{id}` cannot be built from source");
    };
    let recipe = recipe.map_err(Error::from)?;
    let bars = MultiProgress::new();
    let activity = Activity::start(&format!("{id} {}", spec.version), &bars);
    let mut step = |step: &str| activity.stage(step);
    let result = source::build_for(id.name(), &spec.version, &recipe, platform, force, cancel, &mut step);
    activity.finish(match &result {
        Ok(Built::AlreadyInstalled(_)) => "already built",
        Ok(Built::Installed(_)) => "built",
        Err(_) => "failed",
    });
    match result.map_err(Error::from)? {
        Built::AlreadyInstalled(dir) => {
            println!("{id} {} is already built in {} (--force rebuilds)", spec.version, dir.display())
        }
        Built::Installed(dir) => println!("{} {id} {} in {}", style::good("built"), spec.version, dir.display()),
    }
    Ok(())
}

/// One row per component: the version the stack file names (which every command
/// uses), the version obsdemo has release data for, what is installed at the stack
/// file's version, and the binary `up` would run.
fn list(config: &StackConfig) {
    let table = crate::install::releases::table();
    let rows: Vec<Vec<String>> = ComponentId::third_party()
        .iter()
        .filter_map(|id| id.kind().binary(config).map(|spec| (id, spec)))
        .map(|(id, spec)| {
            let pinned = table.get(id.name()).map_or("-".to_owned(), |r| r.version.clone());
            let dir = crate::install::resolve::install_dir(id.name(), &spec.version);
            let installed = Manifest::read(&dir).map_or_else(|| "no".to_owned(), |m| short_source(&m.source));
            let found = crate::install::resolve(&spec, false)
                .map_or_else(|_| style::warn("not found"), |p| p.display().to_string());
            vec![id.to_string(), spec.version.clone(), pinned, installed, found]
        })
        .collect();
    print!("{}", style::table(&["COMPONENT", "VERSION", "RELEASE DATA FOR", "INSTALLED", "UP USES"], &rows));
    println!("\nVERSION is the stack file's; a version without release data is built from source.");
    println!("managed dir: {}", crate::install::managed_dir().display());
}

fn short_source(source: &str) -> String {
    if source.starts_with("official release") { "release".into() } else { "from source".into() }
}
