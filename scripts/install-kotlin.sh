#!/usr/bin/env bash
# Installs the Kotlin toolchain the Kotlin binding tests need, idempotently:
#   * kotlinc from the npm package `kotlin-compiler` (pinned), into a cache
#     under target/tools/ (reused when present: a clean install is ~1 min);
#   * JNA from Debian `libjna-java` (/usr/share/java/jna.jar), which the
#     uniffi-generated Kotlin uses to call the cdylib.
# The JDK (17 here) must already be installed.
#
# Usage: scripts/install-kotlin.sh            # install if needed, print paths
#        eval "$(scripts/install-kotlin.sh --env)"   # KOTLINC=..., JNA_JAR=...
# Env:   MXCLOCK_TOOLS_DIR  cache directory (default: <repo>/target/tools)
set -euo pipefail

# Pinned: the tests are compiled against this compiler only (Kotlin 2.4);
# bump deliberately (and re-run scripts/test-kotlin.sh).
KOTLIN_VERSION=2.4.20

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${MXCLOCK_TOOLS_DIR:-$ROOT/target/tools}"
KOTLIN_HOME_DIR="$TOOLS_DIR/kotlin-compiler-$KOTLIN_VERSION"
KOTLINC="$KOTLIN_HOME_DIR/node_modules/kotlin-compiler/bin/kotlinc"
JNA_JAR=/usr/share/java/jna.jar
# Written only after the installed kotlinc ran once, so a cache hit costs no
# JVM start.
MARKER="$KOTLIN_HOME_DIR/.verified"

ENV_ONLY=0
[[ "${1:-}" == "--env" ]] && ENV_ONLY=1

log() { echo "install-kotlin: $*" >&2; }

command -v java >/dev/null || { log "ERROR: no java on PATH; install a JDK (17+) first"; exit 1; }

if [[ -x "$KOTLINC" && -f "$MARKER" ]]; then
    log "kotlinc $KOTLIN_VERSION cached at $KOTLIN_HOME_DIR"
else
    command -v npm >/dev/null || { log "ERROR: no npm on PATH; cannot install kotlin-compiler"; exit 1; }
    log "installing npm kotlin-compiler@$KOTLIN_VERSION into $KOTLIN_HOME_DIR"
    start=$(date +%s)
    # Install into a temp dir next to the cache and rename, so an interrupted
    # install never leaves a half-populated cache that looks valid.
    mkdir -p "$TOOLS_DIR"
    tmp="$(mktemp -d "$TOOLS_DIR/.kotlin-install.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    echo '{"name":"mxclock-kotlin-tools","private":true}' > "$tmp/package.json"
    npm install --prefix "$tmp" --no-package-lock --no-audit --no-fund --loglevel=error \
        "kotlin-compiler@$KOTLIN_VERSION" >&2
    # The npm tarball does not keep the executable bits of the launchers.
    chmod +x "$tmp"/node_modules/kotlin-compiler/bin/* 2>/dev/null || true
    rm -rf "$KOTLIN_HOME_DIR"
    mv "$tmp" "$KOTLIN_HOME_DIR"
    trap - EXIT
    "$KOTLINC" -version >/dev/null 2>&1 || { log "ERROR: $KOTLINC does not run"; exit 1; }
    touch "$MARKER"
    log "kotlinc installed in $(( $(date +%s) - start )) s"
fi

if [[ ! -f "$JNA_JAR" ]]; then
    log "installing Debian libjna-java (for $JNA_JAR)"
    if [[ "$(id -u)" != 0 ]]; then
        log "ERROR: $JNA_JAR missing and not root: run 'apt-get update && apt-get install -y libjna-java'"
        exit 1
    fi
    # apt-cache/apt-get need fresh lists once per machine.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjna-java >&2
    [[ -f "$JNA_JAR" ]] || { log "ERROR: libjna-java installed but $JNA_JAR is missing"; exit 1; }
fi

if [[ $ENV_ONLY == 1 ]]; then
    printf 'KOTLINC=%q\nJNA_JAR=%q\nKOTLIN_VERSION=%q\n' "$KOTLINC" "$JNA_JAR" "$KOTLIN_VERSION"
else
    log "kotlinc: $KOTLINC ($("$KOTLINC" -version 2>&1 | grep -o 'kotlinc-jvm [^ ]*' || echo '?'))"
    log "jna:     $JNA_JAR"
fi
