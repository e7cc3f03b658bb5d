//! Golden files for tests: rendered output compared with `tests/golden/<case>/<name>`.
//! `OBSDEMO_BLESS=1 cargo test --lib` rewrites them.

use std::path::{Path, PathBuf};

/// Compares `actual` with `tests/golden/<case>/<name>`, or rewrites it when blessing.
pub fn golden(case: &str, name: &Path, actual: &str) {
    // Cargo names the checkout at run time too; that name wins, because a test binary
    // from a shared build cache may have been built in another checkout.
    let checkout =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), PathBuf::from);
    let path = checkout.join("tests/golden").join(case).join(name);
    if std::env::var_os("OBSDEMO_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("a golden file has a directory")).expect("create golden dir");
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `OBSDEMO_BLESS=1 cargo test --lib` to create it", path.display()));
    assert!(
        expected == actual,
        "{} differs from the rendered output; if the change is intended, run `OBSDEMO_BLESS=1 cargo test --lib`\n--- rendered:\n{actual}",
        path.display()
    );
}
