//! The trace each request starts, for servers that do not say which trace they made.
//!
//! The demo services name each request's trace in a `traceresponse` header. A user's
//! own service (a Django app with OpenTelemetry's instrumentation) names none, so the
//! load generator starts the trace itself: every request carries a W3C `traceparent`
//! with a fresh trace id, and any server that continues W3C trace context (the
//! OpenTelemetry SDKs' default propagator, `OTEL_PROPAGATORS=tracecontext,baggage`:
//! open-telemetry/opentelemetry-specification
//! `specification/configuration/sdk-environment-variables.md`) makes its spans in that
//! trace. So the check knows each trace id before the answer comes, as k6's tracing
//! module does. The span the `traceparent` names is the load generator's own, sent to
//! the stack once the answer comes ([`super::client_spans`]): the trace's root.

use std::io::Write;

/// The header that carries a trace context (W3C Trace Context, section 3.2).
pub const TRACEPARENT: &str = "traceparent";

/// The caller's side of a trace the load generator starts: the trace, and the load
/// generator's span of the request, which the server's first span names as its parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The trace id.
    pub trace: u128,
    /// The load generator's span id, sent as the parent.
    pub span: u64,
}

impl Caller {
    /// A new trace: random ids, never all zeros (which W3C Trace Context forbids).
    pub fn random() -> Self {
        Self { trace: fastrand::u128(1..), span: fastrand::u64(1..) }
    }

    /// Appends the `traceparent` header line, version 00, sampled (`-01`): a server
    /// whose sampler follows its parent (the SDKs' default, `parentbased_always_on`)
    /// records the trace.
    pub fn write_header(&self, out: &mut Vec<u8>) {
        write!(out, "{TRACEPARENT}: 00-{:032x}-{:016x}-01\r\n", self.trace, self.span).expect("Vec grows");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::http1::trace_id_of;

    #[test]
    fn the_header_is_a_sampled_version_00_traceparent() {
        let mut out = Vec::new();
        Caller { trace: 0x0af7651916cd43dd8448eb211c80319c, span: 0xb7ad6b7169203331 }.write_header(&mut out);
        assert_eq!(out, b"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n");
    }

    #[test]
    fn random_ids_are_never_zero_and_read_back_as_sent() {
        for _ in 0..1_000 {
            let caller = Caller::random();
            assert!(caller.trace != 0 && caller.span != 0);
            let mut out = Vec::new();
            caller.write_header(&mut out);
            let value = &out[TRACEPARENT.len() + 2..out.len() - 2];
            assert_eq!(trace_id_of(value), Some(caller.trace));
        }
    }
}
