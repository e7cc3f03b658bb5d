//! What a run measured: latencies in an HDR histogram, answers by status code, and
//! failures by kind. Each worker records into its own [`Recorder`]; the report merges
//! them, so workers never contend.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Latencies are recorded in microseconds, from 1 µs to 1 hour, 3 significant digits.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("bounds are valid")
}

/// One worker's (or the whole run's) measurements.
#[derive(Clone, Debug)]
pub struct Recorder {
    /// Latency of every request that got an answer, from when it was sent, in µs.
    pub latency: Histogram<u64>,
    /// Open loop: how long after it was due each request was sent, in µs. Above a
    /// millisecond, the client (its connections or its CPU) held the request back.
    pub lag: Histogram<u64>,
    /// Answers by HTTP status.
    pub by_status: BTreeMap<u16, u64>,
    /// Requests that got no answer, by kind (`connect`, `timeout`, `io`).
    pub failures: BTreeMap<&'static str, u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self { latency: new_histogram(), lag: new_histogram(), by_status: BTreeMap::new(), failures: BTreeMap::new() }
    }
}

impl Recorder {
    /// Records an answer with status `status` after `latency`.
    pub fn answered(&mut self, status: u16, latency: Duration) {
        self.latency.saturating_record(latency.as_micros().max(1) as u64);
        *self.by_status.entry(status).or_default() += 1;
    }

    /// Records that a request was sent `lag` after it was due.
    pub fn left(&mut self, lag: Duration) {
        self.lag.saturating_record(lag.as_micros().max(1) as u64);
    }

    /// Records a request that got no answer.
    pub fn failed(&mut self, kind: &'static str) {
        *self.failures.entry(kind).or_default() += 1;
    }

    /// Adds `other` into this one.
    pub fn merge(&mut self, other: &Recorder) {
        self.latency.add(&other.latency).expect("histograms have the same bounds");
        self.lag.add(&other.lag).expect("histograms have the same bounds");
        for (status, n) in &other.by_status {
            *self.by_status.entry(*status).or_default() += n;
        }
        for (kind, n) in &other.failures {
            *self.failures.entry(kind).or_default() += n;
        }
    }

    /// Requests sent and finished (answered or failed).
    pub fn total(&self) -> u64 {
        self.answers() + self.failures.values().sum::<u64>()
    }

    /// Requests that got an HTTP answer.
    pub fn answers(&self) -> u64 {
        self.by_status.values().sum()
    }

    /// Requests answered with a 2xx.
    pub fn successes(&self) -> u64 {
        self.by_status.iter().filter(|(s, _)| (200..300).contains(*s)).map(|(_, n)| n).sum()
    }

    /// Each kind of error and how many: `HTTP 402` for an answer that is not 2xx, the
    /// failure's kind (`connect`, `timeout`, `io`) for a request without one.
    pub fn errors_by_kind(&self) -> BTreeMap<String, u64> {
        let answers =
            self.by_status.iter().filter(|(s, _)| !(200..300).contains(*s)).map(|(s, n)| (format!("HTTP {s}"), *n));
        answers.chain(self.failures.iter().map(|(k, n)| ((*k).to_owned(), *n))).collect()
    }

    /// Requests that did not succeed: non-2xx answers and failures.
    pub fn errors(&self) -> u64 {
        self.total() - self.successes()
    }

    /// The send lag at `quantile` (0.0 to 1.0).
    pub fn lag_at(&self, quantile: f64) -> Duration {
        Duration::from_micros(self.lag.value_at_quantile(quantile))
    }

    /// Requests sent more than `threshold` after they were due.
    pub fn late(&self, threshold: Duration) -> u64 {
        let t = threshold.as_micros() as u64;
        self.lag.iter_recorded().filter(|v| v.value_iterated_to() > t).map(|v| v.count_at_value()).sum()
    }

    /// The latency at `quantile` (0.0 to 1.0).
    pub fn latency_at(&self, quantile: f64) -> Duration {
        Duration::from_micros(self.latency.value_at_quantile(quantile))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_counts_and_merging() {
        let mut a = Recorder::default();
        for ms in 1..=100 {
            a.answered(200, Duration::from_millis(ms));
        }
        let mut b = Recorder::default();
        b.answered(402, Duration::from_millis(1000));
        b.failed("timeout");
        b.failed("connect");
        a.merge(&b);
        assert_eq!(a.total(), 103);
        assert_eq!(a.answers(), 101);
        assert_eq!(a.successes(), 100);
        assert_eq!(a.errors(), 3);
        let p50 = a.latency_at(0.5).as_secs_f64() * 1000.0;
        assert!((50.0..=51.1).contains(&p50), "{p50}");
        let p99 = a.latency_at(0.99).as_secs_f64() * 1000.0;
        assert!((99.0..=100.1).contains(&p99), "{p99}");
        let max = a.latency_at(1.0).as_secs_f64() * 1000.0;
        assert!((999.0..=1001.0).contains(&max), "{max}");
    }
}
