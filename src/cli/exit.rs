//! Exit codes, and turning an error into a message and a code: the one place where
//! error kinds map to codes.

use std::process::ExitCode;

use crate::error::{Error, ErrorKind};

use super::style;

/// What a command's exit code means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
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
    /// The exit code of a command obsdemo ran for the user (`obsdemo run`), passed on.
    Exited(u8),
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(match code {
            Code::Success => 0,
            Code::Failure => 1,
            Code::InvalidInput => 2,
            Code::Conflict => 3,
            Code::Interrupted => 130,
            Code::Exited(code) => code,
        })
    }
}

/// The code an error exits with: the kind the first classified error in its chain
/// says it is, else a plain failure.
pub fn code_of(e: &anyhow::Error) -> Code {
    let kind = e.chain().find_map(|cause| cause.downcast_ref::<Error>().map(Error::kind));
    match kind {
        Some(ErrorKind::InvalidInput) => Code::InvalidInput,
        Some(ErrorKind::Conflict) => Code::Conflict,
        Some(ErrorKind::Interrupted) => Code::Interrupted,
        Some(ErrorKind::Failure) | None => Code::Failure,
    }
}

/// Prints `e` with its causes to stderr and returns its exit code.
pub fn report(e: &anyhow::Error) -> ExitCode {
    eprintln!("{} {e}", style::error("error:"));
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
    code_of(e).into()
}
