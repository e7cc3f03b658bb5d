//! What makes a trace complete: exactly one root; every span's parent is in the trace;
//! and every client span calling a service (`peer.service`) has a server span of that
//! service as its child. So a trace holds a span from every service the request passed
//! through, however far it got (a declined payment never reaches Shipping).
//!
//! A trace the load generator started ([`super::trace_context`]) has its span as the
//! root ([`super::client_spans`]), and is complete only with a span of another service
//! under it: the server that continued the trace.

use std::collections::HashSet;

use super::client_spans::LOAD_SERVICE;

/// A trace as the check sees it, whichever of Jaeger's APIs it came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    /// Its spans, in any order.
    pub spans: Vec<Span>,
}

/// The parts of a span that completeness depends on.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// The span id.
    pub id: u64,
    /// Its parent's id; `None` for a root.
    pub parent: Option<u64>,
    /// The operation, to say which span is wrong.
    pub operation: String,
    /// The `service.name` of the process that sent it.
    pub service: String,
    /// For a client span, the service it calls (`peer.service`), whose server span
    /// must be its child.
    pub calls: Option<String>,
}

impl Trace {
    /// Whether the trace is complete; if not, why.
    pub fn check(&self) -> Result<(), String> {
        let roots: Vec<&Span> = self.spans.iter().filter(|s| s.parent.is_none()).collect();
        let [root] = roots[..] else {
            return Err(format!("{} root spans, expected 1", roots.len()));
        };
        if root.service == LOAD_SERVICE
            && !self.spans.iter().any(|s| s.parent == Some(root.id) && s.service != LOAD_SERVICE)
        {
            return Err(format!(
                "no server span under the request \"{}\": the server continued no trace",
                root.operation
            ));
        }
        let ids: HashSet<u64> = self.spans.iter().map(|s| s.id).collect();
        for span in &self.spans {
            if let Some(parent) = span.parent
                && !ids.contains(&parent)
            {
                return Err(format!("parent {parent:016x} of \"{}\" ({}) is missing", span.operation, span.service));
            }
            if let Some(peer) = &span.calls {
                let answered = self.spans.iter().any(|s| s.parent == Some(span.id) && &s.service == peer);
                if !answered {
                    return Err(format!(
                        "no span of {peer} under the call \"{}\" from {}",
                        span.operation, span.service
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: u64, parent: Option<u64>, service: &str, calls: Option<&str>) -> Span {
        let (operation, service, calls) = (format!("op-{id}"), service.to_owned(), calls.map(str::to_owned));
        Span { id, parent, operation, service, calls }
    }

    #[test]
    fn a_call_answered_by_the_service_it_names_is_complete() {
        let trace = Trace {
            spans: vec![
                span(1, None, "Order-service", None),
                span(2, Some(1), "Order-service", Some("Payment-service")),
                span(3, Some(2), "Payment-service", None),
            ],
        };
        assert_eq!(trace.check(), Ok(()));
    }

    #[test]
    fn a_missing_callee_parent_or_root_is_incomplete() {
        let no_callee = Trace {
            spans: vec![
                span(1, None, "Order-service", None),
                span(2, Some(1), "Order-service", Some("Payment-service")),
            ],
        };
        assert!(no_callee.check().unwrap_err().contains("no span of Payment-service"));
        let orphan =
            Trace { spans: vec![span(1, None, "Order-service", None), span(3, Some(9), "Payment-service", None)] };
        assert!(orphan.check().unwrap_err().contains("parent 0000000000000009"));
        let two_roots =
            Trace { spans: vec![span(1, None, "Order-service", None), span(2, None, "Payment-service", None)] };
        assert!(two_roots.check().unwrap_err().contains("2 root spans"));
        assert!(Trace::default().check().unwrap_err().contains("0 root spans"));
    }

    #[test]
    fn a_trace_the_load_generator_started_needs_the_servers_span_under_its_own() {
        let whole = Trace { spans: vec![span(1, None, LOAD_SERVICE, None), span(2, Some(1), "Order-service", None)] };
        assert_eq!(whole.check(), Ok(()));
        // The server made a trace of its own, or none: only the request's span is here.
        let alone = Trace { spans: vec![span(1, None, LOAD_SERVICE, None)] };
        assert!(alone.check().unwrap_err().contains("the server continued no trace"));
        // The server's span arrived first: its parent is missing, for now.
        let early = Trace { spans: vec![span(2, Some(1), "Order-service", None)] };
        assert!(early.check().unwrap_err().contains("0 root spans"));
    }
}
