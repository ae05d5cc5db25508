#!/usr/bin/env bash
# Builds libmxclock.so for Android and lays it out for an app or AAR module:
#
#   <out>/jniLibs/arm64-v8a/libmxclock.so
#   <out>/jniLibs/armeabi-v7a/libmxclock.so
#   <out>/jniLibs/x86_64/libmxclock.so
#   <out>/kotlin/org/mxclock/mxclock.kt            (generated bindings)
#   <out>/kotlin/org/mxclock/ServerTimeReader.kt   (hand-written companion)
#   <out>/consumer-rules.pro                       (R8/ProGuard rules)
#
#   scripts/android-build.sh [OUT_DIR]        default OUT_DIR: target/android
#
# NOT RUN on the project's build machines: they have no Android NDK. It
# needs, on a developer machine (Linux or macOS; runs under macOS's bash 3.2):
#   * the Android NDK r23 or newer (r28+ recommended), found as cargo-ndk
#     finds it: ANDROID_NDK_HOME / ANDROID_NDK_ROOT / ANDROID_NDK_PATH /
#     NDK_HOME, else the newest <sdk>/ndk/<version> of ANDROID_HOME /
#     ANDROID_SDK_ROOT, else Android Studio's default SDK location;
#   * cargo-ndk 4:  cargo install cargo-ndk --version 4.1.2 --locked
#   * the targets:  rustup target add aarch64-linux-android \
#                     armv7-linux-androideabi x86_64-linux-android
# Env: PROFILE (default release; release-small trades speed for size),
#      ANDROID_PLATFORM (default 21 = minSdk), ABIS (default the three above),
#      CARGO_FEATURE_ARGS (default "--features default"; e.g.
#      "--no-default-features --features capi,uniffi" for an app that brings
#      its own HTTP stack).
# The 16 KB page alignment Android 15+ devices need is cargo-ndk's job (it
# passes -z max-page-size=16384 for 64-bit ABIs with NDKs before r28, which
# align to 16 KB themselves); your own RUSTFLAGS and .cargo/config.toml are
# left alone. See docs/mobile-packaging.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib/ndk.sh
. "$ROOT/scripts/lib/ndk.sh"
OUT="${1:-$ROOT/target/android}"
PROFILE="${PROFILE:-release}"
ANDROID_PLATFORM="${ANDROID_PLATFORM:-21}"
CARGO_NDK_MAJOR=4
read -r -a ABIS <<<"${ABIS:-arm64-v8a armeabi-v7a x86_64}"
read -r -a FEATURE_ARGS <<<"${CARGO_FEATURE_ARGS:---features default}"

die() { echo "android-build: ERROR: $*" >&2; exit 1; }

rust_target() { # ABI -> Rust target
    case "$1" in
        arm64-v8a) echo aarch64-linux-android ;;
        armeabi-v7a) echo armv7-linux-androideabi ;;
        x86_64) echo x86_64-linux-android ;;
        x86) echo i686-linux-android ;;
        *) return 1 ;;
    esac
}

((${#ABIS[@]} > 0)) || die "ABIS is empty"
command -v cargo-ndk >/dev/null 2>&1 ||
    die "cargo-ndk not found: cargo install cargo-ndk --version 4.1.2 --locked"
ndk_version=$(cargo ndk --version 2>/dev/null | sed -n 's/.*cargo-ndk \([0-9][0-9.]*\).*/\1/p')
[[ "${ndk_version%%.*}" == "$CARGO_NDK_MAJOR" ]] ||
    die "cargo-ndk ${ndk_version:-?} found, $CARGO_NDK_MAJOR.x needed: cargo install cargo-ndk --version 4.1.2 --locked"

NDK=$(find_ndk) || die "no Android NDK found: set ANDROID_NDK_HOME, or ANDROID_HOME with an ndk/<version> inside"
[[ -f "$NDK/source.properties" ]] || die "$NDK is not an NDK (no source.properties)"
major=$(ndk_major "$NDK")
[[ -n "$major" && "$major" -ge 23 ]] || die "NDK r${major:-?} in $NDK: cargo-ndk needs r23 or newer (r28+ recommended)"
# cargo-ndk then uses the same one.
export ANDROID_NDK_HOME="$NDK"
echo "android-build: NDK r$major in $NDK, cargo-ndk $ndk_version"

if command -v rustup >/dev/null 2>&1; then
    installed="$(rustup target list --installed)"
    for abi in "${ABIS[@]}"; do
        t=$(rust_target "$abi") || die "unknown ABI $abi (arm64-v8a, armeabi-v7a, x86_64, x86)"
        grep -qx "$t" <<<"$installed" || die "missing Rust target: rustup target add $t"
    done
fi

# The committed bindings must match this source tree: the Kotlin side runs
# without uniffi's checksums (uniffi.toml), so a mismatch would not be caught
# at load time.
"$ROOT/scripts/generate-bindings.sh" --check >/dev/null ||
    die "bindings/ is stale: run scripts/generate-bindings.sh (see the diff above)"

targs=()
for abi in "${ABIS[@]}"; do targs+=(-t "$abi"); done
rm -rf "$OUT/jniLibs"
mkdir -p "$OUT/jniLibs"
cargo ndk "${targs[@]}" --platform "$ANDROID_PLATFORM" -o "$OUT/jniLibs" \
    build --lib --profile "$PROFILE" "${FEATURE_ARGS[@]}"

rm -rf "$OUT/kotlin"
cp -R bindings/kotlin "$OUT/kotlin"
cp bindings/companion/kotlin/org/mxclock/ServerTimeReader.kt "$OUT/kotlin/org/mxclock/"
cp contrib/android/consumer-rules.pro "$OUT/"

# What Android's loader and Google Play check: the soname (build.rs sets it)
# and, on 64-bit ABIs, LOAD segments aligned to 16 KB.
readelf="$NDK/toolchains/llvm/prebuilt/$(ndk_host_tag)/bin/llvm-readelf"
for abi in "${ABIS[@]}"; do
    so="$OUT/jniLibs/$abi/libmxclock.so"
    [[ -f "$so" ]] || die "no libmxclock.so for $abi"
    [[ -x "$readelf" ]] || continue
    "$readelf" -d "$so" | grep -q 'SONAME.*\[libmxclock\.so\]' || die "$so has no DT_SONAME libmxclock.so"
    case "$abi" in
        arm64-v8a | x86_64)
            for align in $("$readelf" -lW "$so" | awk '$1 == "LOAD" { print $NF }'); do
                (((align) >= 16384)) || die "$so has a LOAD segment aligned to $align, not 16 KB"
            done
            ;;
    esac
done
echo "android-build: wrote $OUT/jniLibs/{$(IFS=,; echo "${ABIS[*]}")}/libmxclock.so, $OUT/kotlin and $OUT/consumer-rules.pro"
