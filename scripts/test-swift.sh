#!/usr/bin/env bash
# Swift binding tests.
#
# 1. Always: a syntax check of the committed bindings/swift/MxClock.swift and
#    of tests/swift/*.swift with the tree-sitter-swift grammar (npm
#    `tree-sitter` + `tree-sitter-swift`, pinned, installed into
#    target/tools/; their prebuilt linux-x64 N-API binaries work with the
#    Node here, so nothing is compiled). Closing line
#    `swift-syntax: N passed, N failed`. This proves the files parse; it
#    cannot type-check them.
# 2. Where `swiftc` exists (macOS with Xcode, or a Linux Swift toolchain):
#    build the MxClock module from the committed bindings against the fresh
#    cdylib, compile tests/swift against it and run it. Closing line
#    `swift: N passed, N failed`. Without swiftc it prints a line starting
#    `SKIPPED:` and closes with `swift: SKIPPED (no swiftc on this machine)`:
#    nothing ran, nothing is counted as passed, and the exit status reflects
#    the syntax check only.
#
#   scripts/test-swift.sh [--bench]
#   scripts/test-swift.sh --syntax-only   step 1 only (its own test-all step,
#                                         so it counts as passed even where
#                                         step 2 is skipped)
#
# Env: MXCLOCK_TOOLS_DIR (default <repo>/target/tools), SWIFTC (default swiftc).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
TOOLS_DIR="${MXCLOCK_TOOLS_DIR:-$TARGET_DIR/tools}"
OUT="$TARGET_DIR/swift-tests"
SWIFTC="${SWIFTC:-swiftc}"

# Pinned: tree-sitter-swift 0.7.1 wants tree-sitter ^0.22.1 as its peer.
TREE_SITTER_VERSION=0.22.4
TREE_SITTER_SWIFT_VERSION=0.7.1

log() { echo "test-swift: $*" >&2; }

RUN_ARGS=()
SYNTAX_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --bench) RUN_ARGS+=(--bench) ;;
        --syntax-only) SYNTAX_ONLY=1 ;;
        *) echo "usage: $0 [--bench | --syntax-only]" >&2; exit 2 ;;
    esac
done

status=0

# --- 1. syntax check ------------------------------------------------------
install_tree_sitter() {
    local dir="$TOOLS_DIR/tree-sitter-swift-$TREE_SITTER_SWIFT_VERSION"
    if [[ ! -f "$dir/.verified" ]]; then
        command -v npm >/dev/null || { log "ERROR: no npm on PATH"; return 1; }
        log "installing npm tree-sitter@$TREE_SITTER_VERSION tree-sitter-swift@$TREE_SITTER_SWIFT_VERSION into $dir"
        mkdir -p "$TOOLS_DIR"
        local tmp
        tmp="$(mktemp -d "$TOOLS_DIR/.tree-sitter-install.XXXXXX")"
        echo '{"name":"mxclock-swift-syntax","private":true}' >"$tmp/package.json"
        # --ignore-scripts: tree-sitter-swift depends on tree-sitter-cli,
        # whose install script downloads a binary from outside the registry.
        # Neither the CLI nor a native build is needed: both packages ship
        # prebuilt N-API binaries that node-gyp-build loads at require time.
        if ! npm install --prefix "$tmp" --ignore-scripts --no-package-lock --no-audit --no-fund \
            --loglevel=error "tree-sitter@$TREE_SITTER_VERSION" \
            "tree-sitter-swift@$TREE_SITTER_SWIFT_VERSION" >&2; then
            rm -rf "$tmp"
            return 1
        fi
        if ! NODE_PATH="$tmp/node_modules" node -e \
            'const P=require("tree-sitter");const p=new P();p.setLanguage(require("tree-sitter-swift"));
             if(p.parse("let x = 1\n").rootNode.hasError)process.exit(1)'; then
            log "ERROR: tree-sitter-swift does not load with $(node --version)"
            rm -rf "$tmp"
            return 1
        fi
        touch "$tmp/.verified"
        rm -rf "$dir"
        mv "$tmp" "$dir"
    fi
    echo "$dir/node_modules"
}

if node_path="$(install_tree_sitter)"; then
    mapfile -t SWIFT_FILES < <(
        echo bindings/swift/MxClock.swift
        echo bindings/companion/swift/ServerTimeReader.swift
        find tests/swift -name '*.swift' | LC_ALL=C sort
    )
    NODE_PATH="$node_path" node tests/swift/syntax_check.js "${SWIFT_FILES[@]}" || status=1
else
    # tree-sitter comes from npm: without npm's registry the syntax check
    # cannot run on this machine (swiftc below still compiles the files
    # where it exists). Loudly not passed.
    log "could not install the tree-sitter Swift grammar (npm)"
    # The whole step when it is only this check, else one part of it.
    prefix="SKIPPED (part)"
    ((SYNTAX_ONLY == 1)) && prefix="SKIPPED"
    echo "$prefix: swift-syntax: tree-sitter could not be installed from npm; the syntax check did NOT run"
fi

# --- 2. compile and run -----------------------------------------------------
((SYNTAX_ONLY == 0)) || exit "$status"
if ! command -v "$SWIFTC" >/dev/null 2>&1; then
    log "no Swift toolchain: the Swift tests were NOT compiled or run"
    # At line start for scripts/test-all.sh, which counts such a step as skipped.
    echo "SKIPPED: tests/swift not compiled or run (no swiftc on this machine); only the syntax check above ran"
    echo "swift: SKIPPED (no swiftc on this machine)"
    exit "$status"
fi

swift_fail() {
    log "ERROR: $*"
    echo "swift: 0 passed, 1 failed"
    exit 1
}

log "building the cdylib (cargo build --lib)"
cargo build --quiet --lib || swift_fail "cargo build failed"
LIB_DIR="$TARGET_DIR/debug"
cargo build --quiet -p mxclock-test-homeserver --bin mxclock-test-homeserver ||
    swift_fail "building mxclock-test-homeserver failed"

rm -rf "$OUT"
mkdir -p "$OUT"
case "$(uname -s)" in
    Darwin) DYLIB=dylib ;;
    *) DYLIB=so ;;
esac
# The module map as scripts/ios-build.sh ships it (no `use "Darwin"`,
# which Linux lacks), next to its header.
# shellcheck source=scripts/lib/apple.sh
. "$ROOT/scripts/lib/apple.sh"
mkdir -p "$OUT/include"
cp bindings/swift/MxClockFFI.h "$OUT/include/"
MODULEMAP="$OUT/include/MxClockFFI.modulemap"
strip_module_map bindings/swift/MxClockFFI.modulemap "$MODULEMAP"
MODULE_SOURCES=(bindings/swift/MxClock.swift bindings/companion/swift/ServerTimeReader.swift)

# Swift 6 language mode (strict concurrency): apps on Swift 6 compile these
# files in their own module, so they must type-check there too.
log "type-checking the MxClock module under -swift-version 6"
if ! "$SWIFTC" -typecheck -module-name MxClock -swift-version 6 \
    -Xcc -fmodule-map-file="$MODULEMAP" -I "$OUT/include" "${MODULE_SOURCES[@]}"; then
    log "ERROR: the bindings or the companion do not compile under -swift-version 6"
    echo "FAIL swift-version 6 type check"
    status=1
fi

# The MxClock module as an app would get it: the generated Swift compiled
# into its own module over the C header, linked to libmxclock.
log "compiling the MxClock module with $("$SWIFTC" --version 2>&1 | head -n 1)"
"$SWIFTC" -emit-library -emit-module -module-name MxClock -swift-version 5 \
    -Xcc -fmodule-map-file="$MODULEMAP" -I "$OUT/include" \
    -L "$LIB_DIR" -lmxclock \
    -emit-module-path "$OUT/MxClock.swiftmodule" \
    -o "$OUT/libMxClock.$DYLIB" \
    "${MODULE_SOURCES[@]}" || swift_fail "compiling bindings/swift/MxClock.swift failed"

mapfile -t TEST_FILES < <(find tests/swift -name '*.swift' | LC_ALL=C sort)
"$SWIFTC" -swift-version 5 -module-name MxClockTests \
    -Xcc -fmodule-map-file="$MODULEMAP" -I "$OUT/include" -I "$OUT" \
    -L "$OUT" -lMxClock -L "$LIB_DIR" -lmxclock \
    -o "$OUT/mxclock-swift-tests" "${TEST_FILES[@]}" || swift_fail "compiling tests/swift failed"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
set +e
MXCLOCK_EXPECTED_VERSION="$version" \
    MXCLOCK_HOMESERVER="$TARGET_DIR/debug/mxclock-test-homeserver" \
    LD_LIBRARY_PATH="$OUT:$LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    DYLD_LIBRARY_PATH="$OUT:$LIB_DIR${DYLD_LIBRARY_PATH:+:$DYLD_LIBRARY_PATH}" \
    "$OUT/mxclock-swift-tests" "${RUN_ARGS[@]}" | tee "$OUT/last-run.log"
rc=${PIPESTATUS[0]}
set -e
if ! tail -n 1 "$OUT/last-run.log" | grep -Eq '^swift: [0-9]+ passed, [0-9]+ failed$'; then
    swift_fail "the test program exited ($rc) before the tests finished"
fi
((rc == 0)) || status=1
exit "$status"
