#!/usr/bin/env bash
# Cross-target checks of the library for the platforms apps ship on:
# `cargo check` and `cargo clippy -D warnings` (type and lint checks, no code
# generation, no linking), so no target C toolchain or SDK is needed.
#
#   target                      platform
#   aarch64-apple-ios           iPhone, iPad
#   aarch64-apple-darwin        macOS on Apple silicon (swift build / swift test)
#   x86_64-apple-darwin         macOS on Intel
#   aarch64-linux-android       Android arm64-v8a
#   armv7-linux-androideabi     Android armeabi-v7a (32-bit usize, time_t, atomics)
#   x86_64-linux-android        Android emulator
#
# Features: `--no-default-features --features capi,uniffi`, i.e. all but the
# built-in HTTP transport. `http` pulls ureq → rustls → ring, whose build
# script compiles C and assembly for the target even under `cargo check`:
# it is checked where a C toolchain for the target exists (Xcode's xcrun for
# Apple targets, an Android NDK found as cargo-ndk finds it) and otherwise
# reported as "SKIPPED (part)". The lean core (no features) is checked for
# every target too. ARM Linux builds and runs everything, `http` included:
# scripts/test-arm.sh.
#
# Targets are installed with rustup when missing; a target that cannot be
# installed is "SKIPPED (part)", and when none can be, the whole step is
# SKIPPED. All targets go through one cargo invocation (cargo shares the
# host build scripts and proc macros and runs the targets in parallel);
# results are cached under target/<triple>/.
#
# Env: MXCLOCK_CROSS_TARGETS (space-separated subset of the table above).
# Closing line: `cross: N passed, N failed` (one per check and target).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export CARGO_TERM_COLOR=never
# shellcheck source=scripts/lib/cross.sh
. scripts/lib/cross.sh
# shellcheck source=scripts/lib/ndk.sh
. scripts/lib/ndk.sh

all_targets="aarch64-apple-ios aarch64-apple-darwin x86_64-apple-darwin"
all_targets+=" aarch64-linux-android armv7-linux-androideabi x86_64-linux-android"
read -r -a wanted <<<"${MXCLOCK_CROSS_TARGETS:-$all_targets}"

passed=0 failed=0
failures=()
targets=()
for t in "${wanted[@]}"; do
    if ensure_rust_target "$t"; then
        targets+=("$t")
    else
        echo "SKIPPED (part): $t: its Rust standard library cannot be installed here"
    fi
done
if ((${#targets[@]} == 0)); then
    echo "SKIPPED: no cross target could be installed (rustup offline?)"
    echo "cross: 0 passed, 0 failed"
    exit 0
fi

target_args=()
for t in "${targets[@]}"; do target_args+=(--target "$t"); done

# check NAME SUBCOMMAND ARGS...: one cargo run over all targets; counts one
# result per target (a failure names the target from cargo's output).
check() {
    local name=$1 sub=$2
    shift 2
    local log="target/cross-$name.log" start=$SECONDS
    echo "--- $name: cargo $sub ${target_args[*]} $*"
    if cargo "$sub" "${target_args[@]}" "$@" >"$log" 2>&1; then
        passed=$((passed + ${#targets[@]}))
        echo "PASS $name (${#targets[@]} targets, $((SECONDS - start)) s)"
    else
        grep -E '^(error|warning)' -A 12 "$log" | head -n 80
        tail -n 5 "$log"
        failed=$((failed + 1))
        failures+=("$name (log $log)")
        echo "FAIL $name"
    fi
}

features=(--lib --no-default-features --features "capi,uniffi")
check check-ffi check "${features[@]}"
check clippy-ffi clippy "${features[@]}" -- -D warnings
check clippy-lean-core clippy --lib --no-default-features -- -D warnings

# The `http` feature: only where the target's C compiler exists.
http_targets=()
for t in "${targets[@]}"; do
    case "$t" in
        *-apple-*)
            if command -v xcrun >/dev/null 2>&1; then
                http_targets+=("$t")
            else
                echo "SKIPPED (part): $t with feature http: ring needs Xcode's C toolchain (xcrun)"
            fi
            ;;
        *-android*)
            if ndk=$(find_ndk) && [[ -d "$ndk/toolchains/llvm/prebuilt/$(ndk_host_tag)/bin" ]]; then
                bin="$ndk/toolchains/llvm/prebuilt/$(ndk_host_tag)/bin"
                clang_triple=${t/armv7-linux-androideabi/armv7a-linux-androideabi}
                export "CC_$(target_env_lower "$t")=$bin/clang"
                export "CFLAGS_$(target_env_lower "$t")=--target=${clang_triple}21"
                export "AR_$(target_env_lower "$t")=$bin/llvm-ar"
                http_targets+=("$t")
            else
                echo "SKIPPED (part): $t with feature http: ring needs the Android NDK's clang (no NDK found)"
            fi
            ;;
    esac
done
if ((${#http_targets[@]} > 0)); then
    target_args=()
    for t in "${http_targets[@]}"; do target_args+=(--target "$t"); done
    saved=("${targets[@]}")
    targets=("${http_targets[@]}")
    check clippy-http clippy --lib -- -D warnings
    targets=("${saved[@]}")
fi

echo
for f in "${failures[@]}"; do echo "  failed: $f"; done
echo "cross: checked ${targets[*]}"
echo "cross: $passed passed, $failed failed"
((failed == 0))
