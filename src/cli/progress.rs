//! The two ways the terminal shows an operation's [`Event`]s: [`Bars`] (indicatif
//! spinners and bars, redrawn in place) when stderr is a terminal, [`Lines`] (one plain
//! line per change, a heartbeat while a long step lasts) when it is a log or a pipe.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::activity::Activity;
use super::style;
use crate::progress::{Event, Progress};
use crate::supervisor::state::ComponentState;

/// The sink for stderr: [`Bars`] on a terminal, else [`Lines`]. `quiet` keeps live
/// figures off the terminal (for `--json`, whose reader wants stdout alone).
pub fn for_stderr(quiet: bool) -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() && !quiet { Box::new(Bars::default()) } else { Box::new(Lines::default()) }
}

/// Spinners and bars on a terminal.
#[derive(Default)]
pub struct Bars {
    multi: MultiProgress,
    state: Mutex<BarsState>,
}

#[derive(Default)]
struct BarsState {
    steps: HashMap<String, Activity>,
    downloads: HashMap<String, ProgressBar>,
    components: HashMap<String, ProgressBar>,
    load: Option<ProgressBar>,
    check: Option<ProgressBar>,
}

impl Bars {
    fn lock(&self) -> MutexGuard<'_, BarsState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Prints `text` above the bars, which are drawn again below it.
    fn say(&self, text: &str) {
        self.multi.suspend(|| eprintln!("{text}"));
    }

    fn spinner(&self, template: &str) -> ProgressBar {
        let bar = self.multi.add(
            ProgressBar::new_spinner().with_style(ProgressStyle::with_template(template).expect("template is valid")),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}

impl Progress for Bars {
    fn event(&self, event: Event) {
        let mut state = self.lock();
        match event {
            Event::Stage { what, stage } => {
                state.steps.entry(what.clone()).or_insert_with(|| Activity::bar(&what, &self.multi)).stage(&stage);
            }
            Event::Finished { what, outcome } => {
                if let Some(step) = state.steps.remove(&what) {
                    step.finish(&outcome);
                }
            }
            Event::Transfer { file, done, total } => {
                let bar = state.downloads.entry(file.clone()).or_insert_with(|| {
                    self.multi.add(ProgressBar::new(0).with_style(download_style()).with_prefix(file))
                });
                bar.set_length(total.unwrap_or(0));
                bar.set_position(done);
            }
            Event::Transferred { file } => {
                if let Some(bar) = state.downloads.remove(&file) {
                    bar.finish_and_clear();
                }
            }
            Event::Starting { components } => {
                let width = components.iter().map(String::len).max().unwrap_or(0);
                let template = format!("{{spinner}} {{prefix:<{width}}} {{msg}}");
                for name in components {
                    let bar = self.spinner(&template).with_prefix(name.clone());
                    bar.set_message("waiting");
                    state.components.insert(name, bar);
                }
            }
            Event::Component { name, state: now, spawned, after } => {
                if let Some(bar) = state.components.get(&name) {
                    let message = component_message(now, spawned, after);
                    if matches!(now, ComponentState::Running | ComponentState::Failed) {
                        bar.finish_with_message(message);
                    } else {
                        bar.set_message(message);
                    }
                }
            }
            Event::Load { elapsed, duration, finished, errors, current_rps, p99, connections, .. } => {
                let bar = state.load.get_or_insert_with(|| load_bar(&self.multi, duration));
                bar.set_position(elapsed.as_millis().min(u128::from(u64::MAX)) as u64);
                bar.set_message(format!(
                    "{finished} sent · {current_rps:.0} rps · {errors} errors · p99 {:.1} ms · {connections} connections",
                    p99.as_secs_f64() * 1e3,
                ));
            }
            Event::Checking { message, .. } => {
                if let Some(bar) = state.load.take() {
                    bar.finish_and_clear();
                }
                state.check.get_or_insert_with(|| self.spinner("{spinner} {msg}")).set_message(message);
            }
            Event::LogTail { log, lines, .. } => self.say(&last_lines(&log, &lines)),
            Event::Warning { text } => self.say(&format!("{} {text}", style::warn("warning:"))),
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let bars = state.downloads.values().chain(state.components.values()).chain(&state.load).chain(&state.check);
        for bar in bars {
            bar.finish_and_clear();
        }
        state.steps.clear();
        let _ = self.multi.clear();
    }
}

/// Plain lines on stderr, for a log or a pipe.
#[derive(Default)]
pub struct Lines {
    steps: Mutex<HashMap<String, Activity>>,
    /// The width of the longest component name, for aligned lines.
    width: Mutex<usize>,
}

impl Progress for Lines {
    fn event(&self, event: Event) {
        match event {
            Event::Stage { what, stage } => {
                let mut steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
                steps.entry(what.clone()).or_insert_with(|| Activity::lines(&what)).stage(&stage);
            }
            Event::Finished { what, outcome } => {
                let step = self.steps.lock().unwrap_or_else(PoisonError::into_inner).remove(&what);
                if let Some(step) = step {
                    step.finish(&outcome);
                }
            }
            Event::Starting { components } => {
                *self.width.lock().unwrap_or_else(PoisonError::into_inner) =
                    components.iter().map(String::len).max().unwrap_or(0);
            }
            Event::Component { name, state, spawned, after } => {
                let width = *self.width.lock().unwrap_or_else(PoisonError::into_inner);
                eprintln!("{name:<width$} {}", component_message(state, spawned, after));
            }
            Event::LogTail { log, lines, .. } => eprintln!("{}", last_lines(&log, &lines)),
            Event::Warning { text } => eprintln!("{} {text}", style::warn("warning:")),
            // Live figures are for a person watching; a log gets the report.
            Event::Transfer { .. } | Event::Transferred { .. } | Event::Load { .. } | Event::Checking { .. } => {}
        }
    }
}

/// A component's state as `up` shows it.
fn component_message(state: ComponentState, spawned: bool, after: Duration) -> String {
    match state {
        ComponentState::Starting if spawned => style::warn("starting"),
        ComponentState::Starting => "waiting for dependencies".to_owned(),
        ComponentState::Running => style::good(&format!("healthy ({:.1}s)", after.as_secs_f64())),
        ComponentState::Failed => style::bad("failed"),
        ComponentState::Stopped => "stopped".to_owned(),
        ComponentState::Disabled => "disabled".to_owned(),
    }
}

fn last_lines(log: &str, lines: &str) -> String {
    format!("{} the last lines of {log}:\n{lines}", style::bold("---"))
}

fn download_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:40!} [{bar:25}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}")
        .expect("template is valid")
        .progress_chars("=> ")
}

fn load_bar(multi: &MultiProgress, duration: Duration) -> ProgressBar {
    let bar = multi.add(
        ProgressBar::new(duration.as_millis() as u64).with_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise} / {len_secs}s] {wide_bar} {msg}")
                .expect("template is valid")
                .with_key("len_secs", |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}", s.len().unwrap_or(0) / 1000);
                }),
        ),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
