//! The command line: argument definitions, dispatch, and the one place where errors
//! become messages and exit codes. Each subcommand lives in its own module.

mod activity;
mod doctor;
mod down;
mod env;
mod exit;
mod export;
mod install;
mod load;
mod logs;
mod open;
mod progress;
mod render;
mod run;
mod status;
mod style;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::components::{Overrides, StackPlan};
use crate::error::Error;
use crate::runtime::{self, CancellationToken, Threads};
use crate::stack::{self, ConfigSource, StackConfig, StatePaths};
pub use exit::Code;

const EXAMPLES: &str = "\
Examples:
  obsdemo up                          start the whole stack, wait until healthy, print the URLs
  obsdemo up --without grafana        the same without Grafana
  obsdemo up --without services       the stack alone, for your own apps (see `[[apps]]`)
  obsdemo load --rps 20 --duration 10s   traffic through the services, then verify every trace
  obsdemo status --json               machine-readable state and health of every component
  obsdemo logs jaeger -f              follow Jaeger's log
  obsdemo down                        stop everything; returns when every port is free
  obsdemo up --port-offset 1000 --state-dir /tmp/second   a second stack beside the first
  obsdemo install --from-source jaeger collector prometheus   build the binaries with Go
  eval \"$(obsdemo env --name my-service)\"              point this shell's programs at the stack
  obsdemo run --name my-service -- python app.py         run one program with those settings
  obsdemo doctor                      find where telemetry stops
  obsdemo open                        the console: the stack, logs, load runs and doctor, live
  obsdemo export kubernetes --out k8s the same stack as Kubernetes manifests

Exit codes: 0 success, 1 the stack or an operation failed, 2 invalid input,
3 conflict with the machine (port in use, binary missing, stack already running), 130 interrupted.";

/// obsdemo: a local observability stack (OpenTelemetry Collector, Jaeger, Prometheus,
/// Grafana) in one command, no Docker.
#[derive(Debug, Parser)]
#[command(name = "obsdemo", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Flags every subcommand understands.
#[derive(Debug, Args)]
struct Global {
    /// The stack file (default: ./stack.toml if present, else the built-in one).
    #[arg(long, global = true, value_name = "FILE", env = "OBSDEMO_CONFIG")]
    config: Option<PathBuf>,
    /// The state dir (default: `state_dir` from the stack file, `.obsdemo`).
    #[arg(long, global = true, value_name = "DIR", env = "OBSDEMO_STATE_DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Render configs, start every component under a supervisor, wait until healthy.
    Up(up::UpArgs),
    /// Drive traffic through the demo services, report latency, verify traces in Jaeger.
    Load(load::LoadArgs),
    /// Show each component's state, health, pid, uptime, restarts, CPU and memory.
    Status(status::StatusArgs),
    /// Print or follow a component's log.
    Logs(logs::LogsArgs),
    /// Stop everything; return when no process is left and every port is free.
    Down(down::DownArgs),
    /// Print the OTEL_* variables that point any process at the running stack.
    Env(env::EnvArgs),
    /// Run one command with the running stack's OTEL_* variables set.
    Run(run::RunArgs),
    /// Walk the path telemetry takes and name the first broken hop.
    Doctor(doctor::DoctorArgs),
    /// Open the console (the stack, its logs, load runs and doctor, live) in a browser.
    Open(open::OpenArgs),
    /// Write the rendered configs without starting anything.
    Render(render::RenderArgs),
    /// Obtain the third-party binaries: official releases, else built with Go (Jaeger, the Collector, Prometheus).
    Install(install::InstallArgs),
    /// Write the stack for another engine: Kubernetes manifests.
    Export(export::ExportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Run the supervisor of a state dir (started by `up`; not for direct use).
    #[command(hide = true)]
    Supervise,
    /// Serve the console of a state dir (started by the supervisor; not for direct use).
    #[command(hide = true)]
    Console {
        /// The address to listen on.
        #[arg(long, value_name = "ADDR")]
        listen: std::net::SocketAddr,
    },
    /// Run one demo service (started by the supervisor; not for direct use).
    #[command(hide = true)]
    Service {
        /// The service's name, as in `stack.toml`.
        name: String,
        /// The rendered services file.
        #[arg(long, value_name = "FILE")]
        services_file: PathBuf,
        /// Serve without exporting spans (to measure what tracing costs).
        #[arg(long)]
        no_tracing: bool,
    },
}

/// Flags that change the plan: shared by `up` and `render`.
#[derive(Debug, Args, Clone)]
struct PlanArgs {
    /// Leave a component out (repeatable): jaeger, collector, prometheus, grafana,
    /// `services` (every demo service), or one service or app by its name.
    #[arg(long, value_name = "COMPONENT")]
    without: Vec<String>,
    /// Add N to every port, so a second stack can run beside the first.
    #[arg(long, value_name = "N", default_value_t = 0)]
    port_offset: u16,
}

impl Global {
    /// The stack file, read and parsed.
    fn config(&self) -> anyhow::Result<(StackConfig, ConfigSource)> {
        Ok(stack::load(self.config.as_deref(), &std::env::current_dir()?).map_err(Error::from)?)
    }

    /// The plan, with `args` applied.
    fn plan(&self, args: &PlanArgs) -> anyhow::Result<StackPlan> {
        let (config, _) = self.config()?;
        let overrides = Overrides {
            without: args.without.clone(),
            port_offset: args.port_offset,
            state_dir: self.state_dir.clone(),
        };
        Ok(StackPlan::new(config, &overrides, &std::env::current_dir()?).map_err(Error::from)?)
    }

    /// The state dir, for commands that act on a running stack.
    fn paths(&self) -> anyhow::Result<StatePaths> {
        let dir = match &self.state_dir {
            Some(dir) => dir.clone(),
            None => self.config()?.0.state_dir,
        };
        Ok(StatePaths::new(std::env::current_dir()?.join(dir)))
    }
}

/// Parses the command line, runs it, reports any error, and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Completions { shell } => {
            crate::platform::end_quietly_on_closed_stdout();
            clap_complete::generate(shell, &mut Cli::command(), "obsdemo", &mut std::io::stdout());
            Ok(Code::Success)
        }
        Command::Supervise => {
            cli.global.paths().and_then(|paths| {
                let ran = runtime::run(Threads::One, |shutdown| async move {
                    crate::supervisor::run::run(&paths, shutdown).await
                })?;
                Ok(ran.map(|()| Code::Success).map_err(Error::from)?)
            })
        }
        Command::Console { listen } => cli.global.paths().and_then(|paths| {
            let options = crate::console::ConsoleOptions { paths, listen };
            let served = runtime::run(Threads::Pool(2), |shutdown| crate::console::serve(options, shutdown))?;
            served.map(|()| Code::Success)
        }),
        Command::Service { name, services_file, no_tracing } => runtime::run(Threads::Pool(2), |shutdown| async move {
            crate::services::run(&name, &services_file, !no_tracing, shutdown).await
        })
        .map_err(anyhow::Error::from)
        .and_then(|served| Ok(served.map(|()| Code::Success).map_err(Error::from)?)),
        command => {
            crate::platform::end_quietly_on_closed_stdout();
            runtime::run(Threads::Pool(2), |shutdown| dispatch(command, cli.global, shutdown))
                .map_err(anyhow::Error::from)
                .and_then(|r| r)
        }
    };
    match result {
        Ok(code) => code.into(),
        Err(e) => exit::report(&e),
    }
}

async fn dispatch(command: Command, global: Global, shutdown: CancellationToken) -> anyhow::Result<Code> {
    let global = &global;
    match command {
        // Each hears Ctrl-C itself, and ends within a second of it.
        Command::Up(args) => up::run(args, global, shutdown).await,
        Command::Load(args) => load::run(args, global, shutdown).await,
        Command::Logs(args) => logs::run(args, global, shutdown).await,
        Command::Run(args) => run::run(args, global, shutdown).await,
        Command::Install(args) => install::run(args, global, shutdown).await,
        Command::Down(args) => down::run(args, global, shutdown).await,
        Command::Status(args) => status::run(args, global, shutdown).await,
        Command::Doctor(args) => doctor::run(args, global, shutdown).await,
        Command::Env(args) => env::run(args, global, shutdown).await,
        Command::Open(args) => open::run(args, global, shutdown).await,
        Command::Render(args) => render::run(args, global),
        Command::Export(args) => export::run(args, global),
        Command::Completions { .. } | Command::Supervise | Command::Console { .. } | Command::Service { .. } => {
            unreachable!("handled before the runtime starts")
        }
    }
}
