//! Exit codes, and turning an error into a message and a code: the one place where
//! error kinds map to codes.

use std::process::ExitCode;

use crate::install::MissingBinary;
use crate::stack::{ConfigError, PlanError};
use crate::supervisor::preflight::PortInUse;
use crate::supervisor::start::{AlreadyRunning, Leftovers};

use super::style;

/// What a command's exit code means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// It did what was asked.
    Success = 0,
    /// The stack or the operation failed (unhealthy, crashed, timed out).
    Failure = 1,
    /// The input was invalid (stack.toml, flags).
    InvalidInput = 2,
    /// The machine is in the way: a port in use, a binary missing, a stack running.
    Conflict = 3,
    /// Stopped by Ctrl-C.
    Interrupted = 130,
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(code as u8)
    }
}

/// The user pressed Ctrl-C.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// The code an error exits with.
pub fn code_of(e: &anyhow::Error) -> Code {
    for cause in e.chain() {
        if cause.is::<ConfigError>() || cause.is::<PlanError>() {
            return Code::InvalidInput;
        }
        if cause.is::<PortInUse>()
            || cause.is::<MissingBinary>()
            || cause.is::<AlreadyRunning>()
            || cause.is::<Leftovers>()
        {
            return Code::Conflict;
        }
        if cause.is::<Interrupted>() {
            return Code::Interrupted;
        }
    }
    Code::Failure
}

/// Prints `e` with its causes to stderr and returns its exit code.
pub fn report(e: &anyhow::Error) -> ExitCode {
    eprintln!("{} {e}", style::error("error:"));
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    code_of(e).into()
}
