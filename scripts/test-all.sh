#!/usr/bin/env bash
# Runs every test of mxclock: the README's test command and what CI runs.
#
# Installs what is missing (Kotlin compiler, JNA, faketime, Synapse, fuzzing
# tools) into caches under target/, so reruns are fast. Each step prints its
# own output; the summary at the end counts steps. A step that cannot run
# on this machine (Swift without swiftc) is SKIPPED, loudly, never passed.
#
# A step whose output has a line starting "SKIPPED (part):" passed on what
# it could run and lists the parts it could not (a cross target without its
# toolchain, say) in the summary.
#
# Offline machines: with a vendored crate directory (MXCLOCK_VENDOR_DIR, or
# ../shared/vendor beside the repository when it exists; made by
# scripts/vendor.sh), every cargo command builds from it and never from
# crates.io: a CARGO_HOME under target/ whose config.toml replaces the
# crates.io source with the directory, and CARGO_NET_OFFLINE=true. cbindgen
# and cargo-fuzz install from the same directory. Steps whose tools come
# from npm (kotlinc; tree-sitter for the Swift syntax check) are SKIPPED
# when npm cannot install them.
#
# Environment: MXCLOCK_SKIP="kotlin synapse" skips named steps (reported as
# SKIPPED, for quick local runs only; CI sets nothing); MXCLOCK_STEP_TIMEOUT_S
# bounds each step (default 1800 s).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export CARGO_TERM_COLOR=never

vendor_dir=${MXCLOCK_VENDOR_DIR:-}
[[ -z $vendor_dir && -d ../shared/vendor ]] && vendor_dir=../shared/vendor
if [[ -n $vendor_dir ]]; then
    # The physical path: crates whose macros read files relative to their
    # manifest (askama, in uniffi_bindgen) break when the directory is
    # reached through a symbolic link.
    vendor_dir=$(cd "$vendor_dir" && pwd -P) || { echo "test-all: no directory $vendor_dir"; exit 1; }
    # `[source]` tables cannot be set from the environment (CARGO_SOURCE_*
    # is not read), so they go into the config.toml of a CARGO_HOME of our
    # own; rustup's proxies and RUSTUP_HOME are not affected.
    export CARGO_HOME=$PWD/target/cargo-home-vendored
    mkdir -p "$CARGO_HOME"
    cat >"$CARGO_HOME/config.toml" <<TOML
# Written by scripts/test-all.sh: build from the vendored crates only.
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "$vendor_dir"

[net]
offline = true
TOML
    export CARGO_NET_OFFLINE=true
    echo "=== offline: crates from $vendor_dir (CARGO_HOME=$CARGO_HOME)"
fi

passed=() failed=() skipped=()
log_dir=target/test-all
mkdir -p "$log_dir"

step() {
    local name=$1
    shift
    if [[ " ${MXCLOCK_SKIP:-} " == *" $name "* ]]; then
        echo "=== $name: SKIPPED (MXCLOCK_SKIP)"
        skipped+=("$name (MXCLOCK_SKIP)")
        return
    fi
    echo "=== $name: $*"
    local start=$SECONDS rc
    # No step may hold CI (90 min in all) hostage: a hang fails the step.
    timeout --kill-after=30 "${MXCLOCK_STEP_TIMEOUT_S:-1800}" "$@" 2>&1 | tee "$log_dir/$name.log"
    rc=${PIPESTATUS[0]}
    [[ $rc -eq 124 ]] && echo "=== $name: timed out after ${MXCLOCK_STEP_TIMEOUT_S:-1800} s"
    local took=$((SECONDS - start))
    local parts
    parts=$(grep -c '^SKIPPED (part):' "$log_dir/$name.log")
    if [[ $rc -eq 0 ]] && grep -q "^SKIPPED:" "$log_dir/$name.log"; then
        echo "=== $name: SKIPPED (${took}s): $(grep -m1 '^SKIPPED:' "$log_dir/$name.log")"
        skipped+=("$name")
    elif [[ $rc -eq 0 && $parts -gt 0 ]]; then
        echo "=== $name: ok (${took}s), $parts parts SKIPPED:"
        grep '^SKIPPED (part):' "$log_dir/$name.log" | sed 's/^/      /'
        passed+=("$name ($parts parts SKIPPED, see $log_dir/$name.log)")
    elif [[ $rc -eq 0 ]]; then
        echo "=== $name: ok (${took}s)"
        passed+=("$name")
    else
        echo "=== $name: FAILED with exit $rc (${took}s); log in $log_dir/$name.log"
        failed+=("$name")
    fi
}

step fmt cargo fmt --all -- --check
step scripts-lint bash scripts/lint-scripts.sh
# Files refer only to things inside the repository (docs/design.md, ...).
step references bash scripts/check-references.sh
step clippy cargo clippy --workspace --all-targets -- -D warnings
step rust-tests cargo test --workspace
# The lean core (no uniffi, no C ABI, no HTTP), as a Rust crate depending
# with `default-features = false` gets it.
step rust-lean-core cargo test --no-default-features --lib --tests
step docs env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p mxclock
# iOS, macOS and Android: cargo check + clippy of the library per target.
step cross bash scripts/test-cross.sh
# The Rust tests on 32-bit (armv7) and 64-bit ARM Linux under qemu-user.
step arm bash scripts/test-arm.sh
# The sync session driven from async Rust (tokio + hyper) against the loopback homeserver.
step async-example cargo run --quiet --example async_sync
# A real nginx with its own Date header in front of a skewed homeserver.
step nginx-proxy bash scripts/test-nginx.sh
step c bash scripts/test-c.sh
step bindings-up-to-date bash scripts/generate-bindings.sh --check
step kotlin bash scripts/test-kotlin.sh
step swift-syntax bash scripts/test-swift.sh --syntax-only
step swift bash scripts/test-swift.sh
step synapse bash scripts/test-synapse.sh
step fuzz bash scripts/fuzz-smoke.sh

echo
echo "=== summary"
for s in "${passed[@]}"; do echo "  passed:  $s"; done
for s in "${skipped[@]}"; do echo "  SKIPPED: $s"; done
for s in "${failed[@]}"; do echo "  FAILED:  $s"; done
echo "test-all: ${#passed[@]} passed, ${#failed[@]} failed, ${#skipped[@]} skipped"
[[ ${#failed[@]} -eq 0 ]]
