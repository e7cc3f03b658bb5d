//! Checks made before anything starts: every port of the plan is free.

use std::fmt;

use crate::components::{Listener, StackPlan};
use crate::platform::{self, PortHolder, port_is_free};

/// A port of the plan is already taken.
#[derive(Debug, thiserror::Error)]
pub struct PortInUse {
    /// The listener of the plan that wants it.
    pub listener: Listener,
    /// The process holding it, where it can be found.
    pub holder: Option<PortHolder>,
}

impl fmt::Display for PortInUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is already in use", self.listener)?;
        match &self.holder {
            Some(h) => write!(f, ": held by pid {} ({})", h.pid, h.name)?,
            None => write!(f, " (the process holding it is not visible to this user)")?,
        }
        write!(
            f,
            "; stop it, set another port for {} in stack.toml, or shift every port with --port-offset",
            self.listener.component
        )
    }
}

/// Errors on the first listener of `plan` whose port is taken.
pub fn check_ports_free(plan: &StackPlan) -> Result<(), PortInUse> {
    for l in &plan.listeners {
        if !port_is_free(plan.bind(), l.port) {
            return Err(PortInUse { listener: l.clone(), holder: platform::port_holder(l.port) });
        }
    }
    Ok(())
}

impl crate::error::HasKind for PortInUse {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Conflict
    }
}
