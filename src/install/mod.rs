//! Third-party binaries: finding them ([`resolve`]); installing official releases
//! ([`official`], from the table in [`releases`], with [`download`] and [`archive`]);
//! recording each install with its [`manifest`]; asking a binary its version
//! ([`reported`]);
//! and building them from source with Go ([`source`]).

pub mod archive;
pub mod download;
pub mod error;
pub mod manifest;
pub mod official;
pub mod releases;
pub mod reported;
pub mod resolve;
pub mod source;

pub use error::InstallError;
pub use resolve::{BinarySpec, MissingBinary, managed_dir, resolve};
pub use source::SourceRecipe;

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

/// `bytes` as lower-case hex, the form release checksum files use.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
