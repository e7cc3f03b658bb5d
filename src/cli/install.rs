//! `obsdemo install`: obtain the third-party binaries, as official releases
//! (downloaded and checksum-verified) or built from source with Go. The work is
//! [`crate::ops::install`].

use clap::Args;

use super::exit::Code;
use super::{Global, style};
use crate::install::official::InstallOptions;
use crate::install::source::GoTarget;
use crate::ops::install::{InstallRequest, Installed, Listed};
use crate::runtime::CancellationToken;
use crate::stack::HumanDuration;

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
    /// Print what was installed (or, with --list, the table) as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs `install`; Ctrl-C (`shutdown`) ends a download or a Go build, leaving nothing.
pub async fn run(args: InstallArgs, global: &Global, shutdown: CancellationToken) -> anyhow::Result<Code> {
    let (config, _) = global.config()?;
    if args.list {
        let listed = crate::ops::install::list(&config);
        match args.json {
            true => println!("{}", serde_json::to_string_pretty(&listed)?),
            false => print_list(&listed),
        }
        return Ok(Code::Success);
    }
    let request = InstallRequest {
        config,
        components: args.components,
        from_source: args.from_source.then_some(args.target),
        options: InstallOptions { force: args.force, mirror: args.mirror, stall_timeout: args.timeout.get() },
    };
    let progress = super::progress::for_stderr(false);
    let report = crate::ops::install::run(request, &shutdown, progress.as_ref()).await;
    drop(progress);
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        report.installed.iter().for_each(print_installed);
    }
    Ok(if report.left_any_out() { Code::Conflict } else { Code::Success })
}

/// Tells how a component's binary was provided, and why when it was not the official
/// release (or not at all).
pub fn print_installed(i: &Installed) {
    let (id, version) = (&i.component, &i.version);
    let dir = i.dir.as_ref().map_or(String::new(), |d| d.display().to_string());
    match (i.from, i.already, &i.release_unavailable, &i.left_out) {
        (_, _, _, Some(why)) => println!("{} {id}: {why}", style::warn("left out:")),
        ("release", true, ..) => println!("{id} is already installed in {dir} (--force reinstalls)"),
        ("release", false, ..) => println!("{} {id} (official release) in {dir}", style::good("installed")),
        (_, _, Some(why), _) => println!(
            "{} {id} from source in {dir}, because the official release could not be had: {why}",
            style::good("built"),
        ),
        (_, true, None, _) => println!("{id} {version} is already built in {dir} (--force rebuilds)"),
        (_, false, None, _) => println!("{} {id} {version} in {dir}", style::good("built")),
    }
}

/// One row per component: the version the stack file names (which every command
/// uses), the version obsdemo has release data for, what is installed at the stack
/// file's version, the version the binary `up` would run reports, and that binary.
fn print_list(listed: &[Listed]) {
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|l| {
            vec![
                l.component.to_string(),
                l.version.clone(),
                l.release_data_for.clone().unwrap_or_else(|| "-".into()),
                match l.installed {
                    Some("release") => "release".into(),
                    Some(_) => "from source".into(),
                    None => "no".into(),
                },
                l.reports.clone().unwrap_or_else(|| "-".into()),
                l.up_uses.as_ref().map_or_else(|| style::warn("not found"), |p| p.display().to_string()),
            ]
        })
        .collect();
    print!("{}", style::table(&["COMPONENT", "VERSION", "RELEASE DATA FOR", "INSTALLED", "REPORTS", "UP USES"], &rows));
    println!("\nVERSION is the stack file's; a version without release data is built from source.");
    println!("REPORTS is what the binary up uses says it is (Jaeger v2 says its v2 version).");
    println!("managed dir: {}", crate::install::managed_dir().display());
}
