//! The span exporter of the services: OTLP over gRPC, each batch encoded once
//! ([`encode`]) and the same bytes sent again on a retry. It replaces
//! opentelemetry-otlp's exporter, which deep-copies every batch before each attempt
//! and converts it into generated message structs first (0.33.1
//! `src/exporter/tonic/trace.rs`): three quarters of what tracing cost a request
//! (BENCHMARKS.md, "Cost of tracing"). `doctor` keeps the official exporter on
//! purpose: it checks what a user's own service, built on an OpenTelemetry SDK, sends.

mod encode;
mod retry;

use std::time::Duration;

use bytes::{BufMut, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tonic::Status;
use tonic::codec::{Codec, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstDecoder;

use encode::EncodedResource;
use retry::Backoff;
pub use retry::Retry;

/// The OTLP trace service's one method (opentelemetry-proto
/// `opentelemetry/proto/collector/trace/v1/trace_service.proto`).
const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Sends batches of finished spans to an OTLP/gRPC endpoint.
#[derive(Debug)]
pub struct OtlpExporter {
    channel: Channel,
    resource: EncodedResource,
    retry: Retry,
    /// How long one export may take, its retries included.
    deadline: Duration,
}

impl OtlpExporter {
    /// An exporter to `endpoint` (`http://127.0.0.1:4317`) whose every export, its
    /// retries included, ends within `deadline`, as opentelemetry-otlp's does
    /// (0.33.1 `src/retry.rs`). The connection is made on first use, by a task on the
    /// current Tokio runtime, so this must be called inside one.
    pub fn new(endpoint: &str, deadline: Duration, retry: Retry) -> Result<Self, tonic::transport::Error> {
        let channel = Endpoint::from_shared(endpoint.to_owned())?.timeout(deadline).connect_lazy();
        Ok(Self { channel, resource: EncodedResource::default(), retry, deadline })
    }

    /// One attempt to send `body`.
    async fn send(&self, body: Bytes) -> Result<ExportTraceServiceResponse, Status> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready().await.map_err(|e| Status::unavailable(e.to_string()))?;
        let path = axum::http::uri::PathAndQuery::from_static(EXPORT);
        let answer = grpc.unary(tonic::Request::new(body), path, Encoded).await.map_err(as_grpc_reports_it)?;
        Ok(answer.into_inner())
    }
}

/// `status` as gRPC has a client report it. A connection that breaks while the
/// request is out (the Collector killed or restarted mid-export) is UNAVAILABLE on
/// the client's side (grpc/grpc `doc/statuscodes.md`: "Some data transmitted [...]
/// before connection breaks"), which is retried; tonic 0.14.9 reports some such
/// breaks as UNKNOWN ("transport error", a broken pipe) or INTERNAL (`src/status.rs`),
/// which are final, so the batch was dropped: seen as lost traces after a Collector
/// crash. A status tonic made of a transport error carries that error as its source;
/// one the server sent has none and is kept as it is.
fn as_grpc_reports_it(status: Status) -> Status {
    let broken = std::error::Error::source(&status).is_some()
        && matches!(status.code(), tonic::Code::Unknown | tonic::Code::Internal);
    match broken {
        true => Status::unavailable(format!("the connection broke: {status}")),
        false => status,
    }
}

impl SpanExporter for OtlpExporter {
    /// Sends `batch`, retrying what the OTLP specification calls retryable. The batch
    /// processor calls this on its own thread, which the waits between tries block.
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let body = Bytes::from(encode::request(&self.resource, &batch));
        drop(batch);
        let started = std::time::Instant::now();
        let mut backoff = Backoff::new(self.retry);
        loop {
            match self.send(body.clone()).await {
                Ok(answer) => {
                    if let Some(partial) = answer.partial_success.filter(|p| p.rejected_spans > 0) {
                        tracing::warn!(
                            rejected = partial.rejected_spans,
                            "the Collector refused spans: {}",
                            partial.error_message
                        );
                    }
                    return Ok(());
                }
                Err(status) => match backoff.after(&status, self.deadline.saturating_sub(started.elapsed())) {
                    Some(wait) => std::thread::sleep(wait),
                    None => {
                        return Err(OTelSdkError::InternalFailure(format!(
                            "exporting spans failed after {} retries: {status}",
                            backoff.retries()
                        )));
                    }
                },
            }
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = EncodedResource::new(resource);
    }
}

/// The export's gRPC codec: sends a request already encoded, reads the answer as
/// tonic-prost does.
#[derive(Clone, Copy, Debug, Default)]
struct Encoded;

impl Codec for Encoded {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = Encoded;
    type Decoder = ProstDecoder<ExportTraceServiceResponse>;

    fn encoder(&mut self) -> Self::Encoder {
        Encoded
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoder::default()
    }
}

impl Encoder for Encoded {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
