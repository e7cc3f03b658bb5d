//! What the load generator itself used while a run lasted: its CPU time, and on Linux
//! how long its threads were ready to run but waited for a core. These are the
//! evidence for saying "the client was the limit"; lateness alone is not.

use std::time::Duration;

use serde::Serialize;

/// The load generator's own use of the machine over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ClientUsage {
    /// CPU time of the whole process, in milliseconds.
    pub cpu_ms: f64,
    /// Time its threads were runnable but waited for a core, in milliseconds (Linux's
    /// per-thread `schedstat`; `None` where the system does not tell).
    pub waited_for_cpu_ms: Option<f64>,
}

/// The counters at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    cpu: Option<Duration>,
    waited: Option<Duration>,
}

impl Sample {
    /// Reads this process's counters now.
    pub fn now() -> Self {
        linux_schedstat().unwrap_or_else(|| Self { cpu: process_cpu(), waited: None })
    }

    /// What was used between `start` and `self`.
    pub fn since(&self, start: &Sample) -> ClientUsage {
        let ms = |end: Option<Duration>, begin: Option<Duration>| {
            Some(end?.saturating_sub(begin?).as_secs_f64() * 1e3).map(|v| (v * 10.0).round() / 10.0)
        };
        ClientUsage { cpu_ms: ms(self.cpu, start.cpu).unwrap_or(0.0), waited_for_cpu_ms: ms(self.waited, start.waited) }
    }
}

/// Sums every thread's `schedstat` (time on a CPU, time waiting on a run queue, in
/// nanoseconds; torvalds/linux `Documentation/scheduler/sched-stats.rst`), which counts
/// to the nanosecond where `/proc/self/stat` counts in 10 ms ticks.
fn linux_schedstat() -> Option<Sample> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    let (mut on_cpu, mut waited, mut read) = (0u64, 0u64, 0usize);
    for task in tasks.flatten() {
        let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else { continue };
        read += 1;
        let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().unwrap_or(0));
        on_cpu += fields.next().unwrap_or(0);
        waited += fields.next().unwrap_or(0);
    }
    // A kernel without scheduler statistics has no such files: ask the system instead.
    (read > 0).then(|| Sample { cpu: Some(Duration::from_nanos(on_cpu)), waited: Some(Duration::from_nanos(waited)) })
}

/// This process's CPU time as the operating system counts it.
fn process_cpu() -> Option<Duration> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};
    let pid = sysinfo::get_current_pid().ok()?;
    let mut sys = System::new().ok()?;
    sys.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), true, ProcessRefreshKind::nothing().with_cpu());
    Some(Duration::from_millis(sys.process(pid)?.accumulated_cpu_time()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_work_shows_as_cpu_time() {
        let start = Sample::now();
        let began = std::time::Instant::now();
        let mut x = 0u64;
        while began.elapsed() < Duration::from_millis(60) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let used = Sample::now().since(&start);
        assert!(used.cpu_ms >= 20.0, "{used:?}");
        if cfg!(target_os = "linux") {
            assert!(used.waited_for_cpu_ms.is_some(), "{used:?}");
        }
    }
}
