//! When each request is due: one scheduler for both pacing modes.

use std::time::Duration;

use tokio::time::Instant;

/// How requests are paced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pacing {
    /// Open loop: request `i` is due at `start + i / rate`, whatever the server does;
    /// the pool of connections grows so it can leave then, and how late it left is
    /// recorded beside its latency.
    Rate(f64),
    /// Closed loop: each connection sends its next request when the last one is
    /// answered; latency counts from the send.
    Closed,
}

/// The schedule of one run.
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// When the run started.
    pub start: Instant,
    /// How long it sends.
    pub duration: Duration,
    /// The pacing.
    pub pacing: Pacing,
}

impl Schedule {
    /// When request `i` is due, or `None` once the run is over. In closed loop a
    /// request is due at once while the run lasts.
    pub fn due(&self, i: u64) -> Option<Instant> {
        let end = self.start + self.duration;
        let due = match self.pacing {
            Pacing::Rate(rate) => self.start + Duration::from_secs_f64(i as f64 / rate),
            Pacing::Closed => Instant::now(),
        };
        (due < end).then_some(due)
    }

    /// How many requests an open-loop run sends in all.
    pub fn planned(&self) -> Option<u64> {
        match self.pacing {
            Pacing::Rate(rate) => Some((self.duration.as_secs_f64() * rate).ceil() as u64),
            Pacing::Closed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_loop_spaces_requests_evenly_and_stops_at_the_end() {
        let start = Instant::now();
        let s = Schedule { start, duration: Duration::from_secs(10), pacing: Pacing::Rate(1000.0) };
        assert_eq!(s.due(0), Some(start));
        assert_eq!(s.due(1), Some(start + Duration::from_millis(1)));
        assert_eq!(s.due(2500), Some(start + Duration::from_millis(2500)));
        // Exactly rate x duration requests fit, the next is past the end.
        assert!(s.due(9_999).is_some());
        assert_eq!(s.due(10_000), None);
        assert_eq!(s.planned(), Some(10_000));
    }

    #[test]
    fn rate_is_accurate_for_fractional_rates() {
        let start = Instant::now();
        let s = Schedule { start, duration: Duration::from_secs(30), pacing: Pacing::Rate(7.5) };
        let sent = (0..).take_while(|i| s.due(*i).is_some()).count();
        assert_eq!(sent, 225);
        let last = s.due(224).unwrap() - start;
        assert!((last.as_secs_f64() - 224.0 / 7.5).abs() < 1e-6);
    }

    #[test]
    fn closed_loop_is_due_now_until_the_end() {
        let s = Schedule {
            start: Instant::now() - Duration::from_secs(5),
            duration: Duration::from_secs(1),
            pacing: Pacing::Closed,
        };
        assert_eq!(s.due(0), None);
        let s = Schedule { start: Instant::now(), duration: Duration::from_secs(60), pacing: Pacing::Closed };
        assert!(s.due(123).is_some());
        assert_eq!(s.planned(), None);
    }
}
