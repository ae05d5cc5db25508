# shellcheck shell=bash
# Finds the Android NDK the way cargo-ndk 4 does. Sourced, not run; works
# in macOS's bash 3.2 (no associative arrays, no mapfile).
#
#   find_ndk      prints the NDK's root directory, or fails (exit status 1)
#
# Order: the first of ANDROID_NDK_HOME, ANDROID_NDK_ROOT, ANDROID_NDK_PATH,
# NDK_HOME that is set (the highest versioned NDK inside it if it holds
# several, else the directory itself); then <sdk>/ndk/<highest version> for
# the first of ANDROID_HOME, ANDROID_SDK_ROOT, ANDROID_SDK_HOME; then the
# Android Studio default (~/Android/Sdk/ndk on Linux, ~/Library/Android/sdk/ndk
# on macOS).

# Highest X.Y.Z-named subdirectory of $1, if any.
ndk_highest_in() {
    local dir=$1 best
    [ -d "$dir" ] || return 1
    best=$(find "$dir" -mindepth 1 -maxdepth 1 -type d -print 2>/dev/null |
        sed 's|.*/||' | grep -E '^[0-9]+\.[0-9]+\.[0-9]+$' |
        sort -t. -k1,1n -k2,2n -k3,3n | tail -n 1)
    [ -n "$best" ] || return 1
    echo "$dir/$best"
}

# The major version (e.g. 28) from the NDK's source.properties.
ndk_major() {
    sed -n 's/^Pkg\.Revision *= *\([0-9][0-9]*\)\..*/\1/p' "$1/source.properties" 2>/dev/null | head -n 1
}

# The prebuilt toolchain directory name of this host.
ndk_host_tag() {
    case "$(uname -s)" in
        Darwin) echo darwin-x86_64 ;; # universal binaries on Apple silicon too
        Linux) echo linux-x86_64 ;;
        *) echo windows-x86_64 ;;
    esac
}

find_ndk() {
    local var value sdk
    for var in ANDROID_NDK_HOME ANDROID_NDK_ROOT ANDROID_NDK_PATH NDK_HOME; do
        eval "value=\${$var:-}"
        if [ -n "$value" ]; then
            ndk_highest_in "$value" || echo "$value"
            return 0
        fi
    done
    for var in ANDROID_HOME ANDROID_SDK_ROOT ANDROID_SDK_HOME; do
        eval "sdk=\${$var:-}"
        if [ -n "$sdk" ]; then
            ndk_highest_in "$sdk/ndk" && return 0
            break
        fi
    done
    case "$(uname -s)" in
        Darwin) ndk_highest_in "$HOME/Library/Android/sdk/ndk" ;;
        *) ndk_highest_in "$HOME/Android/Sdk/ndk" ;;
    esac
}
