//! A service's tracing set-up: the tracer its spans come from (`spans`), the OTLP/gRPC
//! exporter, W3C trace context, and a `tracing` subscriber for its log lines.

use std::time::Duration;

use opentelemetry::global;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use super::otlp::{OtlpExporter, Retry};

/// How often a service sends its finished spans to the Collector.
pub const EXPORT_EVERY: Duration = Duration::from_millis(500);

/// The instrumentation scope of the services' spans: the code that makes them, as the
/// OpenTelemetry API asks a tracer's name to be. A static name, so the copy of it each
/// span carries costs no allocation (the service's name cost one per span).
pub const SCOPE: &str = env!("CARGO_PKG_NAME");

/// How long sending one batch may take, its retries included (opentelemetry-otlp's
/// default, `OTEL_EXPORTER_OTLP_TIMEOUT`).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Keeps the tracer provider alive; [`Telemetry::shutdown`] flushes the last batch.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

/// Installs the global propagator, tracer provider and `tracing` subscriber for
/// `service_name`, exporting to `endpoint` (`http://127.0.0.1:4317`). With `export`
/// false only logging is set up (for measuring what tracing costs).
///
/// Must run inside a Tokio runtime: the gRPC exporter binds to it.
pub fn init(service_name: &str, endpoint: &str, export: bool) -> Result<Telemetry, super::ServiceError> {
    let failed = |e: &dyn std::fmt::Display| super::ServiceError::Telemetry(e.to_string());
    global::set_text_map_propagator(TraceContextPropagator::new());
    // Logs go to stderr, which the supervisor writes to the service's log file.
    let fmt = tracing_subscriber::fmt::layer().with_target(false).with_filter(EnvFilter::new("warn"));
    if !export {
        tracing_subscriber::registry().with(fmt).try_init().map_err(|e| failed(&e))?;
        return Ok(Telemetry { provider: None });
    }
    let processor = batch_processor(endpoint).map_err(|e| failed(&e))?;
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(service_name.to_owned()).build())
        .with_span_processor(processor)
        .build();
    // The one tracer every span comes from; no global provider, so there is one way.
    super::spans::install(provider.tracer(SCOPE));
    tracing_subscriber::registry().with(fmt).try_init().map_err(|e| failed(&e))?;
    Ok(Telemetry { provider: Some(provider) })
}

/// The batch processor finished spans go through on their way to `endpoint`
/// (`http://127.0.0.1:4317`): the services' spans, and the load generator's own.
///
/// Must run inside a Tokio runtime: the gRPC exporter binds to it.
pub fn batch_processor(endpoint: &str) -> Result<BatchSpanProcessor, tonic::transport::Error> {
    // Retry an unreachable Collector for up to the export's 10 s deadline (not
    // opentelemetry-otlp's default of 3 retries, about 0.7 s), so a Collector restart
    // loses no spans; meanwhile new spans wait in the queue below.
    // The jitter is opentelemetry-otlp's recommended 100 ms (0.33.1 `src/retry_policy.rs`).
    let retry = Retry {
        max_retries: 30,
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        max_jitter: Duration::from_millis(100),
    };
    let exporter = OtlpExporter::new(endpoint, EXPORT_TIMEOUT, retry)?;
    // Export often (not every 5 s) so a finished request is visible in Jaeger quickly,
    // and queue 8192 spans: about 7 s of the Order-service's spans at 200 rps. The SDK
    // allocates the whole queue up front, so a larger one costs resident memory for
    // nothing (65536 slots took a service from 12 MB to 33 MB). Under load a batch is
    // sent as soon as it is full, and each export has a cost of its own besides its
    // spans': tracing added 4.5 µs per request with the SDK's 512, 3.25 with 2048 and
    // 2.9 with 4096 (BENCHMARKS.md, "Cost of tracing"). 4096 of these spans (about 300
    // bytes each, encoded) make a request under 1.5 MB, within the 4 MiB a Collector
    // takes by default (gRPC's own limit: opentelemetry-collector
    // `config/configgrpc/configgrpc.go` sets another only when configured).
    let batch = BatchConfigBuilder::default()
        .with_scheduled_delay(EXPORT_EVERY)
        .with_max_queue_size(8_192)
        .with_max_export_batch_size(4_096)
        .build();
    Ok(BatchSpanProcessor::builder(exporter).with_batch_config(batch).build())
}

impl Telemetry {
    /// Flushes the spans still queued and stops the exporter.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            // shutdown() blocks until the export thread is done; the export itself
            // needs this runtime, so block elsewhere.
            let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        }
    }
}
