//! The load generator's own span for each request that starts a trace
//! ([`super::trace_context`]), sent to the stack as the service [`LOAD_SERVICE`].
//!
//! Without it, the server's first span would name a parent no span in Jaeger has, and
//! Jaeger's UI would warn on every such trace. With it, the trace starts where the
//! request did and shows the latency the client saw, connection and all; the check
//! requires a span of the server under it, so a server that did not continue the
//! trace is told apart from one whose trace is whole.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SpanData, SpanEvents, SpanLinks, SpanProcessor};

use super::trace_context::Caller;
use crate::services::telemetry::{SCOPE, batch_processor};
use crate::services::tracing_http::RUN_ID_ATTRIBUTE;

/// The `service.name` of the load generator's spans.
pub const LOAD_SERVICE: &str = "obsdemo-load";

/// Where the spans go and what every one of them says.
pub struct ClientSpans {
    processor: BatchSpanProcessor,
    scope: InstrumentationScope,
    // Shared, so each span's copy is a reference count, not an allocation.
    server_address: Arc<str>,
    server_port: i64,
    run_id: Arc<str>,
}

/// How a request ended, for its span.
#[derive(Clone, Copy, Debug)]
pub enum Ended {
    /// Answered with this status.
    Answered(u16),
    /// Not answered: `connect`, `timeout` or `io`.
    Failed(&'static str),
}

impl ClientSpans {
    /// Spans of requests to `host:port`, tagged with the run id, sent to the OTLP/gRPC
    /// `endpoint`. Must run inside a Tokio runtime: the exporter binds to it.
    pub fn new(endpoint: &str, host: &str, port: u16, run_id: &str) -> Result<Self, tonic::transport::Error> {
        let mut processor = batch_processor(endpoint)?;
        processor.set_resource(&Resource::builder().with_service_name(LOAD_SERVICE).build());
        Ok(Self {
            processor,
            scope: InstrumentationScope::builder(SCOPE).build(),
            server_address: host.into(),
            server_port: i64::from(port),
            run_id: run_id.into(),
        })
    }

    /// Records the client span of one request of the trace `caller` started: `method`
    /// to `url`, from `start` to `end`, with the HTTP client conventions' attributes
    /// (open-telemetry/semantic-conventions `docs/http/http-spans.md`: named by the
    /// method alone, as the URL has no template; a client span is an error from
    /// status 400 up, or with no answer).
    pub fn record(
        &self,
        caller: Caller,
        method: &'static str,
        url: String,
        (start, end): (SystemTime, SystemTime),
        ended: Ended,
    ) {
        let mut attributes = vec![
            KeyValue::new("http.request.method", method),
            KeyValue::new("url.full", url),
            KeyValue::new("server.address", self.server_address.clone()),
            KeyValue::new("server.port", self.server_port),
            KeyValue::new(RUN_ID_ATTRIBUTE, self.run_id.clone()),
        ];
        let status = match ended {
            Ended::Answered(code) => {
                attributes.push(KeyValue::new("http.response.status_code", i64::from(code)));
                if code >= 400 {
                    attributes.push(KeyValue::new("error.type", code.to_string()));
                    Status::error("")
                } else {
                    Status::Unset
                }
            }
            Ended::Failed(kind) => {
                attributes.push(KeyValue::new("error.type", kind));
                Status::error(kind)
            }
        };
        let context = SpanContext::new(
            TraceId::from(caller.trace),
            SpanId::from(caller.span),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        self.processor.on_end(SpanData {
            span_context: context,
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Client,
            name: Cow::Borrowed(method),
            start_time: start,
            end_time: end,
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: self.scope.clone(),
        });
    }

    /// Sends the spans still queued, and stops.
    pub async fn shutdown(self: Arc<Self>) {
        // shutdown() blocks until the export thread is done; the export itself needs
        // this runtime, so block elsewhere.
        let _ = tokio::task::spawn_blocking(move || self.processor.shutdown()).await;
    }
}
