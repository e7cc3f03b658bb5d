//! One component's life under the supervisor: wait for its dependencies, spawn it in
//! its own process group, gate on its readiness probes, restart it after a crash with
//! backoff, and stop it when asked.

use std::io::Write;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::state::{ComponentState, ProcessId, StackState, now_secs};
use crate::health::{ProbePolicy, Prober};
use crate::platform;
use crate::stack::RestartMode;
use crate::stack::process::ProcessSpec;

/// How a component is brought back after it crashes (how often at most, and
/// whether after a clean exit too, is each process's own `Restart`).
#[derive(Clone, Copy, Debug)]
pub struct RestartPolicy {
    /// Wait before the second restart (the first is immediate: one crash is most
    /// often just that); doubled each time up to `max_backoff`.
    pub initial_backoff: Duration,
    /// The longest wait between restarts.
    pub max_backoff: Duration,
    /// A run healthy this long ends a crash streak: the next crash restarts at once
    /// again and counts afresh against the limit, so a component that crashes once
    /// an hour is never given up on, while one that crashes on every start is.
    pub stable_after: Duration,
    /// Time between SIGTERM and SIGKILL when stopping.
    pub grace: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            stable_after: Duration::from_secs(30),
            grace: Duration::from_secs(10),
        }
    }
}

/// What dependents see of a component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Not ready yet.
    Pending,
    /// Its probes passed.
    Ready,
    /// It will not become ready; dependents give up too.
    Failed,
}

/// Shared between the supervisor and every component task.
#[derive(Clone)]
pub struct Shared {
    /// The state, persisted to `state.json` on every change.
    pub state: Arc<Mutex<StackState>>,
    /// Where `state.json` lives.
    pub state_json: std::path::PathBuf,
    /// The restart policy.
    pub policy: RestartPolicy,
}

impl Shared {
    /// Changes the record of `name` and writes `state.json`.
    pub fn update(&self, name: &str, f: impl FnOnce(&mut super::state::ComponentRecord)) {
        let mut state = self.state.lock().expect("state lock is never poisoned: no panics under it");
        if let Some(rec) = state.components.iter_mut().find(|c| c.name == name) {
            f(rec);
        }
        if let Err(e) = state.write(&self.state_json) {
            super::note(format_args!("cannot write state.json: {e}"));
        }
    }
}

/// How one run of the process ended.
enum Ended {
    /// Stopped on request.
    Stopped,
    /// Exited on its own: how, and whether it was a clean exit (status 0).
    Exited(String, bool),
}

/// Runs component `spec` until it is stopped or fails for good.
pub async fn run(
    spec: ProcessSpec,
    shared: Shared,
    mut dependencies: Vec<watch::Receiver<Readiness>>,
    readiness: watch::Sender<Readiness>,
    mut stop: watch::Receiver<bool>,
    mut held: watch::Receiver<bool>,
) {
    let name = spec.name.clone();
    for dep in &mut dependencies {
        let dependency_ready = tokio::select! {
            r = dep.wait_for(|r| *r != Readiness::Pending) => matches!(r.as_deref(), Ok(Readiness::Ready)),
            _ = stop.wait_for(|s| *s) => {
                shared.update(&name, |c| c.state = ComponentState::Stopped);
                return;
            }
        };
        if !dependency_ready {
            shared.update(&name, |c| {
                c.state = ComponentState::Failed;
                c.last_exit = Some("not started: a dependency failed".into());
            });
            readiness.send_replace(Readiness::Failed);
            return;
        }
    }
    let prober = Prober::new(ProbePolicy::default().timeout);
    let mut backoff = Duration::ZERO;
    // All restarts (shown by `status`), and those since the last stable run (limited).
    let (mut restarts, mut streak) = (0, 0);
    loop {
        let mut child = match spawn(&spec, &shared, restarts) {
            Ok(child) => child,
            Err(e) => {
                let _ = append_log(&shared, &name, &format!("obsdemo: cannot start {}: {e}", spec.program.display()));
                shared.update(&name, |c| {
                    c.state = ComponentState::Failed;
                    c.last_exit = Some(format!("cannot start: {e}"));
                });
                readiness.send_replace(Readiness::Failed);
                return;
            }
        };
        let pid = child.id().expect("a just-spawned child has a pid");
        let was_ready = *readiness.borrow() == Readiness::Ready;
        let exited_before_ready = tokio::select! {
            () = wait_ready(&spec, &prober) => None,
            ended = wait_exit(&mut child, pid, &mut stop, shared.policy.grace) => Some(ended),
        };
        let ended = match exited_before_ready {
            Some(ended) => ended,
            None => {
                shared.update(&name, |c| c.state = ComponentState::Running);
                readiness.send_replace(Readiness::Ready);
                let ready_at = tokio::time::Instant::now();
                let ended = wait_exit(&mut child, pid, &mut stop, shared.policy.grace).await;
                if ready_at.elapsed() >= shared.policy.stable_after {
                    (backoff, streak) = (Duration::ZERO, 0);
                }
                ended
            }
        };
        match ended {
            Ended::Stopped => {
                shared.update(&name, |c| {
                    c.state = ComponentState::Stopped;
                    c.process = None;
                });
                return;
            }
            Ended::Exited(status, clean) => {
                let ever_ready = was_ready || *readiness.borrow() == Readiness::Ready;
                let _ = append_log(&shared, &name, &format!("obsdemo: {name} exited: {status}"));
                if *held.borrow() {
                    // Stopped on request (the console's Stop): it waits, stopped, until
                    // it is started again; that is neither a crash nor a restart.
                    shared.update(&name, |c| {
                        c.state = ComponentState::Stopped;
                        c.process = None;
                        c.last_exit = Some(format!("{status} (stopped on request)"));
                    });
                    tokio::select! {
                        _ = held.wait_for(|h| !*h) => {
                            shared.update(&name, |c| c.state = ComponentState::Starting);
                            continue;
                        }
                        _ = stop.wait_for(|s| *s) => return,
                    }
                }
                // A component that dies before it was ever ready has a configuration or
                // environment problem that a restart will not fix: fail fast instead.
                let wanted = match spec.restart.mode {
                    RestartMode::Always => true,
                    RestartMode::OnFailure => !clean,
                    RestartMode::Never => false,
                };
                if clean && !wanted {
                    // It finished its work: that is not a failure.
                    shared.update(&name, |c| {
                        c.state = ComponentState::Stopped;
                        c.process = None;
                        c.last_exit = Some(status);
                    });
                    readiness.send_replace(Readiness::Failed);
                    return;
                }
                if !ever_ready || !wanted || streak >= spec.restart.max {
                    shared.update(&name, |c| {
                        c.state = ComponentState::Failed;
                        c.process = None;
                        c.last_exit = Some(status);
                    });
                    readiness.send_replace(Readiness::Failed);
                    return;
                }
                restarts += 1;
                streak += 1;
                shared.update(&name, |c| {
                    c.state = ComponentState::Starting;
                    c.process = None;
                    c.restarts = restarts;
                    c.last_exit = Some(status);
                });
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|s| *s) => {
                        shared.update(&name, |c| c.state = ComponentState::Stopped);
                        return;
                    }
                }
                backoff = (backoff * 2).clamp(shared.policy.initial_backoff, shared.policy.max_backoff);
            }
        }
    }
}

/// Starts the process, its output appended to the component's log.
fn spawn(spec: &ProcessSpec, shared: &Shared, attempt: u32) -> std::io::Result<Child> {
    let log = append_log(
        shared,
        &spec.name,
        &format!(
            "obsdemo: starting {} (attempt {}): {} {}",
            spec.name,
            attempt + 1,
            spec.program.display(),
            spec.args.join(" ")
        ),
    )?;
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(false);
    if let Some(dir) = &spec.workdir {
        cmd.current_dir(dir);
    }
    platform::own_group_dies_with_parent(&mut cmd);
    let child = cmd.spawn()?;
    platform::adopt(&child);
    let pid = child.id().expect("a just-spawned child has a pid");
    let identity = ProcessId::of(pid);
    shared.update(&spec.name, |c| {
        c.state = ComponentState::Starting;
        c.process = identity.or(Some(ProcessId { pid, start_time: 0 }));
        c.started_at = Some(now_secs());
    });
    Ok(child)
}

/// Opens the component's log for appending and writes one obsdemo line to it.
fn append_log(shared: &Shared, name: &str, line: &str) -> std::io::Result<std::fs::File> {
    let path = {
        let state = shared.state.lock().expect("state lock is never poisoned");
        state.components.iter().find(|c| c.name == name).map(|c| c.log.clone())
    }
    .ok_or_else(|| std::io::Error::other(format!("no record for {name}")))?;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    if let Err(e) = writeln!(f, "{line}") {
        // A full disk must not stop the stack: the component still runs, and logs
        // again once there is room.
        super::note(format_args!("cannot write to {}: {e}", path.display()));
    }
    Ok(f)
}

/// Returns once every probe of `spec` passes. Polls; never sleeps a fixed warm-up.
async fn wait_ready(spec: &ProcessSpec, prober: &Prober) {
    let period = ProbePolicy::default().period;
    loop {
        if prober.check_all(&spec.probes).await.iter().all(|r| r.ok) {
            return;
        }
        tokio::time::sleep(period).await;
    }
}

/// Waits for the process to exit, or stops its group when `stop` turns true.
async fn wait_exit(child: &mut Child, pgid: u32, stop: &mut watch::Receiver<bool>, grace: Duration) -> Ended {
    let stopping = tokio::select! {
        status = child.wait() => return match status {
            Ok(s) => Ended::Exited(s.to_string(), s.success()),
            Err(e) => Ended::Exited(format!("unknown ({e})"), false),
        },
        stop = stop.wait_for(|s| *s) => stop.is_ok(),
    };
    debug_assert!(stopping, "the supervisor holds every stop sender until its components end");
    platform::stop_group(pgid, grace).await;
    let _ = child.wait().await;
    Ended::Stopped
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::stack::process::Restart;
    use crate::supervisor::state::ComponentRecord;

    /// A run this long ends a crash streak in these tests.
    const STABLE_AFTER: Duration = Duration::from_secs(1);

    /// Runs `sh -c script` as a component allowed 2 restarts in a streak, until it
    /// fails for good or `at_most` passes (then it is stopped); returns its record.
    async fn supervise(script: &str, at_most: Duration) -> ComponentRecord {
        let dir = tempfile::tempdir().unwrap();
        let spec = ProcessSpec {
            name: "crasher".into(),
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![],
            depends_on: vec![],
            feeds: vec![],
            probes: vec![],
            ports: vec![],
            url: None,
            restart: Restart { mode: RestartMode::Always, max: 2 },
            workdir: None,
            ui: None,
        };
        let record = ComponentRecord {
            name: "crasher".into(),
            url: None,
            ui: None,
            state: ComponentState::Starting,
            process: None,
            started_at: None,
            restarts: 0,
            last_exit: None,
            probes: vec![],
            ports: vec![],
            log: dir.path().join("crasher.log"),
        };
        let state = StackState {
            supervisor: ProcessId::of(std::process::id()).unwrap(),
            bind: "127.0.0.1".into(),
            endpoints: Default::default(),
            components: vec![record],
        };
        let policy = RestartPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            stable_after: STABLE_AFTER,
            grace: Duration::from_secs(1),
        };
        let shared = Shared { state: Arc::new(Mutex::new(state)), state_json: dir.path().join("state.json"), policy };
        let (ready, _readiness) = watch::channel(Readiness::Pending);
        let (stop_tx, stop) = watch::channel(false);
        let (_hold, held) = watch::channel(false);
        let mut task = tokio::spawn(run(spec, shared.clone(), vec![], ready, stop, held));
        tokio::select! {
            _ = &mut task => {}
            () = tokio::time::sleep(at_most) => {
                stop_tx.send_replace(true);
                task.await.unwrap();
            }
        }
        shared.state.lock().unwrap().components[0].clone()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_component_crashing_on_every_start_is_given_up_after_its_restarts() {
        let record = supervise("exit 3", Duration::from_secs(10)).await;
        assert_eq!(record.state, ComponentState::Failed, "{record:?}");
        assert_eq!(record.restarts, 2, "{record:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_stable_run_ends_the_crash_streak_so_occasional_crashes_never_fail_it() {
        // Each run outlives STABLE_AFTER, so every crash starts a new streak.
        let record = supervise("sleep 1.3; exit 3", Duration::from_secs(6)).await;
        assert_eq!(record.state, ComponentState::Stopped, "stopped by the test, never failed: {record:?}");
        assert!(record.restarts >= 3, "restarted past the streak limit of 2: {record:?}");
    }
}
