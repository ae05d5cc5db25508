#!/usr/bin/env bash
# The library's Rust tests on 32-bit and 64-bit ARM Linux, under qemu-user:
#
#   armv7-unknown-linux-gnueabihf   32-bit usize, time_t and atomics, as on
#                                   Android armeabi-v7a
#   aarch64-unknown-linux-gnu       64-bit ARM, as on Android arm64-v8a
#
# Default features (ureq, rustls and ring's C and assembly included), built
# with Debian's cross compilers (gcc-arm-linux-gnueabihf,
# gcc-aarch64-linux-gnu) and run through cargo's target runner under
# qemu-arm / qemu-aarch64 with the cross libc (-L /usr/<triple>). The test
# homeservers of the integration tests are threads of the test binaries, so
# the loopback tests run under qemu too. Missing packages are installed with
# apt-get (root on Debian); a target whose toolchain cannot be had is
# "SKIPPED (part)", and the whole step SKIPPED when none can.
#
# Left out under qemu, by module (`--skip MODULE::`; each runs natively in
# `cargo test`; under qemu they take minutes without exercising anything
# width- or architecture-specific beyond what the included tests do):
#   events_json, transport_parse_props, transport_redaction
#                   property tests of JSON/HTTP parsing (2 000+ cases each;
#                   ~150 s, ~60 s, ~50 s per target under qemu)
#   synapse_e2e     needs a Synapse server (scripts/test-synapse.sh)
#   doc tests       not cross-compiled (`--lib --tests` only)
#   security        on aarch64 only (~3 min under qemu on a loaded machine;
#                   it runs on armv7, where widths differ from x86_64, and
#                   natively)
# and two test cases (by name):
#   proxies_from_the_environment   re-executes its own test binary, which
#                   needs binfmt_misc to find qemu (containers lack it)
#   with_http::fault_matrix        its 10 MB-body case must hit the 64 KiB
#                   cap before the 1.5 s request timeout; emulated and on a
#                   loaded machine, reading 64 KiB takes about that long
#
# Time (2 cores, cold): building ~2-4 min per target, running ~1.5 min per
# target; the build is cached under target/<triple>/ (debug info off).
#
# Env: MXCLOCK_ARM_TARGETS (space-separated subset of the two triples).
# Closing line: `arm: N passed, N failed` (test cases, both targets).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export CARGO_TERM_COLOR=never
# shellcheck source=scripts/lib/cross.sh
. scripts/lib/cross.sh

excluded_modules="events_json transport_parse_props transport_redaction synapse_e2e"
skipped_cases=(--skip proxies_from_the_environment --skip with_http::fault_matrix)
for m in $excluded_modules; do skipped_cases+=(--skip "$m::"); done

# triple → Debian gcc package, gcc prefix, qemu binary
toolchain() {
    case "$1" in
        armv7-unknown-linux-gnueabihf) echo "gcc-arm-linux-gnueabihf arm-linux-gnueabihf qemu-arm" ;;
        aarch64-unknown-linux-gnu) echo "gcc-aarch64-linux-gnu aarch64-linux-gnu qemu-aarch64" ;;
        *) return 1 ;;
    esac
}

read -r -a wanted <<<"${MXCLOCK_ARM_TARGETS:-armv7-unknown-linux-gnueabihf aarch64-unknown-linux-gnu}"
targets=()
for t in "${wanted[@]}"; do
    read -r gcc_pkg prefix qemu <<<"$(toolchain "$t")" || { echo "arm: unknown target $t"; exit 2; }
    # The gcc-*-cross packages bring their libc (libc6-dev-*-cross) along.
    if ! ensure_debian_packages "$gcc_pkg" qemu-user; then
        echo "SKIPPED (part): $t: no $gcc_pkg / qemu-user (apt-get install $gcc_pkg qemu-user)"
        continue
    fi
    if ! command -v "$prefix-gcc" >/dev/null || ! command -v "$qemu" >/dev/null; then
        echo "SKIPPED (part): $t: $prefix-gcc or $qemu not on PATH after installing"
        continue
    fi
    if ! ensure_rust_target "$t"; then
        echo "SKIPPED (part): $t: its Rust standard library cannot be installed here"
        continue
    fi
    up=$(target_env_upper "$t")
    low=$(target_env_lower "$t")
    export "CARGO_TARGET_${up}_LINKER=$prefix-gcc"
    export "CARGO_TARGET_${up}_RUNNER=$qemu -L /usr/$prefix"
    export "CC_${low}=$prefix-gcc"
    export "AR_${low}=$prefix-ar"
    targets+=("$t")
done
if ((${#targets[@]} == 0)); then
    echo "SKIPPED: no ARM target could be set up (cross compilers, qemu-user or Rust targets missing)"
    echo "arm: 0 passed, 0 failed"
    exit 0
fi

# Debug info makes the test binaries large and the link slow, and a
# backtrace under qemu is readable without it.
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0
# The library's unit tests and every integration-test crate.
test_args=(-p mxclock --lib --tests)
target_args=()
for t in "${targets[@]}"; do target_args+=(--target "$t"); done

start=$SECONDS
echo "--- building tests for ${targets[*]}"
if ! cargo test --no-run "${target_args[@]}" "${test_args[@]}"; then
    echo "arm: build FAILED"
    echo "arm: 0 passed, 1 failed"
    exit 1
fi
echo "--- built in $((SECONDS - start)) s"

passed=0 failed=0 rc_all=0
for t in "${targets[@]}"; do
    start=$SECONDS
    log="target/arm-$t.log"
    skip_args=("${skipped_cases[@]}")
    [[ $t == aarch64-* ]] && skip_args+=(--skip "security::")
    echo "--- running on $t under qemu (left out: doc tests; ${skip_args[*]})"
    # --no-fail-fast: one failing binary must not hide the others' results.
    cargo test --no-fail-fast --target "$t" "${test_args[@]}" -- "${skip_args[@]}" >"$log" 2>&1
    rc=$?
    grep -E '^(test result|     Running|test .* FAILED|---- )' "$log"
    read -r p f < <(awk '/^test result:/ {
        for (i = 2; i <= NF; i++) { if ($i == "passed;") p += $(i - 1); if ($i == "failed;") f += $(i - 1) }
    } END { print p + 0, f + 0 }' "$log")
    if ((rc != 0 && f == 0)); then
        f=1 # crashed before a result line (qemu, a signal, a link error)
        tail -n 30 "$log"
    fi
    ((f > 0)) && { rc_all=1; grep -A 25 -E '^---- ' "$log" | head -n 80; }
    echo "arm: $t: $p passed, $f failed ($((SECONDS - start)) s; log $log)"
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "arm: $passed passed, $failed failed"
exit "$rc_all"
