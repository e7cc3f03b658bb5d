//! The services' spans, made with the OpenTelemetry API directly. (Through the
//! `tracing` bridge each span cost a registry entry, a layer's bookkeeping and string
//! conversions of every field; see BENCHMARKS.md, "Cost of tracing".)
//!
//! One tracer per process, installed by `telemetry::init`; with tracing off there is
//! none and no span is made at all.

use std::borrow::Cow;
use std::sync::OnceLock;

use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, Span};

static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// Makes `tracer` the one every span of this process comes from (the first wins).
pub fn install(tracer: SdkTracer) {
    let _ = TRACER.set(tracer);
}

/// Whether spans are made at all: callers skip building a span's attributes when not.
pub fn enabled() -> bool {
    TRACER.get().is_some()
}

/// Starts a span of `kind` as a child of `parent`; `None` with tracing off.
pub fn start(
    name: impl Into<Cow<'static, str>>,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
    parent: &Context,
) -> Option<Span> {
    let tracer = TRACER.get()?;
    Some(tracer.span_builder(name).with_kind(kind).with_attributes(attributes).start_with_context(tracer, parent))
}

/// An internal span for a step of work, a child of the current span; it ends when
/// dropped.
pub fn step(name: &'static str, attributes: Vec<KeyValue>) -> Option<Span> {
    start(name, SpanKind::Internal, attributes, &Context::current())
}

/// Marks the current span of `cx` as failed, described by `why`.
pub fn fail(cx: &Context, why: impl Into<Cow<'static, str>>) {
    cx.span().set_status(Status::error(why));
}
