//! Waits that end when a request is due, not up to a millisecond later.
//!
//! Tokio's timer wheel has millisecond slots and rounds every deadline up to the next
//! one, and the worker it wakes may then wait for its thread to be scheduled: at 100
//! rps on an idle machine requests left 0.8 ms late at the median and 3.5 ms at p99.
//! One thread of the load generator's own holds every deadline and sleeps on a
//! condition variable's timeout instead, which Linux serves with a high-resolution
//! timer (50 µs of slack by default), and macOS and Windows (with
//! [`crate::platform::precise_timers`]) to about a millisecond. It wakes each waiting
//! task when its deadline passes. It uses no CPU between deadlines.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::oneshot;

/// The pacing thread; stops when dropped.
pub struct Pacer {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    queue: Mutex<Queue>,
    changed: Condvar,
}

#[derive(Default)]
struct Queue {
    waiting: BinaryHeap<Waiting>,
    /// Breaks ties between equal deadlines, first come first woken.
    next_seq: u64,
    closed: bool,
}

/// One task waiting for `due`.
struct Waiting {
    due: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

// Earliest first: `BinaryHeap` is a max-heap, so the order is reversed.
impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}

impl Eq for Waiting {}

impl Pacer {
    /// Starts the pacing thread.
    pub fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Shared { queue: Mutex::default(), changed: Condvar::new() });
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new().name("obsdemo-pacer".into()).spawn(move || shared.run())?
        };
        Ok(Self { shared, thread: Some(thread) })
    }

    /// Resolves at `due` (at once if it has passed). Dropping the future gives up the
    /// wait; the thread then drops its wake-up unsent.
    pub async fn until(&self, due: Instant) {
        if due <= Instant::now() {
            return;
        }
        let (wake, woken) = oneshot::channel();
        {
            let mut queue = self.shared.lock();
            let seq = queue.next_seq;
            queue.next_seq += 1;
            let earliest = queue.waiting.peek().is_none_or(|first| due < first.due);
            queue.waiting.push(Waiting { due, seq, wake });
            if earliest {
                self.shared.changed.notify_one();
            }
        }
        let _ = woken.await;
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.changed.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes each waiting task at its deadline until the pacer is dropped.
    fn run(&self) {
        let mut queue = self.lock();
        while !queue.closed {
            let Some(first) = queue.waiting.peek() else {
                queue = self.changed.wait(queue).unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            let now = Instant::now();
            if first.due <= now {
                let due = queue.waiting.pop().expect("peeked");
                let _ = due.wake.send(());
                continue;
            }
            let wait = first.due - now;
            queue = self.changed.wait_timeout(queue, wait).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tasks_wake_in_deadline_order_and_on_time() {
        let pacer = Arc::new(Pacer::start().unwrap());
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for ms in [30u64, 10, 20, 10] {
            let pacer = pacer.clone();
            let due = start + Duration::from_millis(ms);
            tasks.spawn(async move {
                pacer.until(due).await;
                (ms, Instant::now().saturating_duration_since(due))
            });
        }
        let mut woken = Vec::new();
        while let Some(done) = tasks.join_next().await {
            woken.push(done.unwrap());
        }
        woken.sort();
        assert_eq!(woken.iter().map(|w| w.0).collect::<Vec<_>>(), [10, 10, 20, 30]);
        // A generous bound: tests share the machine; the benchmark measures the real figure.
        assert!(woken.iter().all(|w| w.1 < Duration::from_millis(20)), "{woken:?}");
        // A deadline already past does not wait; a dropped wait does not stall the rest.
        pacer.until(start).await;
        let gave_up =
            tokio::time::timeout(Duration::from_millis(5), pacer.until(start + Duration::from_secs(60))).await;
        assert!(gave_up.is_err());
        pacer.until(Instant::now() + Duration::from_millis(5)).await;
    }
}
