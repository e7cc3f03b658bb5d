//! When a failed export is sent again, and after how long: the OTLP specification's
//! retryable failures, and a server's own `RetryInfo`, as opentelemetry-otlp 0.33.1
//! decides (`src/retry.rs`, `src/retry_classification.rs`) and as the Collector's
//! OTLP exporter does (open-telemetry/opentelemetry-collector
//! `exporter/otlpexporter/otlp.go`, `shouldRetry`).

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::StatusExt as _;

/// The longest wait a server's `RetryInfo` may ask for (opentelemetry-otlp 0.33.1
/// `src/retry.rs`, `MAX_THROTTLE_DURATION`); the export's deadline still bounds it.
const MAX_THROTTLE: Duration = Duration::from_secs(30);

/// How a failed export is tried again: after `initial_delay`, doubling up to
/// `max_delay`, each wait plus up to `max_jitter` at random, at most `max_retries` times.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Tries after the first.
    pub max_retries: u32,
    /// The wait before the first retry.
    pub initial_delay: Duration,
    /// The longest wait between tries (before jitter), unless the server asks for longer.
    pub max_delay: Duration,
    /// Up to this much is added to each wait at random, so that services which
    /// lost the Collector at the same moment do not all come back at the same one.
    pub max_jitter: Duration,
}

/// The waits between the tries of one export.
#[derive(Debug)]
pub struct Backoff {
    policy: Retry,
    retries: u32,
    delay: Duration,
    cap: Duration,
}

impl Backoff {
    /// The first export's backoff.
    pub fn new(policy: Retry) -> Self {
        Self { policy, retries: 0, delay: policy.initial_delay, cap: policy.max_delay }
    }

    /// Tries after the first so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// How long to wait before trying again after a try failed with `status`, or
    /// `None` to give up: the failure is final, the retries are spent, or the wait
    /// would not end within `remaining`.
    pub fn after(&mut self, status: &Status, remaining: Duration) -> Option<Duration> {
        let asked = server_wait(status)?;
        if self.retries >= self.policy.max_retries {
            return None;
        }
        if let Some(asked) = asked.map(|d| d.min(MAX_THROTTLE)) {
            // The server's wait is the least this one may be; later waits grow from it.
            if asked > self.cap {
                self.cap = MAX_THROTTLE;
            }
            self.delay = self.delay.max(asked);
        }
        // The jitter goes on top of the capped wait: opentelemetry-otlp caps the sum, so
        // once its waits reach the cap they have no jitter left, and every service
        // that lost the Collector tries again at the same moments.
        let jitter = Duration::from_millis(fastrand::u64(0..=self.policy.max_jitter.as_millis() as u64));
        let wait = self.delay.min(self.cap) + jitter;
        if wait >= remaining {
            return None;
        }
        self.retries += 1;
        self.delay = (self.delay * 2).min(self.cap);
        Some(wait)
    }
}

/// Whether a try that failed with `status` may succeed if sent again (`Some`), and
/// the wait the server asked for, if it did. RESOURCE_EXHAUSTED is retried only
/// with a `RetryInfo`: without one the server says it cannot recover (the OTLP
/// specification, "Failures"). The Collector's memory limiter refuses data with
/// UNAVAILABLE, which is always retried.
fn server_wait(status: &Status) -> Option<Option<Duration>> {
    let asked = status.get_details_retry_info().and_then(|info| info.retry_delay).filter(|d| !d.is_zero());
    match status.code() {
        Code::ResourceExhausted => asked.map(Some),
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => Some(asked),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::ErrorDetails;

    use super::*;

    const POLICY: Retry = Retry {
        max_retries: 4,
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(300),
        max_jitter: Duration::ZERO,
    };
    const PLENTY: Duration = Duration::from_secs(60);

    fn asking(code: Code, wait: Duration) -> Status {
        Status::with_error_details(code, "busy", ErrorDetails::with_retry_info(Some(wait)))
    }

    fn waits(backoff: &mut Backoff, status: &Status) -> Vec<Option<u128>> {
        (0..5).map(|_| backoff.after(status, PLENTY).map(|d| d.as_millis())).collect()
    }

    #[test]
    fn an_unavailable_collector_is_tried_again_with_doubling_waits_then_given_up() {
        let mut backoff = Backoff::new(POLICY);
        let waits = waits(&mut backoff, &Status::unavailable("connection refused"));
        assert_eq!(waits, [Some(100), Some(200), Some(300), Some(300), None]);
        assert_eq!(backoff.retries(), 4);
    }

    #[test]
    fn resource_exhausted_is_final_unless_the_server_says_when_to_come_back() {
        assert_eq!(Backoff::new(POLICY).after(&Status::resource_exhausted("full"), PLENTY), None);
        let mut backoff = Backoff::new(POLICY);
        let waits = waits(&mut backoff, &asking(Code::ResourceExhausted, Duration::from_secs(2)));
        // The server's wait, beyond max_delay, raises the cap to MAX_THROTTLE.
        assert_eq!(waits, [Some(2_000), Some(4_000), Some(8_000), Some(16_000), None]);
    }

    #[test]
    fn a_server_wait_is_a_minimum_and_never_shortens_the_backoff() {
        let mut backoff = Backoff::new(POLICY);
        let mut next = |wait_ms| backoff.after(&asking(Code::Unavailable, Duration::from_millis(wait_ms)), PLENTY);
        assert_eq!(next(150), Some(Duration::from_millis(150)));
        assert_eq!(next(10), Some(Duration::from_millis(300)), "doubled from 150, capped at max_delay");
    }

    #[test]
    fn failures_a_retry_cannot_fix_are_final() {
        for code in
            [Code::InvalidArgument, Code::Unauthenticated, Code::PermissionDenied, Code::Unimplemented, Code::Internal]
        {
            assert_eq!(Backoff::new(POLICY).after(&Status::new(code, "no"), PLENTY), None, "{code:?}");
        }
    }

    #[test]
    fn no_wait_outlasts_the_export_deadline() {
        let mut backoff = Backoff::new(POLICY);
        assert_eq!(backoff.after(&Status::unavailable("down"), Duration::from_millis(100)), None);
        assert_eq!(backoff.retries(), 0);
    }

    #[test]
    fn jitter_goes_on_top_of_every_wait_the_capped_ones_included() {
        let jittery = Retry { max_jitter: Duration::from_millis(50), ..POLICY };
        let mut backoff = Backoff::new(jittery);
        let waits: Vec<u128> =
            (0..4).map(|_| backoff.after(&Status::unavailable("down"), PLENTY).unwrap().as_millis()).collect();
        assert!((100..=150).contains(&waits[0]), "{waits:?}");
        assert!(waits[2..].iter().all(|w| (300..=350).contains(w)), "jitter on top of the cap: {waits:?}");
    }
}
