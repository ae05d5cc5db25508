#!/usr/bin/env bash
# Short fuzzing run for CI (docs/fuzzing.md): builds the cargo-fuzz targets of fuzz/
# and runs each for FUZZ_SECONDS (default 30 s; 5 targets ≈ 2.5 min plus the
# build, which is cached under target/fuzz). A target passes when it ran its
# time without a crash, leak, timeout or out-of-memory; the script fails on
# any crash and prints `fuzz: N passed, N failed`.
#
# cargo-fuzz needs -Z flags (sanitizers), which stable rustc accepts with
# RUSTC_BOOTSTRAP=1: no nightly toolchain is required. cargo-fuzz itself is
# installed into target/tools on first use.
#
# Environment: FUZZ_SECONDS (per target), FUZZ_TARGETS (space-separated
# subset). Longer runs: docs/fuzzing.md.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

seconds=${FUZZ_SECONDS:-30}
tools="${MXCLOCK_TOOLS_DIR:-$PWD/target/tools}"
target_dir="$PWD/target/fuzz"
export PATH="$tools/bin:$PATH"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
# Pinned (scripts/vendor.sh vendors this version for offline machines).
CARGO_FUZZ_VERSION=0.13.2

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz into $tools"
    if ! cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$tools"; then
        echo "SKIPPED: fuzz: cargo-fuzz could not be installed (no crates.io, and not in the vendored crates?)"
        exit 0
    fi
fi

all_targets=$(cargo fuzz list --fuzz-dir fuzz)
targets=${FUZZ_TARGETS:-$all_targets}
echo "fuzz: building $(wc -w <<<"$targets") targets (cached in $target_dir)"
if ! cargo fuzz build --fuzz-dir fuzz --target-dir "$target_dir"; then
    echo "fuzz: build FAILED"
    echo "fuzz: 0 passed, $(wc -w <<<"$targets") failed"
    exit 1
fi

passed=0 failed=0 summary=()
for t in $targets; do
    # New inputs go to a scratch corpus under target/; the checked-in seed
    # corpus (fuzz/corpus/<target>) is only read.
    work="$target_dir/corpus/$t"
    artifacts="$target_dir/artifacts/$t/"
    mkdir -p "$work" "$artifacts"
    log="$target_dir/$t.log"
    echo "=== fuzz $t for ${seconds}s"
    cargo fuzz run --fuzz-dir fuzz --target-dir "$target_dir" "$t" "$work" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    if [[ $rc -eq 0 ]]; then
        passed=$((passed + 1))
        summary+=("  ok      $t: ${execs:-?} executions in ${seconds}s")
    else
        failed=$((failed + 1))
        summary+=("  FAILED  $t (exit $rc): see $log and $artifacts")
        # The crash report: the input and the panic or sanitizer message.
        grep -E -m 20 'panicked|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY|Test unit written|Base64' "$log"
    fi
done
printf '%s\n' "${summary[@]}"
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
