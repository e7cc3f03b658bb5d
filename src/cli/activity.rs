//! A long step (a download, a source build) shown to whoever reads stderr: a spinner
//! on a terminal; where stderr is a log or a pipe (CI, `| tee`), plain lines as cargo
//! prints them: one when the step starts, one at each stage (with the time it began),
//! one every 30 s while a stage lasts, and one when it ends, with its time.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// How often a log hears that a stage is still under way.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// Where plain lines go.
type Sink = Box<dyn Write + Send>;

/// One long step, shown until [`Activity::finish`] or drop.
pub struct Activity {
    shared: Arc<Shared>,
    bar: ProgressBar,
    heartbeat: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Plain lines go here; `None` on a terminal, where the spinner shows everything.
    lines: Option<Mutex<Sink>>,
}

struct State {
    /// What is being done, such as `prometheus 3.5.0`.
    what: String,
    /// The current stage, such as `compiling`.
    stage: String,
    /// When the step began.
    began: Instant,
    /// When the current stage began.
    stage_began: Instant,
    done: bool,
}

impl Activity {
    /// Shows `what` as a spinner among the bars of `bars` (downloads show theirs there
    /// too; two draw targets on one terminal would overwrite each other).
    pub fn bar(what: &str, bars: &MultiProgress) -> Self {
        let bar = bars.add(ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {msg}").expect("template is valid"),
        ));
        bar.enable_steady_tick(Duration::from_millis(120));
        Self::new(what, bar, None, HEARTBEAT)
    }

    /// Tells `what` in plain lines on stderr, for a log or a pipe.
    pub fn lines(what: &str) -> Self {
        Self::new(what, ProgressBar::hidden(), Some(Box::new(std::io::stderr())), HEARTBEAT)
    }

    fn new(what: &str, bar: ProgressBar, lines: Option<Sink>, heartbeat: Duration) -> Self {
        bar.set_prefix(what.to_owned());
        let now = Instant::now();
        let state = State { what: what.to_owned(), stage: String::new(), began: now, stage_began: now, done: false };
        let shared = Arc::new(Shared { state: Mutex::new(state), wake: Condvar::new(), lines: lines.map(Mutex::new) });
        let heartbeat = shared.lines.is_some().then(|| {
            let shared = shared.clone();
            std::thread::spawn(move || shared.beat(heartbeat))
        });
        Self { shared, bar, heartbeat }
    }

    /// Enters `stage`; a log gets a line for it.
    pub fn stage(&self, stage: &str) {
        let mut state = self.shared.lock();
        if state.stage == stage {
            return;
        }
        state.stage = stage.to_owned();
        state.stage_began = Instant::now();
        self.bar.set_message(stage.to_owned());
        // When each stage began, so a log shows how long each took.
        let at = state.began.elapsed();
        match at >= Duration::from_secs(1) {
            true => self.shared.line(&format!("{}: {stage} (at {})", state.what, clock(at))),
            false => self.shared.line(&format!("{}: {stage}", state.what)),
        }
    }

    /// Ends the step; a log gets `outcome` and how long the step took, unless no
    /// stage was ever entered (nothing was done: nothing to report).
    pub fn finish(mut self, outcome: &str) {
        {
            let state = self.shared.lock();
            if !state.stage.is_empty() {
                self.shared.line(&format!("{}: {outcome} after {}", state.what, clock(state.began.elapsed())));
            }
        }
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.lock().done = true;
        self.shared.wake.notify_all();
        if let Some(beat) = self.heartbeat.take() {
            let _ = beat.join();
        }
        self.bar.finish_and_clear();
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A plain line, if plain lines are wanted; a closed stderr is not worth a panic.
    fn line(&self, text: &str) {
        if let Some(lines) = &self.lines {
            let mut out = lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }

    /// Says every `every` that the current stage goes on, until the step is done.
    fn beat(&self, every: Duration) {
        let mut state = self.lock();
        // `done` is checked before each wait: the step may end before this thread runs.
        while !state.done {
            let (next, _) = self.wake.wait_timeout(state, every).unwrap_or_else(std::sync::PoisonError::into_inner);
            state = next;
            if state.done {
                return;
            }
            if !state.stage.is_empty() && state.stage_began.elapsed() >= every {
                let line = format!("{}: still {} ({} so far)", state.what, state.stage, clock(state.began.elapsed()));
                self.line(&line);
            }
        }
    }
}

/// `4m12s`, `12.3s`: as a person reads a build's time.
pub fn clock(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 { format!("{}m{:02}s", secs / 60, secs % 60) } else { format!("{:.1}s", d.as_secs_f64()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_log_hears_each_stage_a_heartbeat_while_it_lasts_and_the_end_with_its_time() {
        let out = Captured::default();
        let activity = Activity::new(
            "prometheus 3.5.0",
            ProgressBar::hidden(),
            Some(Box::new(out.clone())),
            Duration::from_millis(50),
        );
        activity.stage("resolving modules");
        activity.stage("compiling");
        std::thread::sleep(Duration::from_millis(180));
        activity.finish("built");
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[..2], ["prometheus 3.5.0: resolving modules", "prometheus 3.5.0: compiling"], "{text}");
        let beats = lines.iter().filter(|l| l.starts_with("prometheus 3.5.0: still compiling (")).count();
        assert!((2..=4).contains(&beats), "a heartbeat per period: {text}");
        assert!(lines.last().unwrap().starts_with("prometheus 3.5.0: built after "), "{text}");
    }

    #[test]
    fn a_quick_step_has_no_heartbeat_and_a_terminal_gets_no_lines() {
        let out = Captured::default();
        let activity = Activity::new("jaeger", ProgressBar::hidden(), Some(Box::new(out.clone())), HEARTBEAT);
        activity.stage("checking");
        activity.finish("already built");
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        let idle = Activity::new("nothing", ProgressBar::hidden(), Some(Box::new(out.clone())), HEARTBEAT);
        idle.finish("done");
        assert_eq!(String::from_utf8(out.0.lock().unwrap().clone()).unwrap(), text, "no stage, no line");
        let quiet = Activity::new("jaeger", ProgressBar::hidden(), None, HEARTBEAT);
        quiet.stage("checking");
        quiet.finish("done");
    }

    #[test]
    fn times_read_as_a_person_says_them() {
        assert_eq!(clock(Duration::from_millis(12_345)), "12.3s");
        assert_eq!(clock(Duration::from_secs(252)), "4m12s");
    }
}
