//! The mxclock CLI example, as the Synapse and nginx tests run it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `<target>/<profile>/examples/mxclock`, next to this test executable
/// (`<target>/<profile>/deps/over_http-*`), or `MXCLOCK_CLI_BIN`.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("MXCLOCK_CLI_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>/deps");
    let bin = profile_dir.join("examples").join("mxclock");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --example mxclock` first (scripts/test-synapse.sh \
         and scripts/test-nginx.sh do)",
        bin.display()
    );
    bin
}

/// `mxclock sync <url> [more]`: its stdout (it must succeed).
pub fn sync(url: &str, more: &[&str]) -> String {
    let out = Command::new(binary())
        .args(["sync", url])
        .args(more)
        .stdin(Stdio::null())
        .output()
        .expect("run the mxclock CLI");
    assert!(
        out.status.success(),
        "mxclock sync: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the CLI prints UTF-8")
}
