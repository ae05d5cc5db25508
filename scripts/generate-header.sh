#!/usr/bin/env bash
# Generates include/mxclock.h from src/ffi/ with a pinned cbindgen.
#
#   scripts/generate-header.sh          regenerate include/mxclock.h
#   scripts/generate-header.sh --check  regenerate into a temp file and fail,
#                                       showing the diff, if the committed
#                                       header differs (CI, scripts/test-c.sh)
#
# cbindgen is installed once into target/tools, or MXCLOCK_TOOLS_DIR (cached
# between runs; from the vendored crates on an offline machine, see
# scripts/test-all.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.29.4
tools=${MXCLOCK_TOOLS_DIR:-target/tools}
cbindgen=$tools/bin/cbindgen
header=include/mxclock.h

if ! [[ -x $cbindgen ]] || [[ "$("$cbindgen" --version)" != "cbindgen $CBINDGEN_VERSION" ]]; then
    echo "generate-header: installing cbindgen $CBINDGEN_VERSION into $tools" >&2
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --root "$tools" --quiet
fi

generate() {
    "$cbindgen" --quiet --config cbindgen.toml --crate mxclock --output "$1" .
}

case "${1:-}" in
    --check)
        tmp=$(mktemp)
        trap 'rm -f "$tmp"' EXIT
        generate "$tmp"
        if ! diff -u "$header" "$tmp"; then
            echo "generate-header: FAILED: $header is out of date with src/ffi/;" \
                "run scripts/generate-header.sh and commit the result" >&2
            exit 1
        fi
        echo "generate-header: $header is up to date (cbindgen $CBINDGEN_VERSION)"
        ;;
    "")
        generate "$header"
        echo "generate-header: wrote $header (cbindgen $CBINDGEN_VERSION)"
        ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac
