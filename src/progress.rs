//! What an operation tells while it works, and to whom. An operation (`ops`) sends
//! [`Event`]s to a [`Progress`] sink and knows nothing of where they go: the terminal
//! draws bars (`cli::progress::Bars`), a log gets plain lines (`cli::progress::Lines`),
//! the console streams them to the browser as they are (they serialize to JSON).

use std::time::Duration;

use serde::Serialize;

use crate::supervisor::state::ComponentState;

/// One thing that happened while an operation worked.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A long step (a download, a source build) entered a stage: `what` is the step,
    /// such as `prometheus 3.5.0`, `stage` what it does now, such as `compiling`.
    Stage {
        /// The step.
        what: String,
        /// What it does now.
        stage: String,
    },
    /// A long step ended.
    Finished {
        /// The step.
        what: String,
        /// How it ended, such as `built` or `failed`.
        outcome: String,
    },
    /// Bytes of a download arrived.
    Transfer {
        /// The file downloaded.
        file: String,
        /// Bytes so far.
        done: u64,
        /// Bytes in all, when the server said.
        total: Option<u64>,
    },
    /// A download ended (whether or not it succeeded).
    Transferred {
        /// The file downloaded.
        file: String,
    },
    /// The stack's components, before they start.
    Starting {
        /// Every component, in start order.
        components: Vec<String>,
    },
    /// A component's state changed while the stack starts.
    Component {
        /// Its name.
        name: String,
        /// Its state.
        state: ComponentState,
        /// Whether its process has been started (a starting component may still wait
        /// for its dependencies).
        spawned: bool,
        /// Time since the operation began.
        #[serde(with = "millis")]
        after: Duration,
    },
    /// A component did not start: the end of its log, so a person sees why.
    LogTail {
        /// The component.
        component: String,
        /// Its log file.
        log: String,
        /// The last lines.
        lines: String,
    },
    /// A moment of a running load.
    Load {
        /// Time since the load began.
        #[serde(with = "millis")]
        elapsed: Duration,
        /// How long it runs in all.
        #[serde(with = "millis")]
        duration: Duration,
        /// Requests finished so far.
        finished: u64,
        /// Of those, not successful.
        errors: u64,
        /// Requests finished per second over the last tick.
        current_rps: f64,
        /// Median latency so far.
        #[serde(with = "fractional_millis")]
        p50: Duration,
        /// p90 latency so far.
        #[serde(with = "fractional_millis")]
        p90: Duration,
        /// p99 latency so far.
        #[serde(with = "fractional_millis")]
        p99: Duration,
        /// Errors so far, by kind (`HTTP 402`, `timeout`, ...).
        errors_by_kind: std::collections::BTreeMap<String, u64>,
        /// Connections open.
        connections: usize,
    },
    /// The load is over; its traces are being looked for.
    Checking {
        /// Traces expected so far.
        expected: u64,
        /// Of those, found complete.
        complete: u64,
        /// What the check waits for, as a person reads it.
        message: String,
    },
    /// Something a person should read now, though the operation goes on.
    Warning {
        /// What.
        text: String,
    },
}

/// Where an operation's [`Event`]s go. Called from any thread, so it must not block
/// for long.
pub trait Progress: Send + Sync {
    /// Hears `event`.
    fn event(&self, event: Event);
}

/// A sink that drops every event: for callers that only want the report.
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _: Event) {}
}

/// Durations as whole milliseconds, as every report of obsdemo writes them.
mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis().min(u128::from(u64::MAX)) as u64)
    }
}

/// Latencies as milliseconds with their fraction (a loopback answer takes less than one).
mod fractional_millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_their_name_and_times_in_milliseconds() {
        let event = Event::Component {
            name: "jaeger".into(),
            state: ComponentState::Running,
            spawned: true,
            after: Duration::from_millis(1500),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["event"], "component");
        assert_eq!(json["after"], 1500);
        assert_eq!(json["state"], serde_json::to_value(ComponentState::Running).unwrap());
    }
}
