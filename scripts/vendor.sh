#!/usr/bin/env bash
# Makes a vendored crate directory from which scripts/test-all.sh builds and
# tests mxclock on a machine without crates.io (source replacement, see
# test-all.sh): every crate of Cargo.lock (the library, tests/homeserver),
# of fuzz/Cargo.lock, and the tools the scripts install with `cargo install
# --locked` (cbindgen for scripts/generate-header.sh, cargo-fuzz for
# scripts/fuzz-smoke.sh) together with the crates of their own Cargo.lock.
#
#   scripts/vendor.sh [OUT_DIR]       default: target/vendor
#
# Needs crates.io once (here); the result is plain files, ~100-200 MB, and is
# never committed. Copy it to the other machine (e.g. as shared/vendor beside
# the clone, which test-all.sh picks up, or anywhere with
# MXCLOCK_VENDOR_DIR=<dir>). Rerun after any change of a Cargo.lock or of a
# pinned tool version.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${1:-$ROOT/target/vendor}

pin() { # <script> <VARIABLE>: the value of VARIABLE=... in the script
    sed -n "s/^$2=\\([0-9.]*\\)\$/\\1/p" "$1" | head -n 1
}
cbindgen_version=$(pin scripts/generate-header.sh CBINDGEN_VERSION)
cargo_fuzz_version=$(pin scripts/fuzz-smoke.sh CARGO_FUZZ_VERSION)
[[ -n $cbindgen_version && -n $cargo_fuzz_version ]] || {
    echo "vendor: cannot read the pinned tool versions from the scripts" >&2
    exit 1
}

# The tools as dependencies of a throwaway crate, so that cargo vendor
# fetches their packages (with their published Cargo.lock) first. Outside
# the repository: under it, cargo would take the tools for members of
# mxclock's workspace.
work=$(mktemp -d "${TMPDIR:-/tmp}/mxclock-vendor-tools.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/tools"
cat >"$work/tools/Cargo.toml" <<TOML
[package]
name = "mxclock-vendor-tools"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
path = "lib.rs"

[dependencies]
cbindgen = "=$cbindgen_version"
cargo-fuzz = "=$cargo_fuzz_version"

[workspace]
TOML
: >"$work/tools/lib.rs"
echo "vendor: fetching cbindgen $cbindgen_version and cargo-fuzz $cargo_fuzz_version"
cargo vendor --quiet --versioned-dirs --manifest-path "$work/tools/Cargo.toml" "$work/src" >/dev/null

# One directory for everything. Each --sync manifest is resolved with the
# Cargo.lock beside it, so `cargo install --locked` finds exactly its crates.
echo "vendor: vendoring into $OUT"
cargo vendor --quiet --versioned-dirs --locked \
    --sync fuzz/Cargo.toml \
    --sync tests/homeserver/Cargo.toml \
    --sync "$work/tools/Cargo.toml" \
    --sync "$work/src/cbindgen-$cbindgen_version/Cargo.toml" \
    --sync "$work/src/cargo-fuzz-$cargo_fuzz_version/Cargo.toml" \
    "$OUT" >/dev/null
echo "vendor: $(find "$OUT" -mindepth 1 -maxdepth 1 -type d | wc -l) crates, $(du -sh "$OUT" | cut -f1) in $OUT"
echo "vendor: use it with MXCLOCK_VENDOR_DIR=$OUT bash scripts/test-all.sh (or copy it to ../shared/vendor)"
