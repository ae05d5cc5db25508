#!/usr/bin/env bash
# Size of the shared library apps ship (libmxclock.so / .dylib), in four
# builds: the release profile and the size-optimised `release-small` profile
# (opt-level z, LTO, one codegen unit, strip; see Cargo.toml), each with and
# without the built-in HTTP transport (feature `http`: ureq + rustls).
#
# Every library is copied out and stripped with `strip` (release-small is
# already stripped by cargo; stripping again changes nothing), so the numbers
# compare like with like. Prints a Markdown table; the copies stay in
# $TARGET/size-report/ for inspection.
#
# Usage: scripts/size-report.sh            (uses CARGO_TARGET_DIR or target/)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

target=${CARGO_TARGET_DIR:-target}
out=$target/size-report
mkdir -p "$out"

case "$(uname -s)" in
    Darwin) lib=libmxclock.dylib ;;
    *) lib=libmxclock.so ;;
esac
if ! command -v strip >/dev/null; then
    echo "size-report: FAILED: \`strip\` is not installed (binutils)" >&2
    exit 1
fi

# Human-readable KiB with one decimal.
kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }

rows=()
for profile in release release-small; do
    for http in with without; do
        if [[ $http == with ]]; then
            features=(--features http)
        else
            features=(--no-default-features)
        fi
        echo "=== cargo build --profile $profile --lib ${features[*]}" >&2
        cargo build --quiet --profile "$profile" --lib "${features[@]}" >&2
        built=$target/$profile/$lib
        if [[ ! -f $built ]]; then
            echo "size-report: FAILED: $built was not built" >&2
            exit 1
        fi
        copy=$out/$profile-$http-http-$lib
        cp "$built" "$copy"
        unstripped=$(stat -c %s "$copy" 2>/dev/null || stat -f %z "$copy")
        strip "$copy"
        stripped=$(stat -c %s "$copy" 2>/dev/null || stat -f %z "$copy")
        rows+=("| \`$profile\` | $http | $(kib "$unstripped") | $(kib "$stripped") |")
    done
done

# For the record, what `panic = "abort"` would save (release-small, http).
# Not a shipped configuration: every C entry point and uniffi catch panics,
# which needs unwinding; with abort a bug would kill the host app instead of
# returning an error. Built in its own target dir so the real artifacts stay.
echo "=== cargo build --profile release-small --lib --features http, panic = abort" >&2
abort_target=$out/abort-target
CARGO_PROFILE_RELEASE_SMALL_PANIC=abort cargo build --quiet --profile release-small --lib \
    --features http --target-dir "$abort_target" >&2
copy=$out/release-small-with-http-abort-$lib
cp "$abort_target/release-small/$lib" "$copy"
unstripped=$(stat -c %s "$copy" 2>/dev/null || stat -f %z "$copy")
strip "$copy"
stripped=$(stat -c %s "$copy" 2>/dev/null || stat -f %z "$copy")
rows+=("| \`release-small\`, \`panic = \"abort\"\` (not used, for comparison) | with | $(kib "$unstripped") | $(kib "$stripped") |")

echo "Shared library $lib, $(uname -m), $(rustc --version)"
echo
echo "| profile | \`http\` feature | as built (KiB) | stripped (KiB) |"
echo "|---|---|---:|---:|"
printf '%s\n' "${rows[@]}"
