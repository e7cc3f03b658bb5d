//! What makes a trace complete: exactly one root; every span's parent is in the trace;
//! and every client span calling a service (`peer.service`) has a server span of that
//! service as its child. So a trace holds a span from every service the request passed
//! through, however far it got (a declined payment never reaches Shipping).
//!
//! A trace the load generator started ([`super::trace_context`]) has a caller outside
//! it: its root names the caller's span, which is not in the trace, as its parent.

use std::collections::HashSet;

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
    /// Whether the trace is complete; if not, why. `caller` is the span id of the
    /// caller that started the trace from outside it, when one did.
    pub fn check(&self, caller: Option<u64>) -> Result<(), String> {
        let is_root = |s: &&Span| s.parent.is_none() || s.parent == caller;
        let roots = self.spans.iter().filter(is_root).count();
        if roots != 1 {
            return Err(format!("{roots} root spans, expected 1"));
        }
        let ids: HashSet<u64> = self.spans.iter().map(|s| s.id).collect();
        for span in &self.spans {
            if let Some(parent) = span.parent
                && !ids.contains(&parent)
                && !is_root(&span)
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
        assert_eq!(trace.check(None), Ok(()));
    }

    #[test]
    fn a_missing_callee_parent_or_root_is_incomplete() {
        let no_callee = Trace {
            spans: vec![
                span(1, None, "Order-service", None),
                span(2, Some(1), "Order-service", Some("Payment-service")),
            ],
        };
        assert!(no_callee.check(None).unwrap_err().contains("no span of Payment-service"));
        let orphan =
            Trace { spans: vec![span(1, None, "Order-service", None), span(3, Some(9), "Payment-service", None)] };
        assert!(orphan.check(None).unwrap_err().contains("parent 0000000000000009"));
        let two_roots =
            Trace { spans: vec![span(1, None, "Order-service", None), span(2, None, "Payment-service", None)] };
        assert!(two_roots.check(None).unwrap_err().contains("2 root spans"));
        assert!(Trace::default().check(None).unwrap_err().contains("0 root spans"));
    }

    #[test]
    fn a_trace_started_by_a_caller_outside_it_has_the_callers_child_as_root() {
        let started = |root_parent| Trace {
            spans: vec![
                span(1, root_parent, "Order-service", None),
                span(2, Some(1), "Order-service", Some("Payment-service")),
                span(3, Some(2), "Payment-service", None),
            ],
        };
        assert_eq!(started(Some(77)).check(Some(77)), Ok(()));
        assert!(started(Some(77)).check(None).unwrap_err().contains("0 root spans"));
        assert!(started(Some(77)).check(Some(78)).unwrap_err().contains("0 root spans"));
        // The server did not continue the caller's trace: its own root still counts.
        assert_eq!(started(None).check(Some(77)), Ok(()));
        // Two spans under the caller are two roots, as two spans without a parent are.
        let mut twice = started(Some(77));
        twice.spans.push(span(4, Some(77), "Order-service", None));
        assert!(twice.check(Some(77)).unwrap_err().contains("2 root spans"));
    }
}
