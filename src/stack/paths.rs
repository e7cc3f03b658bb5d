//! The layout of a state dir, and the secrets kept in it.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::platform;

/// Where everything of one stack lives (DESIGN.md, "State dir").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatePaths {
    /// The state dir itself.
    pub root: PathBuf,
}

impl StatePaths {
    /// The layout under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The configs actually used.
    pub fn rendered(&self) -> PathBuf {
        self.root.join("rendered")
    }

    /// One log file per component.
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// The log file of `component`.
    pub fn log(&self, component: &str) -> PathBuf {
        self.logs().join(format!("{component}.log"))
    }

    /// Prometheus TSDB, Grafana database.
    pub fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Generated secrets, each a 0600 file.
    pub fn secrets(&self) -> PathBuf {
        self.root.join("secrets")
    }

    /// The Grafana admin password file.
    pub fn grafana_password(&self) -> PathBuf {
        self.secrets().join("grafana-admin-password")
    }

    /// The console's token: every request to the console carries it (mode 0600).
    pub fn console_token(&self) -> PathBuf {
        self.secrets().join("console-token")
    }

    /// The supervisor's record of what it runs.
    pub fn state_json(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// The supervisor's control socket.
    pub fn socket(&self) -> PathBuf {
        self.root.join("supervisor.sock")
    }

    /// Creates the state dir, for its owner only (mode 0700; on Windows an owner-only
    /// ACL), and its subdirectories.
    pub fn create(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.root)?;
        // Before anything is created inside, so on Windows all of it inherits the ACL.
        platform::owner_only(&self.root)?;
        for dir in [self.rendered(), self.logs(), self.data(), self.secrets()] {
            std::fs::create_dir_all(&dir)?;
        }
        platform::owner_only(&self.secrets())
    }

    /// Returns the secret stored in `path`, generating and storing it (mode 0600) the
    /// first time, so the Grafana password survives restarts but is never a default.
    pub fn ensure_secret(&self, path: &Path) -> std::io::Result<String> {
        if let Ok(existing) = std::fs::read_to_string(path) {
            return Ok(existing.trim().to_owned());
        }
        let secret = random_token(24);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(path)?;
        platform::owner_only(path)?;
        f.write_all(secret.as_bytes())?;
        Ok(secret)
    }
}

/// `len` characters from an unambiguous alphabet, from the OS's random source.
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

/// `bytes` random bytes as lower-case hex (trace and span ids).
pub fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    getrandom::fill(&mut raw).expect("the OS random source is available");
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_generated_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StatePaths::new(dir.path().join("s"));
        paths.create().unwrap();
        let first = paths.ensure_secret(&paths.grafana_password()).unwrap();
        let second = paths.ensure_secret(&paths.grafana_password()).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.len(), 24);
        assert_ne!(first, "admin");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(paths.grafana_password()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = std::fs::metadata(&paths.root).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }
}
