//! One operation per command. Each takes an options struct, the cancellation token
//! and (when it takes long) a [`Progress`](crate::progress::Progress) sink, and
//! returns a report that serializes to the command's `--json`. The command line
//! (`cli`) only parses flags, picks the sink, prints the report and maps errors to
//! exit codes; the console calls the same functions.
//!
//! An operation composes the library below it (`up`, `load`, `doctor`, `status`,
//! `install`, `export`, `supervisor`); nothing below imports `ops`.

pub mod doctor;
pub mod down;
pub mod env;
pub mod export;
pub mod install;
pub mod load;
pub mod logs;
pub mod open;
pub mod status;
pub mod up;
