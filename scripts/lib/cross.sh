# shellcheck shell=bash
# Helpers for the cross-target scripts (scripts/test-cross.sh,
# scripts/test-arm.sh). Sourced, not run.
#
# A part that cannot run here prints a line starting "SKIPPED (part):";
# scripts/test-all.sh lists those under the step, which still passes on
# what did run. A step where nothing could run prints a line starting
# "SKIPPED:" and counts as skipped.

# ensure_rust_target TRIPLE: 0 when the Rust standard library for TRIPLE is
# installed (installing it with rustup if needed), 1 otherwise.
ensure_rust_target() {
    local triple=$1
    if command -v rustup >/dev/null 2>&1; then
        if rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
            return 0
        fi
        echo "cross: rustup target add $triple"
        if timeout 300 rustup target add "$triple" >"${TMPDIR:-/tmp}/rustup-$triple.log" 2>&1; then
            return 0
        fi
        echo "cross: rustup could not install $triple: $(grep -m1 -i error "${TMPDIR:-/tmp}/rustup-$triple.log")"
        return 1
    fi
    # Without rustup (a distribution's Rust), the target may still be there.
    local sysroot
    sysroot=$(rustc --print sysroot 2>/dev/null) || return 1
    [[ -d "$sysroot/lib/rustlib/$triple/lib" ]]
}

# ensure_debian_packages PKG...: installs the missing ones with apt-get when
# running as root on Debian/Ubuntu; 0 when all are installed afterwards.
ensure_debian_packages() {
    local missing=() p
    command -v dpkg-query >/dev/null 2>&1 || return 1
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "cross: missing Debian packages ${missing[*]} (not root, or no apt-get)"
        return 1
    fi
    echo "cross: apt-get install ${missing[*]}"
    # Fresh lists once per machine: an install from stale lists 404s.
    if [[ ! -f target/.apt-updated ]]; then
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -qq >/dev/null 2>&1 &&
            mkdir -p target && touch target/.apt-updated
    fi
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >"${TMPDIR:-/tmp}/apt-cross.log" 2>&1 || {
        echo "cross: apt-get install failed: $(tail -n 1 "${TMPDIR:-/tmp}/apt-cross.log")"
        return 1
    }
}

# target_env_name TRIPLE: the triple as cargo's and cc's env variables spell it.
target_env_upper() { echo "$1" | tr 'a-z-' 'A-Z_'; }
target_env_lower() { echo "$1" | tr '-' '_'; }
