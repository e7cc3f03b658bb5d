//! What kind of failure an error is, asked of the error itself: the command line maps
//! kinds to exit codes in one place (`cli/exit.rs`) without knowing the error types.
//!
//! Library errors implement [`HasKind`]; where one leaves the library it is wrapped
//! in [`Error`], which keeps the original error (its message and its type) and its
//! kind.

use std::fmt;

/// What an error says about whose move it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is wrong (`stack.toml`, flags): the user must change it.
    InvalidInput,
    /// The machine is in the way (a port in use, a binary missing, a stack running).
    Conflict,
    /// The stack or the operation failed.
    Failure,
    /// The user stopped it.
    Interrupted,
}

/// An error that knows its [`ErrorKind`].
pub trait HasKind: std::error::Error + Send + Sync + 'static {
    /// Its kind.
    fn kind(&self) -> ErrorKind;
}

/// A library error on its way out, with its kind.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    inner: Box<dyn std::error::Error + Send + Sync>,
}

impl Error {
    /// Its kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The original error, for a caller that wants its type back.
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self.inner.as_ref()
    }
}

impl<E: HasKind> From<E> for Error {
    fn from(e: E) -> Self {
        Self { kind: e.kind(), inner: Box::new(e) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

/// The user pressed Ctrl-C (or the process got SIGTERM).
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

impl HasKind for Interrupted {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Interrupted
    }
}
