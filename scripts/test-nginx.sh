#!/usr/bin/env bash
# A real reverse proxy with a clock of its own: nginx in front of the
# loopback test homeserver, whose clock is skewed while nginx's is not
# (nginx writes its own Date header). Checks that the sync report and the
# `mxclock sync` CLI say the endpoint's body and the Date header disagree,
# that the estimate follows the body, and that nothing is reported when both
# share a clock (tests/over_http/sync_http.rs, a_reverse_proxy_with_another_clock_is_reported).
#
# nginx: $MXCLOCK_NGINX, else `nginx` on PATH or /usr/sbin/nginx, else
# Debian's package unpacked into target/tools/nginx (apt-get download +
# dpkg-deb -x: nothing is installed into the system). Without any of them
# it prints a line starting "SKIPPED:" and exits 0 (counted as skipped by
# scripts/test-all.sh).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export CARGO_TERM_COLOR=never

tools=target/tools/nginx
log() { echo "test-nginx: $*" >&2; }

find_nginx() {
    local c
    for c in "${MXCLOCK_NGINX:-}" "$(command -v nginx 2>/dev/null)" /usr/sbin/nginx "$tools/usr/sbin/nginx"; do
        if [[ -n $c && -x $c ]] && "$c" -v >/dev/null 2>&1; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

# Debian's nginx binary, unpacked where only this project looks.
unpack_nginx() {
    if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
        log "no apt-get/dpkg-deb on this machine"
        return 1
    fi
    local tmp deb
    tmp=$(mktemp -d)
    if ! (cd "$tmp" && apt-get download -qq nginx >/dev/null 2>&1); then
        # A fresh machine may have no package lists yet (needs root).
        if [[ $(id -u) -eq 0 ]]; then
            log "apt-get update (package lists)"
            apt-get update -qq >/dev/null 2>&1
        fi
        (cd "$tmp" && apt-get download -qq nginx >/dev/null 2>&1) || {
            rm -rf "$tmp"
            log "apt-get download nginx failed"
            return 1
        }
    fi
    deb=$(find "$tmp" -maxdepth 1 -name 'nginx_*.deb' | head -n 1)
    [[ -n $deb ]] || { rm -rf "$tmp"; return 1; }
    rm -rf "$tools"
    mkdir -p "$tools"
    dpkg-deb -x "$deb" "$tools" || { rm -rf "$tmp"; return 1; }
    rm -rf "$tmp"
    log "unpacked $(basename "$deb") into $tools"
}

nginx=$(find_nginx) || { unpack_nginx && nginx=$(find_nginx); } || {
    echo "SKIPPED: the reverse-proxy test (no nginx, and Debian's package could not be fetched or run here)"
    exit 0
}
log "using $nginx ($("$nginx" -v 2>&1))"

cargo build --quiet --example mxclock || { log "building the CLI failed"; exit 1; }
MXCLOCK_NGINX=$nginx cargo test --quiet --test over_http -- --ignored --exact \
    sync_http::a_reverse_proxy_with_another_clock_is_reported --nocapture
