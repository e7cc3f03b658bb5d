//! `obsdemo up`: start the stack and wait, with a live line per component, until every
//! component is healthy; then print the URLs. On failure, timeout or Ctrl-C, show why
//! and stop everything this `up` started.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use super::activity::Activity;
use super::exit::Code;
use super::{Global, PlanArgs, install::print_provided, style};
use crate::components::{ComponentId, StackPlan};
use crate::error::{Error, Interrupted};
use crate::health::ProbePolicy;
use crate::install::official::InstallOptions;
use crate::runtime::CancellationToken;
use crate::stack::{HumanDuration, StatePaths};
use crate::supervisor::state::{ComponentState, ProcessId, StackState};
use crate::supervisor::{control, stop};
use crate::up::install::Provided;

/// Arguments of `up`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  obsdemo up\n  obsdemo up --install\n  obsdemo up --without grafana --timeout 2m\n  obsdemo up --without services        the stack alone, for your own [[apps]]\n  obsdemo up --port-offset 1000 --state-dir /tmp/second --json"
)]
pub struct UpArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// Give up (and stop everything) if the stack is not healthy within this time.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    timeout: HumanDuration,
    /// Print the result as JSON on stdout (URLs, state dir, timings).
    #[arg(long)]
    json: bool,
    /// First install (official releases) whatever component binary is missing.
    #[arg(long)]
    install: bool,
    /// With --install: download from this mirror (replaces scheme and host of each URL).
    #[arg(long, env = "OBSDEMO_MIRROR", value_name = "URL")]
    mirror: Option<String>,
}

/// How waiting for the stack ended.
enum Outcome {
    Healthy,
    Failed { component: String, reason: String },
    TimedOut { waiting: Vec<String> },
    Interrupted,
}

/// Runs `up`.
pub async fn run(mut args: UpArgs, global: &Global, shutdown: CancellationToken) -> anyhow::Result<Code> {
    let mut plan = global.plan(&args.plan)?;
    let began = Instant::now();
    let mut left_out = Vec::new();
    if args.install {
        let options =
            InstallOptions { force: false, mirror: args.mirror.clone(), stall_timeout: Duration::from_secs(30) };
        let bars = indicatif::MultiProgress::new();
        let activity = Activity::start("installing what is missing", &bars);
        let provided = crate::up::install::provide_missing(&plan, &options, &bars, &shutdown, &mut |id, step| {
            activity.set_what(&id.to_string());
            activity.stage(step);
        })
        .await;
        activity.finish(if provided.is_ok() { "done" } else { "failed" });
        for (id, provided) in provided? {
            if let Provided::LeftOut { why } = &provided {
                args.plan.without.push(id.name().to_owned());
                left_out.push((id.clone(), why.clone()));
            }
            print_provided(&id, &provided);
        }
        if !left_out.is_empty() {
            plan = global.plan(&args.plan)?;
        }
    }
    let paths = StatePaths::new(&plan.state_dir);
    let exposed = plan.exposed();
    if !exposed.is_empty() {
        eprintln!(
            "{} bind = {} makes these reachable from the network, not only from this machine:\n  {}",
            style::warn("warning:"),
            plan.bind(),
            exposed.join("\n  ")
        );
    }
    // Held until this `up` is done, whatever the outcome.
    let _lock = crate::up::lock(&paths)?;
    let supervisor_pid = crate::up::start(&plan, &paths).await?;
    let supervisor = ProcessId::of(supervisor_pid);
    let names: Vec<String> = plan.enabled().iter().map(|id| id.name().to_owned()).collect();
    let progress = Progress::new(&names);
    let outcome = tokio::select! {
        outcome = wait_healthy(&paths, supervisor, &progress, args.timeout.get()) => outcome,
        () = shutdown.cancelled() => Outcome::Interrupted,
    };
    let elapsed = began.elapsed();
    let failure = match outcome {
        Outcome::Healthy => {
            progress.clear();
            let no_ui = missing_uis(&plan).await;
            print_success(&plan, &paths, elapsed, &left_out, &no_ui, args.json)?;
            return Ok(Code::Success);
        }
        Outcome::Failed { component, reason } => {
            print_last_lines(&paths, &component);
            anyhow::anyhow!("{component} did not start: {reason}; everything this `up` started is being stopped")
        }
        Outcome::TimedOut { waiting } => {
            for component in &waiting {
                print_last_lines(&paths, component);
            }
            anyhow::anyhow!(
                "not healthy within {}: still waiting for {}; see `obsdemo logs <component>` (the stack is being stopped)",
                args.timeout,
                waiting.join(", ")
            )
        }
        Outcome::Interrupted => Error::from(Interrupted).into(),
    };
    progress.clear();
    stop::down(&paths, Duration::from_secs(10)).await?;
    Err(failure)
}

/// The components whose web UI this build does not serve, with why and the fix.
async fn missing_uis(plan: &StackPlan) -> Vec<(ComponentId, String)> {
    let prober = crate::health::Prober::new(ProbePolicy::default().timeout);
    let mut out = Vec::new();
    for id in plan.enabled() {
        if let Some(check) = id.kind().ui(plan, &id)
            && prober.ui_served(&check).await == Some(false)
        {
            out.push((id, format!("this build serves no web UI at {}; {}", check.url, check.fix)));
        }
    }
    out
}

/// Shows why `component` did not come up: the end of its log.
fn print_last_lines(paths: &StatePaths, component: &str) {
    let log = paths.log(component);
    if !log.exists() {
        return;
    }
    let lines = crate::logs::tail(&log, 20).unwrap_or_else(|e| format!("(cannot read {}: {e})", log.display()));
    eprintln!("{} the last lines of {}:\n{lines}", style::bold("---"), log.display());
}

/// Polls the supervisor until every component runs, one fails, or time is up.
async fn wait_healthy(
    paths: &StatePaths,
    supervisor: Option<ProcessId>,
    progress: &Progress,
    timeout: Duration,
) -> Outcome {
    let deadline = Instant::now() + timeout;
    loop {
        match control::status(&paths.socket()).await {
            Some(state) => {
                progress.show(&state);
                if let Some(failed) = state.components.iter().find(|c| c.state == ComponentState::Failed) {
                    let reason = failed.last_exit.clone().unwrap_or_else(|| "it failed".into());
                    return Outcome::Failed { component: failed.name.clone(), reason };
                }
                let waiting: Vec<String> = state
                    .components
                    .iter()
                    .filter(|c| !matches!(c.state, ComponentState::Running | ComponentState::Disabled))
                    .map(|c| c.name.clone())
                    .collect();
                if waiting.is_empty() {
                    return Outcome::Healthy;
                }
                if Instant::now() >= deadline {
                    return Outcome::TimedOut { waiting };
                }
            }
            None if !supervisor.is_some_and(|s| s.is_alive()) => {
                return Outcome::Failed { component: "supervisor".into(), reason: "the supervisor exited".into() };
            }
            None if Instant::now() >= deadline => {
                return Outcome::TimedOut { waiting: vec!["the supervisor".into()] };
            }
            None => {}
        }
        tokio::time::sleep(ProbePolicy::default().period).await;
    }
}

/// A live line per component on a terminal; one plain line per change otherwise.
struct Progress {
    bars: BTreeMap<String, ProgressBar>,
    multi: MultiProgress,
    started: Instant,
    last: std::sync::Mutex<BTreeMap<String, ComponentState>>,
    live: bool,
    /// Width of the longest component name, for aligned lines.
    width: usize,
}

impl Progress {
    fn new(components: &[String]) -> Self {
        let live = std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(if live {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let width = components.iter().map(String::len).max().unwrap_or(0);
        let style = ProgressStyle::with_template(&format!("{{spinner}} {{prefix:<{width}}} {{msg}}"))
            .expect("template is valid");
        let bars = components
            .iter()
            .map(|name| {
                let bar = multi.add(ProgressBar::new_spinner().with_style(style.clone()).with_prefix(name.to_string()));
                bar.set_message("waiting");
                bar.enable_steady_tick(Duration::from_millis(100));
                (name.to_string(), bar)
            })
            .collect();
        Self { bars, multi, started: Instant::now(), last: Default::default(), live, width }
    }

    fn show(&self, state: &StackState) {
        let mut last = self.last.lock().expect("progress lock is never poisoned");
        for c in &state.components {
            let Some(bar) = self.bars.get(&c.name) else {
                continue;
            };
            if last.get(&c.name) == Some(&c.state) {
                continue;
            }
            last.insert(c.name.clone(), c.state);
            let at = format!("{:.1}s", self.started.elapsed().as_secs_f64());
            let message = match c.state {
                ComponentState::Starting if c.process.is_some() => style::warn("starting"),
                ComponentState::Starting => "waiting for dependencies".to_owned(),
                ComponentState::Running => style::good(&format!("healthy ({at})")),
                ComponentState::Failed => style::bad("failed"),
                ComponentState::Stopped => "stopped".to_owned(),
                ComponentState::Disabled => "disabled".to_owned(),
            };
            if !self.live {
                eprintln!("{:<width$} {message}", c.name, width = self.width);
            }
            if matches!(c.state, ComponentState::Running | ComponentState::Failed) {
                bar.finish_with_message(message);
            } else {
                bar.set_message(message);
            }
        }
    }

    fn clear(&self) {
        for bar in self.bars.values() {
            if !bar.is_finished() {
                bar.finish();
            }
        }
        let _ = self.multi.clear();
    }
}

fn print_success(
    plan: &StackPlan,
    paths: &StatePaths,
    elapsed: Duration,
    left_out: &[(ComponentId, String)],
    no_ui: &[(ComponentId, String)],
    json: bool,
) -> anyhow::Result<()> {
    let endpoints = plan.endpoints();
    let password_file = plan.is_enabled(&ComponentId::Grafana).then(|| paths.grafana_password());
    if json {
        let out = json!({
            "healthy": true,
            "elapsed_ms": elapsed.as_millis() as u64,
            "state_dir": paths.root,
            "endpoints": endpoints,
            "left_out": left_out.iter().map(|(id, why)| json!({ "component": id, "why": why })).collect::<Vec<_>>(),
            "ui_missing": no_ui.iter().map(|(id, why)| json!({ "component": id, "why": why })).collect::<Vec<_>>(),
            "grafana": password_file.as_ref().map(|f| json!({ "user": "admin", "password_file": f })),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{} in {:.1}s (state dir {})\n",
        style::good("obsdemo is up"),
        elapsed.as_secs_f64(),
        paths.root.display()
    );
    let rows: Vec<Vec<String>> = endpoints
        .iter()
        .filter(|e| e.shown)
        .map(|e| {
            let what = match no_ui.iter().any(|(id, _)| *id == e.component) {
                // Say what is there instead of advertising a page that is not.
                true if e.what.contains("UI") => format!("{} (this build has no UI)", e.what.replace("UI and ", "")),
                _ => e.what.clone(),
            };
            vec![e.component.to_string(), what, e.url.clone()]
        })
        .collect();
    print!("{}", style::table(&["COMPONENT", "WHAT", "URL"], &rows));
    for (id, why) in left_out {
        println!("{} {id}: {why}", style::warn("not started:"));
    }
    for (id, why) in no_ui {
        println!("{} {id}: {why}", style::warn("no UI:"));
    }
    if let Some(file) = password_file {
        let password = std::fs::read_to_string(&file).unwrap_or_default();
        println!("\nGrafana login: admin / {} (stored in {}, mode 0600)", password.trim(), file.display());
    }
    println!("\nNext: `obsdemo status`, `obsdemo logs <component> -f`, `obsdemo down`.");
    Ok(())
}
