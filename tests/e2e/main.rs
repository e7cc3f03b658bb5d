//! Integration tests: the real `obsdemo` binary against the real OpenTelemetry
//! Collector, Jaeger and Prometheus. Run them with `./scripts/test.sh`, which installs
//! every binary they need; a missing binary fails a test, naming its installer.

mod apps;
mod console;
mod harness;
mod install;
mod interrupt;
mod kubernetes;
mod lifecycle;
mod load;
mod metrics;
mod refusals;
mod reliability;
mod topologies;
mod windows;
