#!/usr/bin/env bash
# Builds libmxclock.so for Android and lays it out for an app or AAR module:
#
#   <out>/jniLibs/arm64-v8a/libmxclock.so
#   <out>/jniLibs/armeabi-v7a/libmxclock.so
#   <out>/jniLibs/x86_64/libmxclock.so
#   <out>/kotlin/org/mxclock/mxclock.kt      (copied from bindings/kotlin)
#
#   scripts/android-build.sh [OUT_DIR]        default OUT_DIR: target/android
#
# NOT RUN on the project's build machines: they have no Android NDK and
# cannot download Rust's Android targets. It needs, on a developer machine:
#   * the Android NDK (r26+; r28+ aligns to 16 KB pages by itself) in
#     ANDROID_NDK_HOME (or ANDROID_NDK_ROOT);
#   * cargo-ndk:  cargo install cargo-ndk
#   * the targets: rustup target add aarch64-linux-android \
#                    armv7-linux-androideabi x86_64-linux-android
# Env: PROFILE (default release; release-small trades speed for size),
#      ANDROID_PLATFORM (default 21 = minSdk), ABIS (default the three above).
# See docs/mobile-packaging.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${1:-$ROOT/target/android}"
PROFILE="${PROFILE:-release}"
ANDROID_PLATFORM="${ANDROID_PLATFORM:-21}"
read -r -a ABIS <<<"${ABIS:-arm64-v8a armeabi-v7a x86_64}"

die() { echo "android-build: ERROR: $*" >&2; exit 1; }

command -v cargo-ndk >/dev/null 2>&1 || die "cargo-ndk not found: cargo install cargo-ndk"
[[ -n "${ANDROID_NDK_HOME:-${ANDROID_NDK_ROOT:-}}" ]] ||
    die "set ANDROID_NDK_HOME to the Android NDK (r26 or newer)"
declare -A RUST_TARGET=(
    [arm64-v8a]=aarch64-linux-android
    [armeabi-v7a]=armv7-linux-androideabi
    [x86_64]=x86_64-linux-android
    [x86]=i686-linux-android
)
if command -v rustup >/dev/null 2>&1; then
    installed="$(rustup target list --installed)"
    for abi in "${ABIS[@]}"; do
        t="${RUST_TARGET[$abi]:-}"
        [[ -n "$t" ]] || die "unknown ABI $abi"
        grep -qx "$t" <<<"$installed" || die "missing Rust target: rustup target add $t"
    done
fi

# The committed bindings must match this source tree: the Kotlin side runs
# without uniffi's checksums (uniffi.toml), so a mismatch would not be caught
# at load time.
"$ROOT/scripts/generate-bindings.sh" --check >/dev/null ||
    die "bindings/ is stale: run scripts/generate-bindings.sh (see the diff above)"

# 16 KB page alignment for Android 15+ devices (required by Google Play for
# new apps); harmless on 4 KB devices, and a no-op with NDK r28+.
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-z,max-page-size=16384"

targs=()
for abi in "${ABIS[@]}"; do targs+=(-t "$abi"); done
rm -rf "$OUT/jniLibs"
mkdir -p "$OUT/jniLibs"
cargo ndk "${targs[@]}" --platform "$ANDROID_PLATFORM" -o "$OUT/jniLibs" \
    build --lib --profile "$PROFILE"

rm -rf "$OUT/kotlin"
cp -R bindings/kotlin "$OUT/kotlin"

for abi in "${ABIS[@]}"; do
    [[ -f "$OUT/jniLibs/$abi/libmxclock.so" ]] || die "no libmxclock.so for $abi"
done
echo "android-build: wrote $OUT/jniLibs/{$(IFS=,; echo "${ABIS[*]}")}/libmxclock.so and $OUT/kotlin"
