//! The exporter's tests: its encoding against opentelemetry-proto's own conversion of
//! the same spans (and prost's encoding of that); and its exports against a gRPC
//! endpoint on the wire, for the answers a healthy Collector never gives.

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use prost::Message as _;

use super::encode::{self, EncodedResource};
use super::{OtlpExporter, Retry};

fn context(trace: u128, span: u64, remote: bool) -> SpanContext {
    let state = if remote { TraceState::from_key_value([("vendor", "x")]).unwrap() } else { TraceState::default() };
    SpanContext::new(TraceId::from(trace), SpanId::from(span), TraceFlags::SAMPLED, remote, state)
}

fn span(scope: &InstrumentationScope, id: u64, parent: u64, status: Status) -> SpanData {
    let mut events = SpanEvents::default();
    events.events.push(Event::new("retry", UNIX_EPOCH + Duration::from_nanos(5), vec![KeyValue::new("n", 2)], 1));
    events.dropped_count = 3;
    let mut links = SpanLinks::default();
    links.links.push(Link::new(context(9, 8, true), vec![KeyValue::new("why", "batch")], 0));
    SpanData {
        span_context: context(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c, id, false),
        parent_span_id: SpanId::from(parent),
        parent_span_is_remote: parent == 7,
        span_kind: if parent == 0 { SpanKind::Server } else { SpanKind::Internal },
        name: Cow::Owned(format!("POST /orders {id}")),
        start_time: UNIX_EPOCH + Duration::from_secs(1_764_000_000),
        end_time: UNIX_EPOCH + Duration::from_secs(1_764_000_000) + Duration::from_micros(1_234),
        attributes: vec![
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("url.path", "/orders/ü".to_owned()),
            KeyValue::new("server.port", 8101),
            KeyValue::new("ok", true),
            KeyValue::new("ratio", 0.25),
            KeyValue::new("empty", ""),
            KeyValue::new("long", "x".repeat(300)),
            KeyValue::new("tags", Value::Array(Array::String(vec![StringValue::from("a"), StringValue::from("b")]))),
            KeyValue::new("ids", Value::Array(Array::I64(vec![1, -2]))),
        ],
        dropped_attributes_count: 4,
        events,
        links,
        status,
        instrumentation_scope: scope.clone(),
    }
}

/// `ours` decodes to `theirs` (a readable difference first), and is byte for byte
/// what prost writes for it.
fn assert_same(ours: &[u8], theirs: &ExportTraceServiceRequest) {
    assert_eq!(&ExportTraceServiceRequest::decode(ours).unwrap(), theirs);
    assert_eq!(ours, theirs.encode_to_vec(), "the same message, other bytes");
}

#[test]
fn a_batch_encodes_as_the_official_conversion_does() {
    let resource = Resource::builder().with_service_name("Order-service").build();
    let scope = InstrumentationScope::builder("obsdemo").build();
    let other = InstrumentationScope::builder("other").with_version("1.2").build();
    let batch = vec![
        span(&scope, 1, 0, Status::Unset),
        span(&scope, 2, 7, Status::error("declined")),
        span(&other, 3, 1, Status::Ok),
    ];

    let ours = encode::request(&EncodedResource::new(&resource), &batch);
    let theirs = ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(batch, &ResourceAttributesWithSchema::from(&resource)),
    };
    assert_same(&ours, &theirs);
}

#[test]
fn an_empty_batch_is_a_valid_request() {
    let ours = encode::request(&EncodedResource::default(), &[]);
    let decoded = ExportTraceServiceRequest::decode(ours.as_slice()).unwrap();
    assert_eq!(decoded.resource_spans.len(), 1);
    assert!(decoded.resource_spans[0].scope_spans.is_empty());
}

#[test]
fn a_batch_over_16_kib_takes_a_three_byte_length() {
    // The batch's messages then need three bytes for their lengths, the spans two.
    let resource = Resource::builder().with_service_name("Order-service").build();
    let scope = InstrumentationScope::builder("obsdemo").build();
    let batch: Vec<SpanData> = (1..=64).map(|id| span(&scope, id, 1, Status::Unset)).collect();

    let ours = encode::request(&EncodedResource::new(&resource), &batch);
    assert!(ours.len() > 16_384, "{} bytes", ours.len());
    let theirs = ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(batch, &ResourceAttributesWithSchema::from(&resource)),
    };
    assert_same(&ours, &theirs);
}

/// What the endpoint answers one export with.
type Answer = Result<ExportTraceServiceResponse, tonic::Status>;

/// A gRPC endpoint on HTTP/2 without TLS, as the Collector's is, answering the exports
/// it gets with `answers` in order; each export's message comes out of the receiver.
async fn endpoint(answers: Vec<Answer>) -> (String, tokio::sync::mpsc::UnboundedReceiver<bytes::Bytes>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (sent, received) = tokio::sync::mpsc::unbounded_channel();
    let answers = std::sync::Arc::new(std::sync::Mutex::new(answers.into_iter()));
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let mut connection = h2::server::handshake(socket).await.unwrap();
            // Each stream on a task of its own: the connection makes progress only
            // while this loop polls it.
            while let Some(Ok((request, respond))) = connection.accept().await {
                let answer = answers.lock().unwrap().next().expect("an answer for every export");
                tokio::spawn(answer_one(request, respond, answer, sent.clone()));
            }
        }
    });
    (url, received)
}

async fn answer_one(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<bytes::Bytes>,
    answer: Answer,
    sent: tokio::sync::mpsc::UnboundedSender<bytes::Bytes>,
) {
    let mut body = request.into_body();
    let mut frame = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        frame.extend_from_slice(&chunk);
    }
    // A gRPC message is a flag byte and a 4-byte length, then the message.
    sent.send(bytes::Bytes::from(frame).slice(5..)).unwrap();
    let mut head = http::Response::builder().header("content-type", "application/grpc").body(()).unwrap();
    match answer {
        Ok(message) => {
            let message = message.encode_to_vec();
            let mut frame = vec![0];
            frame.extend((message.len() as u32).to_be_bytes());
            frame.extend(message);
            let mut stream = respond.send_response(head, false).unwrap();
            stream.send_data(frame.into(), false).unwrap();
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            stream.send_trailers(trailers).unwrap();
        }
        // A refusal is a response of headers alone.
        Err(status) => {
            status.add_header(head.headers_mut()).unwrap();
            respond.send_response(head, true).unwrap();
        }
    }
}

/// Short waits, no jitter: the tests only count the tries.
const QUICK: Retry = Retry {
    max_retries: 3,
    initial_delay: Duration::from_millis(10),
    max_delay: Duration::from_millis(50),
    max_jitter: Duration::ZERO,
};

fn batch() -> Vec<SpanData> {
    let scope = InstrumentationScope::builder("obsdemo").build();
    vec![span(&scope, 1, 0, Status::Unset), span(&scope, 2, 1, Status::Unset)]
}

fn exporter(url: &str) -> OtlpExporter {
    let mut exporter = OtlpExporter::new(url, Duration::from_secs(10), QUICK).unwrap();
    exporter.set_resource(&Resource::builder().with_service_name("Order-service").build());
    exporter
}

#[tokio::test]
async fn an_export_refused_as_unavailable_is_sent_again_unchanged() {
    let (url, mut sent) = endpoint(vec![Err(tonic::Status::unavailable("restarting")), Ok(Default::default())]).await;
    exporter(&url).export(batch()).await.unwrap();
    let (first, second) = (sent.recv().await.unwrap(), sent.recv().await.unwrap());
    assert_eq!(first, second, "the retry sends the same bytes");
    let request = ExportTraceServiceRequest::decode(first).unwrap();
    assert_eq!(request.resource_spans[0].scope_spans[0].spans.len(), 2);
}

#[tokio::test]
async fn resource_exhausted_is_tried_again_only_when_the_server_says_when() {
    let (url, mut sent) = endpoint(vec![Err(tonic::Status::resource_exhausted("full"))]).await;
    let refused = exporter(&url).export(batch()).await.unwrap_err();
    assert!(refused.to_string().contains("after 0 retries"), "{refused}");
    assert!(!sent.recv().await.unwrap().is_empty(), "it was sent once");

    let come_back = tonic_types::ErrorDetails::with_retry_info(Some(Duration::from_millis(200)));
    let busy = <tonic::Status as tonic_types::StatusExt>::with_error_details(
        tonic::Code::ResourceExhausted,
        "busy",
        come_back,
    );
    let (url, mut sent) = endpoint(vec![Err(busy), Ok(Default::default())]).await;
    let started = std::time::Instant::now();
    exporter(&url).export(batch()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200), "the server's wait, not the policy's 10 ms");
    assert!(sent.recv().await.is_some() && sent.recv().await.is_some());
}

#[tokio::test]
async fn a_partial_success_is_a_warning_and_not_sent_again() {
    let partial = ExportTracePartialSuccess { rejected_spans: 2, error_message: "spans too old".into() };
    let (url, mut sent) = endpoint(vec![Ok(ExportTraceServiceResponse { partial_success: Some(partial) })]).await;
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || LogTo(writer.clone())).finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    exporter(&url).export(batch()).await.unwrap();

    let log = String::from_utf8(log.lock().unwrap().clone()).unwrap();
    assert!(log.contains("WARN") && log.contains("the Collector refused spans: spans too old"), "{log}");
    assert!(log.contains("rejected=2"), "{log}");
    sent.recv().await.unwrap();
    assert!(sent.try_recv().is_err(), "a partial success is an answer: nothing is sent again");
}

/// A log written into memory.
struct LogTo(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogTo {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn an_export_whose_connection_breaks_before_the_answer_is_sent_again() {
    // A Collector killed while an export is out: the first connection takes the whole
    // request and is closed without an answer; the Collector back, the next one answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (sent, mut received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut connection = h2::server::handshake(socket).await.unwrap();
        let (request, _respond) = connection.accept().await.unwrap().unwrap();
        let mut body = request.into_body();
        while let Some(chunk) = body.data().await {
            let _ = body.flow_control().release_capacity(chunk.unwrap().len());
        }
        drop(body);
        // Gone, as a killed process's sockets are.
        drop(connection);
        let (socket, _) = listener.accept().await.unwrap();
        let mut connection = h2::server::handshake(socket).await.unwrap();
        while let Some(Ok((request, respond))) = connection.accept().await {
            tokio::spawn(answer_one(request, respond, Ok(Default::default()), sent.clone()));
        }
    });
    exporter(&url).export(batch()).await.expect("the broken export is tried again");
    assert!(received.recv().await.is_some(), "the second try arrived");
}

#[tokio::test]
async fn an_internal_error_the_server_sends_is_final() {
    let (url, _sent) = endpoint(vec![Err(tonic::Status::internal("a bug"))]).await;
    let refused = exporter(&url).export(batch()).await.unwrap_err();
    assert!(refused.to_string().contains("after 0 retries"), "{refused}");
}
