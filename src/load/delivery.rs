//! How far the Collector has delivered the spans it took in, from its own counters:
//! every span it accepted by a moment has left it (sent to Jaeger, which writes before
//! acknowledging, or given up on) once its sent and failed counts reach the accepted
//! count of that moment. The trace check asks Jaeger for a trace only after that, so
//! a Jaeger that is behind is not asked for traces it does not have yet: each lookup
//! costs Jaeger's storage a read, and the reads were half of what slowed it down.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

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

    async fn read(&self) -> Option<Counts> {
        let answer = self.client.get(&self.url).send().await.ok()?.error_for_status().ok()?;
        Counts::parse(&answer.text().await.ok()?)
    }

    fn record(&mut self, at: Instant, counts: Counts) {
        // A restarted Collector counts from zero again: earlier reads say nothing.
        if self.pending.back().is_some_and(|(_, accepted)| *accepted > counts.accepted) {
            self.pending.clear();
        }
        self.pending.push_back((at, counts.accepted));
        while let Some(&(read_at, accepted)) = self.pending.front() {
            if accepted > counts.left {
                break;
            }
            self.delivered_by = Some(read_at);
            self.pending.pop_front();
        }
    }
}

/// Spans the Collector accepted, and spans that have left it, at one read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counts {
    accepted: u64,
    left: u64,
}

impl Counts {
    /// Sums the Collector's span counters in its Prometheus text. Names are those of
    /// opentelemetry-collector `receiver/receiverhelper/internal/metadata` and
    /// `exporter/exporterhelper/internal/metadata` (`otelcol_receiver_accepted_spans`,
    /// `otelcol_exporter_sent_spans`, `otelcol_exporter_send_failed_spans`,
    /// `otelcol_exporter_enqueue_failed_spans`); Prometheus exporters of some versions
    /// add `_total` to counters, so both spellings count.
    fn parse(text: &str) -> Option<Self> {
        let (mut accepted, mut left, mut seen) = (0u64, 0u64, false);
        for line in text.lines().filter(|l| l.starts_with("otelcol_")) {
            let name_end = line.find(['{', ' ']).unwrap_or(line.len());
            let name = line[..name_end].trim_end_matches("_total");
            // `name{labels} value [timestamp]`: the value follows the labels.
            let after_labels = line.rfind('}').map_or(name_end, |i| i + 1);
            let Some(value) = line[after_labels..].split_whitespace().next().and_then(|v| v.parse::<f64>().ok()) else {
                continue;
            };
            // The Collector's own metrics are there; its span counters appear with the first span.
            seen = true;
            match name {
                "otelcol_receiver_accepted_spans" => accepted += value as u64,
                "otelcol_exporter_sent_spans"
                | "otelcol_exporter_send_failed_spans"
                | "otelcol_exporter_enqueue_failed_spans" => left += value as u64,
                _ => {}
            }
        }
        seen.then_some(Self { accepted, left })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_collectors_counters_are_summed_in_either_spelling() {
        let text = r#"# HELP otelcol_receiver_accepted_spans Number of spans successfully pushed into the pipeline.
otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"} 1200
otelcol_receiver_accepted_spans_total{receiver="otlp",transport="http"} 30
otelcol_exporter_sent_spans{exporter="otlp_grpc/jaeger",server_address="127.0.0.1",server_port="14317"} 1000
otelcol_exporter_send_failed_spans_total{exporter="otlp_grpc/jaeger"} 5 1700000000000
otelcol_exporter_enqueue_failed_spans{exporter="otlp_grpc/jaeger"} 0
otelcol_exporter_sent_metric_points{exporter="prometheus"} 99999
otelcol_receiver_accepted_spans_created{receiver="otlp"} 1.7e9
"#;
        assert_eq!(Counts::parse(text), Some(Counts { accepted: 1230, left: 1005 }));
        assert_eq!(Counts::parse("go_goroutines 12\n"), None, "not the Collector's metrics");
        let no_spans_yet = "otelcol_process_uptime_seconds_total{service_name=\"otelcol\"} 3.2\n";
        assert_eq!(Counts::parse(no_spans_yet), Some(Counts { accepted: 0, left: 0 }));
    }

    #[test]
    fn a_moment_is_delivered_once_what_was_accepted_by_then_has_left() {
        let mut d = Delivery::new(String::new());
        let t0 = Instant::now();
        let t = |ms| t0 + Duration::from_millis(ms);
        d.record(t(0), Counts { accepted: 100, left: 100 });
        assert_eq!(d.delivered_by, Some(t(0)));
        d.record(t(200), Counts { accepted: 500, left: 120 });
        d.record(t(400), Counts { accepted: 900, left: 480 });
        assert_eq!(d.delivered_by, Some(t(0)), "what was accepted by 200 ms has not all left");
        d.record(t(600), Counts { accepted: 1000, left: 950 });
        assert_eq!(d.delivered_by, Some(t(400)));
        // A restart: the counters begin again, and only later reads count.
        d.record(t(800), Counts { accepted: 10, left: 0 });
        assert_eq!(d.delivered_by, Some(t(400)));
        d.record(t(1000), Counts { accepted: 20, left: 20 });
        assert_eq!(d.delivered_by, Some(t(1000)));
    }
}
