//! Simulated work inside a service: an inner span that takes the configured latency
//! and fails at the configured rate.

use std::time::Duration;

use opentelemetry::trace::{Span as _, Status};

use super::spans;

/// How a service's simulated work behaves.
#[derive(Clone, Copy, Debug)]
pub struct Work {
    /// Time each step takes.
    pub latency: Duration,
    /// Share of steps that fail.
    pub error_rate: f64,
}

impl Work {
    /// Runs one named step as an inner span. Returns false when it failed, with the
    /// span marked as an error described by `failure`.
    pub async fn step(&self, name: &'static str, failure: &'static str) -> bool {
        let mut span = spans::step(name, Vec::new());
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let failed = self.error_rate > 0.0 && fastrand::f64() < self.error_rate;
        if failed && let Some(span) = &mut span {
            span.set_status(Status::error(failure));
        }
        !failed
    }
}
