//! Jaeger's gRPC query API (`jaeger.api_v2.QueryService`), the part the trace check
//! uses: a service's traces by tag and start time, and one trace by id.
//!
//! The check reads its traces here rather than from the HTTP API because Jaeger's
//! lookups by id, and its JSON, are most of what the check costs it. Reading the
//! 30,000 traces of a run took Jaeger 6.8 s of CPU by id over HTTP (100 ids a request),
//! 5.7 s by start time over HTTP, and 4.8 s by start time here; and `load` decodes this
//! protobuf in less than half the time it took to parse the JSON (BENCHMARKS.md, "What
//! the trace check costs Jaeger").

use std::collections::HashMap;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;

use super::LoadError;
use super::completeness::{self, Trace};

/// The service's methods (jaegertracing/jaeger-idl `proto/api_v2/query.proto`).
const GET_TRACE: &str = "/jaeger.api_v2.QueryService/GetTrace";
const FIND_TRACES: &str = "/jaeger.api_v2.QueryService/FindTraces";

/// A connection to Jaeger's gRPC query endpoint, opened on first use.
#[derive(Clone, Debug)]
pub struct JaegerGrpc {
    channel: Channel,
    url: String,
}

impl JaegerGrpc {
    /// The error of a call to it that failed for `why`.
    pub fn failed(&self, why: impl ToString) -> LoadError {
        LoadError::Jaeger { url: self.url.clone(), why: why.to_string() }
    }

    /// Jaeger's query API at `url` (`http://127.0.0.1:16685`); each call ends within
    /// `timeout`. Must be called inside a Tokio runtime.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, LoadError> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| LoadError::Jaeger { url: url.to_owned(), why: e.to_string() })?;
        Ok(Self { channel: endpoint.timeout(timeout).connect_lazy(), url: url.to_owned() })
    }

    /// The traces with a span of `service` that carries the tag `key=value` and started
    /// between `from` and `to` (µs since the Unix epoch, both included), up to `limit`,
    /// by trace id; as stored, without Jaeger's display adjustments.
    pub async fn find(
        &self,
        service: &str,
        (key, value): (&str, &str),
        (from, to): (u64, u64),
        limit: usize,
    ) -> Result<HashMap<u128, Trace>, LoadError> {
        let query = TraceQueryParameters {
            service_name: service.to_owned(),
            tags: HashMap::from([(key.to_owned(), value.to_owned())]),
            start_time_min: Some(Timestamp::from_micros(from)),
            start_time_max: Some(Timestamp::from_micros(to)),
            search_depth: i32::try_from(limit).unwrap_or(i32::MAX),
            raw_traces: true,
        };
        match self.spans(FIND_TRACES, FindTracesRequest { query: Some(query) }).await {
            Ok(traces) => Ok(traces),
            Err(NotFound) => Ok(HashMap::new()),
            Err(Failed(e)) => Err(e),
        }
    }

    /// The trace `id`, as stored; `None` when Jaeger does not have it.
    pub async fn get(&self, id: u128) -> Result<Option<Trace>, LoadError> {
        let request = GetTraceRequest { trace_id: id.to_be_bytes().to_vec(), raw_traces: true };
        match self.spans(GET_TRACE, request).await {
            Ok(mut traces) => Ok(traces.remove(&id)),
            Err(NotFound) => Ok(None),
            Err(Failed(e)) => Err(e),
        }
    }

    /// Calls `method`, whose answer is a stream of spans, and gathers them by trace.
    async fn spans<M>(&self, method: &'static str, request: M) -> Result<HashMap<u128, Trace>, CallError>
    where
        M: prost::Message + Send + Sync + 'static,
    {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready().await.map_err(|e| Failed(self.failed(e)))?;
        let path = axum::http::uri::PathAndQuery::from_static(method);
        let codec = ProstCodec::<M, SpansResponseChunk>::default();
        let answer = grpc.server_streaming(tonic::Request::new(request), path, codec).await;
        let mut stream = match answer {
            Ok(answer) => answer.into_inner(),
            Err(status) if status.code() == tonic::Code::NotFound => return Err(NotFound),
            Err(status) => return Err(Failed(self.failed(status))),
        };
        let mut traces: HashMap<u128, Trace> = HashMap::new();
        for chunk in 1.. {
            match stream.message().await {
                Ok(Some(chunk)) => {
                    for span in chunk.spans {
                        traces.entry(span.trace_id()).or_default().spans.push(span.into());
                    }
                }
                Ok(None) => break,
                Err(status) if status.code() == tonic::Code::NotFound => return Err(NotFound),
                Err(status) => return Err(Failed(self.failed(status))),
            }
            // A search answers with thousands of chunks (10 spans each), often ready at
            // once: decoding them without a pause would hold a runtime worker for
            // milliseconds, and with it the load's requests due meanwhile.
            if chunk % 16 == 0 {
                tokio::task::yield_now().await;
            }
        }
        Ok(traces)
    }
}

/// Why a call brought no spans.
enum CallError {
    /// Jaeger has no such trace.
    NotFound,
    /// Jaeger could not be asked, or failed to answer.
    Failed(LoadError),
}
use CallError::{Failed, NotFound};

// The messages, with only the fields the check reads (prost skips the others):
// jaegertracing/jaeger-idl `proto/api_v2/query.proto` and `proto/api_v2/model.proto`.

#[derive(Clone, PartialEq, prost::Message)]
struct GetTraceRequest {
    /// 16 bytes, big-endian.
    #[prost(bytes = "vec", tag = "1")]
    trace_id: Vec<u8>,
    /// Skip Jaeger's adjustments (clock skew and the like): a third less work a trace.
    #[prost(bool, tag = "4")]
    raw_traces: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
struct FindTracesRequest {
    #[prost(message, optional, tag = "1")]
    query: Option<TraceQueryParameters>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TraceQueryParameters {
    #[prost(string, tag = "1")]
    service_name: String,
    #[prost(map = "string, string", tag = "3")]
    tags: HashMap<String, String>,
    #[prost(message, optional, tag = "4")]
    start_time_min: Option<Timestamp>,
    #[prost(message, optional, tag = "5")]
    start_time_max: Option<Timestamp>,
    /// The most traces to return.
    #[prost(int32, tag = "8")]
    search_depth: i32,
    #[prost(bool, tag = "9")]
    raw_traces: bool,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, PartialEq, prost::Message)]
struct Timestamp {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

impl Timestamp {
    fn from_micros(us: u64) -> Self {
        Self { seconds: (us / 1_000_000) as i64, nanos: (us % 1_000_000 * 1_000) as i32 }
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct SpansResponseChunk {
    #[prost(message, repeated, tag = "1")]
    spans: Vec<JaegerSpan>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct JaegerSpan {
    /// 16 bytes, big-endian.
    #[prost(bytes = "vec", tag = "1")]
    trace_id: Vec<u8>,
    /// 8 bytes, big-endian.
    #[prost(bytes = "vec", tag = "2")]
    span_id: Vec<u8>,
    #[prost(string, tag = "3")]
    operation_name: String,
    #[prost(message, repeated, tag = "4")]
    references: Vec<SpanRef>,
    #[prost(message, repeated, tag = "8")]
    tags: Vec<KeyValue>,
    /// Every span read from storage carries its process.
    #[prost(message, optional, tag = "10")]
    process: Option<Process>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SpanRef {
    #[prost(bytes = "vec", tag = "2")]
    span_id: Vec<u8>,
    /// `CHILD_OF` is 0, `FOLLOWS_FROM` 1 (a link).
    #[prost(int32, tag = "3")]
    ref_type: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct KeyValue {
    #[prost(string, tag = "1")]
    key: String,
    /// The value when it is a string (the check reads no other kind).
    #[prost(string, tag = "3")]
    v_str: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Process {
    #[prost(string, tag = "1")]
    service_name: String,
}

/// A big-endian id of up to 16 bytes as a number; Jaeger writes 16 and 8.
fn id(bytes: &[u8]) -> u128 {
    bytes.iter().fold(0, |id, b| id << 8 | u128::from(*b))
}

impl JaegerSpan {
    fn trace_id(&self) -> u128 {
        id(&self.trace_id)
    }

    fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|t| t.key == key).map(|t| t.v_str.as_str())
    }
}

impl From<JaegerSpan> for completeness::Span {
    fn from(span: JaegerSpan) -> Self {
        let calls = match span.tag("span.kind") {
            Some("client") => span.tag("peer.service").map(str::to_owned),
            _ => None,
        };
        Self {
            id: id(&span.span_id) as u64,
            parent: span.references.iter().find(|r| r.ref_type == 0).map(|r| id(&r.span_id) as u64),
            service: span.process.map(|p| p.service_name).unwrap_or_default(),
            operation: span.operation_name,
            calls,
        }
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue { key: key.into(), v_str: value.into() }
    }

    #[test]
    fn a_span_becomes_what_the_check_reads() {
        let span = JaegerSpan {
            trace_id: 0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c_u128.to_be_bytes().to_vec(),
            span_id: 0x00f0_67aa_0ba9_02b7_u64.to_be_bytes().to_vec(),
            operation_name: "POST /charges".into(),
            references: vec![
                SpanRef { span_id: 9u64.to_be_bytes().to_vec(), ref_type: 1 },
                SpanRef { span_id: 7u64.to_be_bytes().to_vec(), ref_type: 0 },
            ],
            tags: vec![kv("span.kind", "client"), kv("peer.service", "Payment-service")],
            process: Some(Process { service_name: "Order-service".into() }),
        };
        // Through the wire format, as Jaeger sends it.
        let span = JaegerSpan::decode(span.encode_to_vec().as_slice()).unwrap();
        assert_eq!(span.trace_id(), 0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c);
        let span = completeness::Span::from(span);
        assert_eq!(span.id, 0x00f0_67aa_0ba9_02b7);
        assert_eq!(span.parent, Some(7), "the CHILD_OF reference, not the link");
        assert_eq!(span.service, "Order-service");
        assert_eq!(span.calls.as_deref(), Some("Payment-service"));
    }

    #[test]
    fn only_a_client_span_calls_a_service() {
        let server =
            JaegerSpan { tags: vec![kv("span.kind", "server"), kv("peer.service", "x")], ..Default::default() };
        assert_eq!(completeness::Span::from(server).calls, None);
    }

    #[test]
    fn timestamps_split_microseconds_into_seconds_and_nanoseconds() {
        assert_eq!(
            Timestamp::from_micros(1_764_000_000_123_456),
            Timestamp { seconds: 1_764_000_000, nanos: 123_456_000 }
        );
    }
}
