//! How far the Collector has delivered the spans it took in, from its own counters:
//! every span it accepted by a moment has left it (sent to Jaeger, which writes before
//! acknowledging, or given up on) once its sent and failed counts reach the accepted
//! count of that moment. The trace check asks Jaeger for a trace only after that, so
//! a Jaeger that is behind is not asked for traces it does not have yet: each lookup
//! costs Jaeger's storage a read, and the reads were half of what slowed it down.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::health::span_counters::SpanCounters;

/// How often the counters are read.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// How long reads may fail before the counters are taken to be gone.
const GIVE_UP: Duration = Duration::from_secs(5);

/// The Collector's span counters, read over time.
pub struct Delivery {
    client: reqwest::Client,
    /// The Collector's metrics URL (`http://127.0.0.1:8888/metrics`).
    url: String,
    /// When each read was, and how many spans the Collector had accepted by then; only
    /// reads not yet known delivered are kept.
    pending: VecDeque<(Instant, u64)>,
    /// The latest read whose spans have all left the Collector.
    delivered_by: Option<Instant>,
    last_read: Option<Instant>,
    /// Since when every read has failed.
    failing_since: Option<Instant>,
    /// Whether the counters have been read, and not failed for long since.
    known: bool,
    /// When this watch began, before any request it is asked about.
    created: Instant,
}

impl Delivery {
    /// Reads the Collector's metrics at `url`.
    pub fn new(url: String) -> Self {
        let client = crate::http::local_client(Duration::from_secs(2));
        Self {
            client,
            url,
            pending: VecDeque::new(),
            delivered_by: None,
            last_read: None,
            failing_since: None,
            known: false,
            created: Instant::now(),
        }
    }

    /// When the next read is due.
    pub fn next_read(&self) -> Instant {
        self.last_read.map_or_else(Instant::now, |at| at + SAMPLE_EVERY)
    }

    /// The latest moment by which every span the Collector had accepted has left it,
    /// reading its counters again when the last read is old. `None` while that is not
    /// known: no read yet, or reads failing for [`GIVE_UP`] (the check then goes by
    /// time). Until the first spans have left, the moment this watch began.
    pub async fn delivered_by(&mut self) -> Option<Instant> {
        if self.next_read() <= Instant::now() {
            let at = Instant::now();
            self.last_read = Some(at);
            match self.read().await {
                Some(counts) => {
                    self.failing_since = None;
                    self.known = true;
                    self.record(at, counts);
                }
                // One failed read (a kept-alive connection closing under load) keeps
                // what is known; reads failing for long mean the Collector is gone.
                None if self.failing_since.get_or_insert(at).elapsed() < GIVE_UP => {}
                None => {
                    self.pending.clear();
                    self.delivered_by = None;
                    self.known = false;
                }
            }
        }
        // Known, with nothing delivered yet: nothing since this watch began either.
        self.known.then(|| self.delivered_by.unwrap_or(self.created))
    }

    async fn read(&self) -> Option<SpanCounters> {
        let answer = self.client.get(&self.url).send().await.ok()?.error_for_status().ok()?;
        SpanCounters::parse(&answer.text().await.ok()?)
    }

    fn record(&mut self, at: Instant, counts: SpanCounters) {
        // A restarted Collector counts from zero again: earlier reads say nothing.
        if self.pending.back().is_some_and(|(_, accepted)| *accepted > counts.accepted) {
            self.pending.clear();
        }
        self.pending.push_back((at, counts.accepted));
        while let Some(&(read_at, accepted)) = self.pending.front() {
            if accepted > counts.left() {
                break;
            }
            self.delivered_by = Some(read_at);
            self.pending.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counters with `accepted` spans taken in and `left` sent on.
    fn counts(accepted: u64, left: u64) -> SpanCounters {
        SpanCounters { accepted, sent: left, ..SpanCounters::default() }
    }

    #[test]
    fn a_moment_is_delivered_once_what_was_accepted_by_then_has_left() {
        let mut d = Delivery::new(String::new());
        let t0 = Instant::now();
        let t = |ms| t0 + Duration::from_millis(ms);
        d.record(t(0), counts(100, 100));
        assert_eq!(d.delivered_by, Some(t(0)));
        d.record(t(200), counts(500, 120));
        d.record(t(400), counts(900, 480));
        assert_eq!(d.delivered_by, Some(t(0)), "what was accepted by 200 ms has not all left");
        d.record(t(600), counts(1000, 950));
        assert_eq!(d.delivered_by, Some(t(400)));
        // A restart: the counters begin again, and only later reads count.
        d.record(t(800), counts(10, 0));
        assert_eq!(d.delivered_by, Some(t(400)));
        d.record(t(1000), counts(20, 20));
        assert_eq!(d.delivered_by, Some(t(1000)));
    }
}
