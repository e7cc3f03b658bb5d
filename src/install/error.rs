//! Everything that can go wrong while obtaining a binary, as one type, so callers
//! can tell a release that cannot be had (worth a source build instead) from one that
//! arrived and failed verification (never worked around).

use std::path::PathBuf;

use super::archive::UnpackError;
use super::download::DownloadError;
use super::official::ChecksumMismatch;
use super::releases::NotPublished;
use crate::error::{ErrorKind, HasKind};

/// An install or a source build that did not complete.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A file or directory operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`create`, `replace`, ...).
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Nothing is published for this platform.
    #[error(transparent)]
    NotPublished(#[from] NotPublished),
    /// The stack file names a version whose release files obsdemo does not know.
    #[error(
        "obsdemo has no release data for {component} {version} (it knows {component} {known}); \
         `obsdemo install --from-source {component}` builds {version}, or set `[{component}] version = \"{known}\"`"
    )]
    UnknownRelease {
        /// The component.
        component: String,
        /// The version asked for.
        version: String,
        /// The version the release table describes.
        known: String,
    },
    /// A download failed.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// The checksum file does not list the archive.
    #[error("{checksums_url} does not list {file}; refusing to install an unverified archive")]
    NotListed {
        /// The checksum file.
        checksums_url: String,
        /// The archive.
        file: String,
    },
    /// The archive does not match its published digest.
    #[error(transparent)]
    Checksum(#[from] ChecksumMismatch),
    /// The archive could not be unpacked safely.
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    /// The archive unpacked, but the binary is not where the table says.
    #[error("{file} has no {binary} (expected at {path}); the release table may be out of date")]
    NoBinaryInside {
        /// The archive.
        file: String,
        /// The binary.
        binary: String,
        /// Where it was expected.
        path: String,
    },
    /// A source build needs Go, and there is none.
    #[error(
        "building {component} from source needs the Go toolchain (go 1.24 or newer) on PATH; install it \
         (Debian: `apt-get install golang-go`, or from go.dev), or use `obsdemo install {component}` for the \
         official release"
    )]
    NoGo {
        /// The component.
        component: String,
    },
    /// A Go command of a source build failed.
    #[error("`{command}` failed ({status}); the last lines of {}:\n{tail}", log.display())]
    Go {
        /// The command line.
        command: String,
        /// How it ended.
        status: String,
        /// Its log.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
    /// The user stopped a source build; its Go processes were ended and its partial
    /// output removed.
    #[error("the build of {component} was interrupted; nothing of it was installed")]
    Interrupted {
        /// The component.
        component: String,
    },
    /// A Collector Builder manifest that cannot be used.
    #[error("the Collector Builder manifest: {0}")]
    BuilderManifest(String),
}

impl InstallError {
    /// An I/O error while doing `action` on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { action, path, source }
    }

    /// Whether the release could not be had at all (no network, an HTTP error,
    /// nothing published for this platform), as opposed to a release that arrived and
    /// failed verification, which must never be worked around.
    pub fn unavailable(&self) -> bool {
        match self {
            Self::NotPublished(_) | Self::UnknownRelease { .. } => true,
            Self::Download(d) => !matches!(d, DownloadError::Write { .. }),
            _ => false,
        }
    }
}

impl HasKind for InstallError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotPublished(_) | Self::UnknownRelease { .. } | Self::NoGo { .. } => ErrorKind::Conflict,
            Self::Interrupted { .. } => ErrorKind::Interrupted,
            _ => ErrorKind::Failure,
        }
    }
}
