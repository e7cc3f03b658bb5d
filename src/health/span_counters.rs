//! The OpenTelemetry Collector's own span counters, read from its Prometheus metrics:
//! what `doctor` checks a probe span against, and how `load` knows which spans have
//! reached Jaeger.

/// The Collector's span counters at one read, each summed over its series.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpanCounters {
    /// Spans its receivers took in.
    pub accepted: u64,
    /// Spans its receivers refused (the memory limiter).
    pub refused: u64,
    /// Spans its exporters sent on.
    pub sent: u64,
    /// Spans its exporters gave up on, or could not queue.
    pub failed: u64,
}

impl SpanCounters {
    /// Sums the counters in the Collector's Prometheus text; `None` when the text is
    /// not the Collector's. Names are those of opentelemetry-collector
    /// `receiver/receiverhelper/internal/metadata` and
    /// `exporter/exporterhelper/internal/metadata`; Prometheus exporters of some
    /// versions add `_total` to counters, so both spellings count. A counter the
    /// Collector has not created yet (no span so far) is zero.
    pub fn parse(text: &str) -> Option<Self> {
        let (mut counts, mut seen) = (Self::default(), false);
        for (name, value) in collector_series(text) {
            seen = true;
            let counter = match name {
                "otelcol_receiver_accepted_spans" => &mut counts.accepted,
                "otelcol_receiver_refused_spans" => &mut counts.refused,
                "otelcol_exporter_sent_spans" => &mut counts.sent,
                "otelcol_exporter_send_failed_spans" | "otelcol_exporter_enqueue_failed_spans" => &mut counts.failed,
                _ => continue,
            };
            *counter += value as u64;
        }
        seen.then_some(counts)
    }

    /// Spans that have left the Collector: sent on, or given up on.
    pub fn left(&self) -> u64 {
        self.sent + self.failed
    }

    /// The counts since `before` (zero where a restarted Collector counts less).
    pub fn since(&self, before: &Self) -> Self {
        Self {
            accepted: self.accepted.saturating_sub(before.accepted),
            refused: self.refused.saturating_sub(before.refused),
            sent: self.sent.saturating_sub(before.sent),
            failed: self.failed.saturating_sub(before.failed),
        }
    }
}

/// Each series of the Collector's own metrics in its Prometheus text, as its name
/// (without the `_total` some exporters add to counters) and value. A name is whole:
/// `otelcol_receiver_accepted_spans` is not `otelcol_receiver_accepted_spans_created`.
pub fn collector_series(text: &str) -> impl Iterator<Item = (&str, f64)> {
    text.lines().filter(|l| l.starts_with("otelcol_")).filter_map(|line| {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        // `name{labels} value [timestamp]`: the value follows the labels.
        let after_labels = line.rfind('}').map_or(name_end, |i| i + 1);
        let value = line[after_labels..].split_whitespace().next()?.parse::<f64>().ok()?;
        Some((line[..name_end].trim_end_matches("_total"), value))
    })
}

/// The sum of every series of the Collector's counter `name` in its Prometheus text.
pub fn collector_counter(text: &str, name: &str) -> f64 {
    collector_series(text).filter(|(n, _)| *n == name).map(|(_, v)| v).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_collectors_counters_are_summed_in_either_spelling() {
        let text = r#"# HELP otelcol_receiver_accepted_spans Number of spans successfully pushed into the pipeline.
otelcol_receiver_accepted_spans{receiver="otlp",transport="grpc"} 1200
otelcol_receiver_accepted_spans_total{receiver="otlp",transport="http"} 30
otelcol_receiver_refused_spans{receiver="otlp",transport="grpc"} 2
otelcol_exporter_sent_spans{exporter="otlp_grpc/jaeger",server_address="127.0.0.1",server_port="14317"} 1000
otelcol_exporter_send_failed_spans_total{exporter="otlp_grpc/jaeger"} 5 1700000000000
otelcol_exporter_enqueue_failed_spans{exporter="otlp_grpc/jaeger"} 1
otelcol_exporter_sent_metric_points{exporter="prometheus"} 99999
otelcol_receiver_accepted_spans_created{receiver="otlp"} 1.7e9
"#;
        let counts = SpanCounters::parse(text).unwrap();
        assert_eq!(counts, SpanCounters { accepted: 1230, refused: 2, sent: 1000, failed: 6 });
        assert_eq!(counts.left(), 1006);
        assert_eq!(SpanCounters::parse("go_goroutines 12\n"), None, "not the Collector's metrics");
        let no_spans_yet = "otelcol_process_uptime_seconds_total{service_name=\"otelcol\"} 3.2\n";
        assert_eq!(SpanCounters::parse(no_spans_yet), Some(SpanCounters::default()));
        assert_eq!(collector_counter(text, "otelcol_receiver_accepted_spans"), 1230.0, "not its _created series");
        assert_eq!(collector_counter(text, "otelcol_processor_dropped_spans"), 0.0);
    }
}
