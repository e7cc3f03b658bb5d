//! The OTLP protobuf encoding of a batch of finished spans, written straight from the
//! SDK's records into one buffer: the official exporter first copies the batch, then
//! converts every span, attribute and string into generated message structs, encodes
//! those, and frees all three (BENCHMARKS.md, "Cost of tracing").
//!
//! Field numbers and meanings: open-telemetry/opentelemetry-proto
//! `opentelemetry/proto/trace/v1/trace.proto`, `common/v1/common.proto`,
//! `resource/v1/resource.proto` and `collector/trace/v1/trace_service.proto`; where a
//! value is derived (flags, status, parent id), as opentelemetry-proto 0.33.1
//! `src/transform/trace.rs` derives it, which the tests compare against.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;

/// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// `SpanFlags`: the flags say whether the parent is remote, and it is or is not.
const CONTEXT_HAS_IS_REMOTE: u32 = 0x100;
const CONTEXT_IS_REMOTE: u32 = 0x200;

/// A `Resource` message, encoded once for every batch it sends.
#[derive(Clone, Debug, Default)]
pub struct EncodedResource {
    message: Vec<u8>,
    schema_url: String,
}

impl EncodedResource {
    /// The encoding of `resource`.
    pub fn new(resource: &Resource) -> Self {
        let mut message = Vec::new();
        for (key, value) in resource.iter() {
            self::message(&mut message, 1, |kv| key_value(kv, key.as_str(), value));
        }
        Self { message, schema_url: resource.schema_url().unwrap_or_default().to_owned() }
    }
}

/// An `ExportTraceServiceRequest` holding `spans`, sent from `resource`.
pub fn request(resource: &EncodedResource, spans: &[SpanData]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 * spans.len() + resource.message.len() + 16);
    message(&mut out, 1, |resource_spans| {
        message(resource_spans, 1, |r| r.extend_from_slice(&resource.message));
        // One ScopeSpans per run of spans from the same scope (the services have one).
        let mut rest = spans;
        while let Some(first) = rest.first() {
            let scope = &first.instrumentation_scope;
            let run = rest.iter().take_while(|s| s.instrumentation_scope == *scope).count();
            let (same, after) = rest.split_at(run);
            message(resource_spans, 2, |out| scope_spans(out, scope, same));
            rest = after;
        }
        string_field(resource_spans, 3, &resource.schema_url);
    });
    out
}

fn scope_spans(out: &mut Vec<u8>, scope: &InstrumentationScope, spans: &[SpanData]) {
    message(out, 1, |s| {
        string_field(s, 1, scope.name());
        string_field(s, 2, scope.version().unwrap_or_default());
        attributes(s, 3, scope.attributes());
    });
    for span in spans {
        message(out, 2, |s| self::span(s, span));
    }
    string_field(out, 3, scope.schema_url().unwrap_or_default());
}

fn span(out: &mut Vec<u8>, span: &SpanData) {
    let cx = &span.span_context;
    bytes_field(out, 1, &cx.trace_id().to_bytes());
    bytes_field(out, 2, &cx.span_id().to_bytes());
    string_field(out, 3, &cx.trace_state().header());
    if span.parent_span_id != SpanId::INVALID {
        bytes_field(out, 4, &span.parent_span_id.to_bytes());
    }
    string_field(out, 5, &span.name);
    let kind = match span.span_kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    };
    varint_field(out, 6, kind);
    fixed64_field(out, 7, nanos(span.start_time));
    fixed64_field(out, 8, nanos(span.end_time));
    attributes(out, 9, span.attributes.iter());
    varint_field(out, 10, u64::from(span.dropped_attributes_count));
    for event in &span.events.events {
        message(out, 11, |e| {
            fixed64_field(e, 1, nanos(event.timestamp));
            string_field(e, 2, &event.name);
            attributes(e, 3, event.attributes.iter());
            varint_field(e, 4, u64::from(event.dropped_attributes_count));
        });
    }
    varint_field(out, 12, u64::from(span.events.dropped_count));
    for link in &span.links.links {
        message(out, 13, |l| {
            let cx = &link.span_context;
            bytes_field(l, 1, &cx.trace_id().to_bytes());
            bytes_field(l, 2, &cx.span_id().to_bytes());
            string_field(l, 3, &cx.trace_state().header());
            attributes(l, 4, link.attributes.iter());
            varint_field(l, 5, u64::from(link.dropped_attributes_count));
            fixed32_field(l, 6, flags(cx, cx.is_remote()));
        });
    }
    varint_field(out, 14, u64::from(span.links.dropped_count));
    // Always present, as the official conversion sends it, even when unset.
    message(out, 15, |s| match &span.status {
        Status::Unset => {}
        Status::Ok => varint_field(s, 3, 1),
        Status::Error { description } => {
            string_field(s, 2, description);
            varint_field(s, 3, 2);
        }
    });
    fixed32_field(out, 16, flags(cx, span.parent_span_is_remote));
}

/// The span's trace flags, and whether its parent is remote.
fn flags(cx: &SpanContext, parent_is_remote: bool) -> u32 {
    let remote = if parent_is_remote { CONTEXT_IS_REMOTE } else { 0 };
    u32::from(cx.trace_flags().to_u8()) | CONTEXT_HAS_IS_REMOTE | remote
}

fn attributes<'a>(out: &mut Vec<u8>, field: u32, attributes: impl Iterator<Item = &'a KeyValue>) {
    for kv in attributes {
        message(out, field, |m| key_value(m, kv.key.as_str(), &kv.value));
    }
}

fn key_value(out: &mut Vec<u8>, key: &str, value: &Value) {
    string_field(out, 1, key);
    message(out, 2, |v| any_value(v, value));
}

/// An `AnyValue`'s one field.
fn any_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(s) => string_value(out, s.as_str()),
        Value::Bool(b) => {
            key(out, 2, VARINT);
            varint(out, u64::from(*b));
        }
        Value::I64(i) => {
            key(out, 3, VARINT);
            varint(out, *i as u64);
        }
        Value::F64(f) => {
            key(out, 4, FIXED64);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Array(array) => message(out, 5, |a| {
            let mut each = |v: Value| message(a, 1, |m| any_value(m, &v));
            match array {
                Array::Bool(values) => values.iter().for_each(|v| each(Value::Bool(*v))),
                Array::I64(values) => values.iter().for_each(|v| each(Value::I64(*v))),
                Array::F64(values) => values.iter().for_each(|v| each(Value::F64(*v))),
                Array::String(values) => values.iter().for_each(|v| message(a, 1, |m| string_value(m, v.as_str()))),
                // A kind of array added to the API after this was written: sent empty.
                _ => {}
            }
        }),
        // A kind of value added to the API after this was written: sent as its text.
        other => string_value(out, &other.as_str()),
    }
}

/// An `AnyValue`'s `string_value`, written even when empty: the field's presence says
/// the value is a string.
fn string_value(out: &mut Vec<u8>, s: &str) {
    key(out, 1, LEN);
    length_delimited(out, s.as_bytes());
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// Writes a length-delimited message field: the message is written in place after a
/// byte of room for its length, then the length is written there. A message of 128
/// bytes or more needs more length bytes, and moves up to make room (one `memmove`):
/// once per nesting level for the batch, once for a large span, instead of a buffer
/// per level. (`Vec::splice` did the same move through an iterator, and was most of
/// the encoder's time: BENCHMARKS.md, "Cost of tracing".)
fn message(out: &mut Vec<u8>, field: u32, write: impl FnOnce(&mut Vec<u8>)) {
    key(out, field, LEN);
    let at = out.len();
    // Most messages are under 128 bytes: their length takes one byte.
    out.push(0);
    write(out);
    let end = out.len();
    let len = end - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
        return;
    }
    let mut prefix = [0u8; 10];
    let width = varint_into(&mut prefix, len as u64);
    out.resize(end + width - 1, 0);
    out.copy_within(at + 1..end, at + width);
    out[at..at + width].copy_from_slice(&prefix[..width]);
}

fn string_field(out: &mut Vec<u8>, field: u32, s: &str) {
    bytes_field(out, field, s.as_bytes());
}

/// A `bytes` or `string` field; proto3 leaves an empty one out.
fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    if !bytes.is_empty() {
        key(out, field, LEN);
        length_delimited(out, bytes);
    }
}

/// A varint field; proto3 leaves a zero out.
fn varint_field(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        key(out, field, VARINT);
        varint(out, value);
    }
}

fn fixed64_field(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        key(out, field, FIXED64);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn fixed32_field(out: &mut Vec<u8>, field: u32, value: u32) {
    if value != 0 {
        key(out, field, FIXED32);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn length_delimited(out: &mut Vec<u8>, bytes: &[u8]) {
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    varint(out, u64::from(field << 3 | u32::from(wire_type)));
}

fn varint(out: &mut Vec<u8>, value: u64) {
    let mut bytes = [0u8; 10];
    let width = varint_into(&mut bytes, value);
    out.extend_from_slice(&bytes[..width]);
}

/// Writes `value` as a varint at the start of `bytes`; returns how many bytes it took.
fn varint_into(bytes: &mut [u8; 10], mut value: u64) -> usize {
    let mut width = 0;
    while value >= 0x80 {
        bytes[width] = value as u8 | 0x80;
        value >>= 7;
        width += 1;
    }
    bytes[width] = value as u8;
    width + 1
}
