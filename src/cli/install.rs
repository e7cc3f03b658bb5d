//! `obsdemo install`: obtain the third-party binaries.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::exit::Code;
use super::{Global, style};
use crate::install::source::{self, Built};
use crate::stack::COMPONENTS;

/// Arguments of `install`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  obsdemo install --from-source jaeger collector\n  obsdemo install --list")]
pub struct InstallArgs {
    /// Components to install (default: all that the chosen method can provide).
    components: Vec<String>,
    /// Build with the Go toolchain instead of downloading (jaeger, collector).
    #[arg(long)]
    from_source: bool,
    /// Show what is installed, and where `up` would find each binary.
    #[arg(long)]
    list: bool,
}

/// Runs `install`.
pub fn run(args: InstallArgs, global: &Global) -> anyhow::Result<Code> {
    let (config, _) = global.config()?;
    if args.list {
        for name in COMPONENTS {
            let found = crate::install::resolve(&config, name)
                .map_or_else(|_| style::warn("not found"), |p| p.display().to_string());
            println!("{name:<11} {found}");
        }
        return Ok(Code::Success);
    }
    if !args.from_source {
        anyhow::bail!(
            "downloading official releases is not available in this build yet; \
             use `obsdemo install --from-source jaeger collector` (needs Go) and the \
             Debian package `prometheus`"
        );
    }
    let components =
        if args.components.is_empty() { vec!["jaeger".into(), "collector".into()] } else { args.components };
    for name in &components {
        let version = match name.as_str() {
            "jaeger" => &config.jaeger.version,
            "collector" => &config.collector.version,
            other => anyhow::bail!("`{other}` cannot be built from source: only jaeger and collector can"),
        };
        let bar = ProgressBar::new_spinner()
            .with_style(ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {msg}")?);
        bar.set_prefix(format!("{name} {version}"));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        let result = source::build(name, version, &mut |step| bar.set_message(step.to_owned()));
        bar.finish_and_clear();
        match result? {
            Built::AlreadyInstalled(dir) => {
                println!("{name} {version} is already installed in {}", dir.display())
            }
            Built::Installed(dir) => println!("{} {name} {version} in {}", style::good("built"), dir.display()),
        }
    }
    Ok(Code::Success)
}
