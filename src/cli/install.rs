//! `obsdemo install`: obtain the third-party binaries, as official releases
//! (downloaded and checksum-verified) or built from source with Go.

use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::exit::Code;
use super::{Global, style};
use crate::install::manifest::Manifest;
use crate::install::official::{self, InstallOptions, Outcome};
use crate::install::source::{self, Built};
use crate::stack::{COMPONENTS, HumanDuration, StackConfig};

/// Arguments of `install`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  obsdemo install                            official releases of every component for this OS
  obsdemo install prometheus grafana --force
  OBSDEMO_MIRROR=https://mirror.corp.example obsdemo install
  obsdemo install --from-source jaeger collector
  obsdemo install --list")]
pub struct InstallArgs {
    /// Components to install (default: jaeger, collector, prometheus, grafana; with
    /// --from-source: jaeger, collector).
    components: Vec<String>,
    /// Build with the Go toolchain instead of downloading (jaeger, collector).
    #[arg(long)]
    from_source: bool,
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

/// Runs `install`.
pub async fn run(args: InstallArgs, global: &Global) -> anyhow::Result<Code> {
    let (config, _) = global.config()?;
    if args.list {
        list(&config);
        return Ok(Code::Success);
    }
    let defaults: &[&str] = if args.from_source { &["jaeger", "collector"] } else { &COMPONENTS };
    let components: Vec<String> =
        if args.components.is_empty() { defaults.iter().map(|c| c.to_string()).collect() } else { args.components };
    if let Some(unknown) = components.iter().find(|c| !COMPONENTS.contains(&c.as_str())) {
        anyhow::bail!("`{unknown}` is not a component that can be installed; choose from {}", COMPONENTS.join(", "));
    }
    if args.from_source {
        for name in &components {
            build_from_source(&config, name, args.force)?;
        }
        return Ok(Code::Success);
    }
    let options = InstallOptions { force: args.force, mirror: args.mirror, stall_timeout: args.timeout.get() };
    install_official(&components, &options).await?;
    Ok(Code::Success)
}

/// Installs the official releases of `components`, one progress bar per download.
pub async fn install_official(components: &[String], options: &InstallOptions) -> anyhow::Result<()> {
    let bars = MultiProgress::new();
    for name in components {
        match official::install(name, options, &bars).await? {
            Outcome::AlreadyInstalled(dir) => {
                println!("{name} is already installed in {} (--force reinstalls)", dir.display())
            }
            Outcome::Installed(dir) => println!("{} {name} in {}", style::good("installed"), dir.display()),
        }
    }
    Ok(())
}

fn build_from_source(config: &StackConfig, name: &str, force: bool) -> anyhow::Result<()> {
    let version = match name {
        "jaeger" => &config.jaeger.version,
        "collector" => &config.collector.version,
        other => anyhow::bail!("`{other}` cannot be built from source: only jaeger and collector can"),
    };
    let bar =
        ProgressBar::new_spinner().with_style(ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {msg}")?);
    bar.set_prefix(format!("{name} {version}"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let result = source::build(name, version, force, &mut |step| bar.set_message(step.to_owned()));
    bar.finish_and_clear();
    match result? {
        Built::AlreadyInstalled(dir) => {
            println!("{name} {version} is already built in {} (--force rebuilds)", dir.display())
        }
        Built::Installed(dir) => println!("{} {name} {version} in {}", style::good("built"), dir.display()),
    }
    Ok(())
}

fn list(config: &StackConfig) {
    let table = crate::install::releases::table();
    let rows: Vec<Vec<String>> = COMPONENTS
        .iter()
        .map(|name| {
            let pinned = table.get(*name).map_or("-".to_owned(), |r| r.version.clone());
            let dir = crate::install::resolve::install_dir(name, &pinned);
            let installed = Manifest::read(&dir).map_or_else(|| "no".to_owned(), |m| short_source(&m.source));
            let found = crate::install::resolve(config, name)
                .map_or_else(|_| style::warn("not found"), |p| p.display().to_string());
            vec![name.to_string(), pinned, installed, found]
        })
        .collect();
    print!("{}", style::table(&["COMPONENT", "PINNED", "INSTALLED", "UP USES"], &rows));
    println!("\nmanaged dir: {}", crate::install::managed_dir().display());
}

fn short_source(source: &str) -> String {
    if source.starts_with("official release") { "release".into() } else { "from source".into() }
}
