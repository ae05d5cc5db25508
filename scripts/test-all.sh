#!/usr/bin/env bash
# Runs every test of mxclock: the README's test command and what CI runs.
#
# Installs what is missing (Kotlin compiler, JNA, faketime, Synapse, fuzzing
# tools) into caches under target/, so reruns are fast. Each step prints its
# own output; the summary at the end counts steps. A step that cannot run
# on this machine (Swift without swiftc) is SKIPPED, loudly, never passed.
#
# Environment: MXCLOCK_SKIP="kotlin synapse" skips named steps (reported as
# SKIPPED, for quick local runs only; CI sets nothing); MXCLOCK_STEP_TIMEOUT_S
# bounds each step (default 1800 s).
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

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
    if [[ $rc -eq 0 ]] && grep -q "^SKIPPED" "$log_dir/$name.log"; then
        echo "=== $name: SKIPPED (${took}s): $(grep -m1 '^SKIPPED' "$log_dir/$name.log")"
        skipped+=("$name")
    elif [[ $rc -eq 0 ]]; then
        echo "=== $name: ok (${took}s)"
        passed+=("$name")
    else
        echo "=== $name: FAILED with exit $rc (${took}s); log in $log_dir/$name.log"
        failed+=("$name")
    fi
}

step fmt cargo fmt --all -- --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
step rust-tests cargo test --workspace
# The lean core (no uniffi, no C ABI, no HTTP), as a Rust crate depending
# with `default-features = false` gets it.
step rust-lean-core cargo test --no-default-features --lib --tests
step docs env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p mxclock
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
