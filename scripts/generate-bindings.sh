#!/usr/bin/env bash
# Generates the uniffi Kotlin and Swift bindings that are checked in under
# bindings/, from the library itself (uniffi "library mode": the exported API
# is read from the metadata inside the built cdylib).
#
#   scripts/generate-bindings.sh           regenerate bindings/kotlin and bindings/swift
#   scripts/generate-bindings.sh --check   regenerate into a temp dir and fail,
#                                          printing the diff, if the committed
#                                          files differ (run by the test command)
#
# Output layout:
#   bindings/kotlin/org/mxclock/mxclock.kt       package org.mxclock
#   bindings/swift/MxClock.swift                 module MxClock
#   bindings/swift/MxClockFFI.h                  the C side of the Swift module
#   bindings/swift/MxClockFFI.modulemap
#
# Deterministic: the crate's own uniffi-bindgen (feature `bindgen`, same
# uniffi version as the library) with --no-format, so the result does not
# depend on whether ktlint/swiftformat happen to be installed. The API is read
# from the default-feature debug cdylib, the one the tests load and the
# features apps ship; the profile does not change the metadata.
#
# uniffi-bindgen is built in its own target dir (target/bindgen): building it
# in target/ would switch the library's feature set back and forth between
# this script and `cargo build`/`cargo test`, recompiling mxclock each time.
#
# Closing line: `bindings-check: N passed, N failed` (one per generated file)
# in --check mode, `bindings: generated N files` otherwise. Exit 1 on failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CHECK=0
case "${1:-}" in
    --check) CHECK=1 ;;
    "") ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

log() { echo "generate-bindings: $*" >&2; }

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$(uname -s)" in
    Darwin) LIB="$TARGET_DIR/debug/libmxclock.dylib" ;;
    *) LIB="$TARGET_DIR/debug/libmxclock.so" ;;
esac
BINDGEN_TARGET_DIR="$TARGET_DIR/bindgen"
BINDGEN="$BINDGEN_TARGET_DIR/debug/uniffi-bindgen"

log "building the cdylib (cargo build --lib)"
cargo build --quiet --lib
log "building uniffi-bindgen (cargo build --features bindgen, in $BINDGEN_TARGET_DIR)"
CARGO_TARGET_DIR="$BINDGEN_TARGET_DIR" cargo build --quiet --features bindgen --bin uniffi-bindgen

TMP="$(mktemp -d "${TMPDIR:-/tmp}/mxclock-bindings.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

generate() { # <out-dir>
    local out="$1"
    # uniffi.toml in the crate root is picked up through cargo metadata.
    "$BINDGEN" generate "$LIB" --language kotlin --no-format --out-dir "$out/kotlin" >&2
    "$BINDGEN" generate "$LIB" --language swift --no-format --out-dir "$out/swift" >&2
    # Fail here, not later in a confusing diff, if uniffi changes its layout.
    local f
    for f in kotlin/org/mxclock/mxclock.kt swift/MxClock.swift swift/MxClockFFI.h \
        swift/MxClockFFI.modulemap; do
        [[ -s "$out/$f" ]] || { log "ERROR: uniffi-bindgen did not write $f"; exit 1; }
    done
}

generate "$TMP/new"
files=$(cd "$TMP/new" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
nfiles=$(echo "$files" | wc -l)

if [[ $CHECK == 0 ]]; then
    # Replace whole directories so files uniffi no longer writes disappear.
    mkdir -p bindings
    rm -rf bindings/kotlin bindings/swift
    cp -R "$TMP/new/kotlin" "$TMP/new/swift" bindings/
    # shellcheck disable=SC2001 # a prefix on every line
    echo "$files" | sed 's|^|  bindings/|' >&2
    echo "bindings: generated $nfiles files"
    exit 0
fi

passed=0
failed=0
# Every generated file must match, and nothing stale may be committed.
committed=$( (cd bindings 2>/dev/null && find kotlin swift -type f 2>/dev/null) | LC_ALL=C sort || true)
all=$(printf '%s\n%s\n' "$files" "$committed" | grep -v '^$' | LC_ALL=C sort -u)
for f in $all; do
    if [[ ! -f "$TMP/new/$f" ]]; then
        log "FAIL bindings/$f is committed but uniffi no longer generates it"
        failed=$((failed + 1))
    elif [[ ! -f "bindings/$f" ]]; then
        log "FAIL bindings/$f is missing"
        failed=$((failed + 1))
    elif diff -u "bindings/$f" "$TMP/new/$f" --label "bindings/$f (committed)" \
        --label "bindings/$f (generated now)" >"$TMP/diff" 2>&1; then
        passed=$((passed + 1))
    else
        log "FAIL bindings/$f differs from what the library generates now:"
        head -n 200 "$TMP/diff" >&2
        lines=$(wc -l <"$TMP/diff")
        ((lines > 200)) && log "... ($lines diff lines in total, first 200 shown)"
        failed=$((failed + 1))
    fi
done
if ((failed > 0)); then
    log "the committed bindings are stale: run scripts/generate-bindings.sh and commit bindings/"
fi
echo "bindings-check: $passed passed, $failed failed"
((failed == 0))
