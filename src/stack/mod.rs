//! The stack model: `stack.toml` types and defaults ([`model`]), reading and locating
//! errors in it ([`load`]), the state dir's layout ([`paths`]), and the launch file
//! the supervisor runs ([`process`]). The plan built from it is `crate::components`'s.

pub mod duration;
pub mod load;
pub mod model;
pub mod paths;
pub mod process;
pub mod version;

pub use duration::HumanDuration;
pub use load::{ConfigError, ConfigSource, load};
pub use model::{
    AppConfig, AppHealth, JaegerFlavour, JaegerStorage, OtlpProtocol, RestartMode, ServiceConfig, ServiceKind,
    StackConfig, Topology,
};
pub use paths::StatePaths;
pub use version::Version;
