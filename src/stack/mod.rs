//! The stack model: `stack.toml` types and defaults ([`model`]), reading and locating
//! errors in it ([`load`]), and the plan that applies overrides and lists every
//! listener ([`plan`]).

pub mod duration;
pub mod load;
pub mod model;
pub mod paths;
pub mod plan;
pub mod process;

pub use duration::HumanDuration;
pub use load::{ConfigError, ConfigSource, load};
pub use model::{JaegerFlavour, ServiceConfig, ServiceKind, StackConfig, Topology};
pub use paths::StatePaths;
pub use plan::{ALL_SERVICES, COMPONENTS, Endpoint, Listener, Overrides, PlanError, StackPlan};
