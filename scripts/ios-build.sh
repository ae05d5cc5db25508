#!/usr/bin/env bash
# Builds MxClockFFI.xcframework (static libmxclock.a for iOS devices, the
# iOS simulator and macOS) and a local Swift package around it:
#
#   <out>/MxClock/Package.swift
#   <out>/MxClock/MxClockFFI.xcframework/   ios-arm64, ios-arm64_x86_64-simulator,
#                                          macos-arm64_x86_64; headers and module
#                                          map in Headers/MxClockFFI/
#   <out>/MxClock/Sources/MxClock/          MxClock.swift (generated bindings),
#                                          ServerTimeReader.swift (companion),
#                                          PrivacyInfo.xcprivacy
#
#   scripts/ios-build.sh [OUT_DIR]        default OUT_DIR: target/ios
#
# NOT RUN on the project's build machines (Linux): it needs macOS with Xcode
# (xcodebuild, lipo) and the Rust targets
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios \
#                     aarch64-apple-darwin x86_64-apple-darwin
# Runs under macOS's /bin/bash 3.2 (scripts/lint-scripts.sh checks for bash
# 4 features). Env: CARGO_FEATURE_ARGS (default "--features default"), PROFILE (default release; release-small trades speed for
# size), IPHONEOS_DEPLOYMENT_TARGET (default 13.0),
# MACOSX_DEPLOYMENT_TARGET (default 10.15). See docs/mobile-packaging.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib/apple.sh
. "$ROOT/scripts/lib/apple.sh"
OUT="${1:-$ROOT/target/ios}"
PROFILE="${PROFILE:-release}"
export IPHONEOS_DEPLOYMENT_TARGET="${IPHONEOS_DEPLOYMENT_TARGET:-13.0}"
export MACOSX_DEPLOYMENT_TARGET="${MACOSX_DEPLOYMENT_TARGET:-10.15}"
# Cargo feature arguments, e.g. "--no-default-features --features capi,uniffi"
# for an app that brings its own HTTP stack (URLSession) and wants the
# library without ureq/rustls (a third of the size).
read -r -a FEATURE_ARGS <<<"${CARGO_FEATURE_ARGS:---features default}"
DEVICE=aarch64-apple-ios
SIMULATORS=(aarch64-apple-ios-sim x86_64-apple-ios)
MACOS=(aarch64-apple-darwin x86_64-apple-darwin)

die() { echo "ios-build: ERROR: $*" >&2; exit 1; }

[[ "$(uname -s)" == Darwin ]] || die "needs macOS with Xcode (this is $(uname -s))"
command -v xcodebuild >/dev/null 2>&1 || die "xcodebuild not found: install Xcode"
command -v lipo >/dev/null 2>&1 || die "lipo not found: install the Xcode command line tools"
if command -v rustup >/dev/null 2>&1; then
    installed="$(rustup target list --installed)"
    for t in "$DEVICE" "${SIMULATORS[@]}" "${MACOS[@]}"; do
        grep -qx "$t" <<<"$installed" || die "missing Rust target: rustup target add $t"
    done
fi

# The Swift side keeps uniffi's checksums, but fail early and clearly.
"$ROOT/scripts/generate-bindings.sh" --check >/dev/null ||
    die "bindings/ is stale: run scripts/generate-bindings.sh (see the diff above)"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# cargo puts the `release` profile in .../release, others under their name.
pdir="$PROFILE"
[[ "$PROFILE" == dev ]] && pdir=debug

WORK="$OUT/work"
PKG="$OUT/MxClock"
rm -rf "$WORK" "$PKG"
mkdir -p "$WORK/headers/MxClockFFI" "$WORK/sim" "$WORK/macos" "$PKG/Sources/MxClock"

# Only the static library (no cdylib link), and rustc's list of the system
# libraries it needs, which Package.swift must declare.
native_libs=""
for t in "$DEVICE" "${SIMULATORS[@]}" "${MACOS[@]}"; do
    cargo rustc --lib --crate-type staticlib --profile "$PROFILE" --target "$t" "${FEATURE_ARGS[@]}" \
        -- --print native-static-libs 2>"$WORK/build-$t.log" || {
        cat "$WORK/build-$t.log" >&2
        die "cargo rustc for $t failed"
    }
    if [[ $t == "$DEVICE" ]]; then
        native_libs=$(sed -n 's/.*native-static-libs: //p' "$WORK/build-$t.log" | tail -n 1)
    fi
done

# Headers and module map in a folder named after the module: an app that
# links two XCFrameworks which both put a module.modulemap directly in
# Headers/ fails in Xcode ("Multiple commands produce .../module.modulemap").
cp bindings/swift/MxClockFFI.h "$WORK/headers/MxClockFFI/"
strip_module_map bindings/swift/MxClockFFI.modulemap "$WORK/headers/MxClockFFI/module.modulemap"

# One simulator slice and one macOS slice, each for both architectures.
lipo -create "$TARGET_DIR/${SIMULATORS[0]}/$pdir/libmxclock.a" \
    "$TARGET_DIR/${SIMULATORS[1]}/$pdir/libmxclock.a" -output "$WORK/sim/libmxclock.a"
lipo -create "$TARGET_DIR/${MACOS[0]}/$pdir/libmxclock.a" \
    "$TARGET_DIR/${MACOS[1]}/$pdir/libmxclock.a" -output "$WORK/macos/libmxclock.a"

xcodebuild -create-xcframework \
    -library "$TARGET_DIR/$DEVICE/$pdir/libmxclock.a" -headers "$WORK/headers" \
    -library "$WORK/sim/libmxclock.a" -headers "$WORK/headers" \
    -library "$WORK/macos/libmxclock.a" -headers "$WORK/headers" \
    -output "$PKG/MxClockFFI.xcframework"

cp bindings/swift/MxClock.swift "$PKG/Sources/MxClock/"
cp bindings/companion/swift/ServerTimeReader.swift "$PKG/Sources/MxClock/"
cp contrib/apple/PrivacyInfo.xcprivacy "$PKG/Sources/MxClock/"

# rustc's native-static-libs (e.g. "-liconv -lSystem -lc -lm") as SwiftPM
# linker settings; libSystem (and its c, m) is always linked.
linker_settings=""
for flag in $native_libs; do
    case "$flag" in
        -lSystem | -lc | -lm | -framework) ;;
        -l*) linker_settings="$linker_settings .linkedLibrary(\"${flag#-l}\")," ;;
        *) linker_settings="$linker_settings .linkedFramework(\"$flag\")," ;;
    esac
done

linker_settings=${linker_settings# }
linker_settings=${linker_settings%,}

cat >"$PKG/Package.swift" <<SWIFT
// swift-tools-version:5.9
// Generated by mxclock's scripts/ios-build.sh.
import PackageDescription

let package = Package(
    name: "MxClock",
    platforms: [.iOS(.v13), .macOS(.v10_15)],
    products: [
        .library(name: "MxClock", targets: ["MxClock"]),
    ],
    targets: [
        // libmxclock.a and the C header/module map (module MxClockFFI).
        .binaryTarget(name: "MxClockFFI", path: "MxClockFFI.xcframework"),
        // The uniffi-generated Swift API and its companion (module MxClock).
        .target(
            name: "MxClock",
            dependencies: ["MxClockFFI"],
            path: "Sources/MxClock",
            resources: [.copy("PrivacyInfo.xcprivacy")],
            // From rustc's native-static-libs: ${native_libs:-none}
            linkerSettings: [$linker_settings]
        ),
    ]
)
SWIFT
rm -rf "$WORK"
echo "ios-build: wrote the Swift package $PKG (MxClockFFI.xcframework + MxClock)"
