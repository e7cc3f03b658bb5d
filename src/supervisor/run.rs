//! The supervisor process itself (`obsdemo supervise`, started detached by `up`).
//!
//! It reads `rendered/launch.json`, owns every component as a child, serves the
//! control socket, and on a stop request or SIGTERM/SIGINT stops the components in
//! reverse start order, waits for their ports to be free, and exits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::child::{self, Readiness, RestartPolicy, Shared};
use super::control;
use super::launch::SupervisorError;
use super::state::{ComponentRecord, ComponentState, ProcessId, StackState};
use crate::platform::wait_ports_free;
use crate::stack::StatePaths;
use crate::stack::process::{Launch, ProcessSpec};

/// Runs the supervisor for the state dir `paths` until the stack is stopped by a
/// client or `shutdown` is cancelled.
///
/// Run it on a single-threaded runtime (`crate::runtime::Threads::One`): the
/// parent-death signal of each child is tied to the thread that spawned it, and this
/// way that thread is the process.
pub async fn run(paths: &StatePaths, shutdown: CancellationToken) -> Result<(), SupervisorError> {
    if let Some(why) = crate::platform::SUPERVISION_UNSUPPORTED {
        return Err(SupervisorError::Unsupported(why));
    }
    let launch = Launch::read(paths)?;
    let socket = paths.socket();
    let listener = super::transport::bind(&socket).map_err(SupervisorError::io("listen on", &socket))?;
    let supervisor = ProcessId::of(std::process::id()).ok_or_else(|| {
        SupervisorError::io("read its own process entry", "/proc")(std::io::Error::other("not visible"))
    })?;

    let record = |name: &str, state, probes, ports, url, ui| ComponentRecord {
        name: name.to_owned(),
        url,
        ui,
        state,
        process: None,
        started_at: None,
        restarts: 0,
        last_exit: None,
        probes,
        ports,
        log: paths.log(name),
    };
    let mut components: Vec<ComponentRecord> = launch
        .specs
        .iter()
        .map(|s| {
            record(&s.name, ComponentState::Starting, s.probes.clone(), s.ports.clone(), s.url.clone(), s.ui.clone())
        })
        .collect();
    components.extend(launch.disabled.iter().map(|n| record(n, ComponentState::Disabled, vec![], vec![], None, None)));
    let state =
        StackState { supervisor, bind: launch.bind.to_string(), endpoints: launch.endpoints.clone(), components };
    state.write(&paths.state_json()).map_err(SupervisorError::io("write", paths.state_json()))?;
    let shared =
        Shared { state: Arc::new(Mutex::new(state)), state_json: paths.state_json(), policy: RestartPolicy::default() };

    // Start every component task now; each waits on its own dependencies' readiness,
    // so independent components start in parallel.
    let mut readiness: HashMap<String, watch::Receiver<Readiness>> = HashMap::new();
    let mut tasks = HashMap::new();
    let mut holds = HashMap::new();
    for spec in launch.specs.iter().cloned() {
        let (ready_tx, ready_rx) = watch::channel(Readiness::Pending);
        let (stop_tx, stop_rx) = watch::channel(false);
        let (hold_tx, hold_rx) = watch::channel(false);
        holds.insert(spec.name.clone(), hold_tx);
        let deps = spec.depends_on.iter().filter_map(|d| readiness.get(d).cloned()).collect();
        readiness.insert(spec.name.clone(), ready_rx);
        let spec_name = spec.name.clone();
        let handle = tokio::spawn(child::run(spec, shared.clone(), deps, ready_tx, stop_rx, hold_rx));
        tasks.insert(spec_name, (stop_tx, handle));
    }

    let (stops_tx, mut stops) = mpsc::channel(8);
    let snapshot = shared.state.clone();
    tokio::spawn(control::serve(
        listener,
        move || snapshot.lock().expect("state lock is never poisoned").clone(),
        stops_tx,
        holds,
    ));

    let first_requester = tokio::select! {
        r = stops.recv() => r,
        () = shutdown.cancelled() => None,
    };

    stop_in_waves(&launch.specs, tasks).await;
    let ports = shared.state.lock().expect("state lock is never poisoned").ports();
    let busy = wait_ports_free(launch.bind, &ports, Duration::from_secs(15)).await;
    if !busy.is_empty() {
        super::note(format_args!("ports still in use after stop: {busy:?}"));
    }
    let _ = std::fs::remove_file(&socket);
    for requester in first_requester.into_iter().chain(std::iter::from_fn(|| stops.try_recv().ok())) {
        let _ = requester.send(());
    }
    // Let the control task write its answer before the runtime is dropped; the client
    // also accepts a closed connection once the socket is gone.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

/// Stops every component in waves: a component stops once everything that depends on
/// it or sends data to it has stopped (services and apps, then the Collector, then
/// the backends), and the components of one wave stop in parallel, so `down` takes
/// the longest chain of stops, not their sum.
async fn stop_in_waves(specs: &[ProcessSpec], mut tasks: HashMap<String, ComponentTask>) {
    while !tasks.is_empty() {
        let wave: Vec<String> = tasks
            .keys()
            .filter(|name| {
                !specs.iter().any(|s| {
                    tasks.contains_key(&s.name)
                        && s.name != **name
                        && (s.depends_on.contains(name) || s.feeds.contains(name))
                })
            })
            .cloned()
            .collect();
        // A cycle cannot be planned, but if one were, stop the rest at once.
        let wave = if wave.is_empty() { tasks.keys().cloned().collect() } else { wave };
        let stopping: Vec<ComponentTask> = wave.iter().filter_map(|name| tasks.remove(name)).collect();
        for (stop, _) in &stopping {
            stop.send_replace(true);
        }
        for (_, handle) in stopping {
            let _ = handle.await;
        }
    }
}

/// A component's stop switch and its task.
type ComponentTask = (watch::Sender<bool>, tokio::task::JoinHandle<()>);
