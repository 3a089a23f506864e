//! The softphone page's browser tests: where their Node scripts live, and the check that
//! Node, Chromium and playwright-core are installed (scripts/install-deps.sh test).

use std::path::{Path, PathBuf};

pub fn softphone_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/softphone")
}

/// Node, Chromium and playwright-core are installed by scripts/install-deps.sh test.
pub fn require_browser() {
    super::require_binary("node");
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run scripts/install-deps.sh test (package chromium)"
    );
    assert!(
        softphone_dir()
            .join("node_modules/playwright-core")
            .is_dir(),
        "playwright-core is missing: run scripts/install-deps.sh test (npm ci in tests/softphone)"
    );
}
