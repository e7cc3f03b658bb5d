//! The encoding against opentelemetry-proto's own conversion of the same spans, and
//! prost's encoding of that.

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use prost::Message as _;

use super::encode::{self, EncodedResource};

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
