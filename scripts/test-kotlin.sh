#!/usr/bin/env bash
# Kotlin binding tests: the committed bindings/kotlin sources and tests/kotlin
# compiled by a real kotlinc (npm kotlin-compiler, see install-kotlin.sh)
# against JNA, run on the JVM against the freshly built cdylib.
#
#   scripts/test-kotlin.sh            install if needed, build, compile, run
#   scripts/test-kotlin.sh --bench    also print per-call costs from Kotlin,
#                                     against a release build of the cdylib
#                                     (a debug build would measure rustc -O0)
#
# The compiled test jar is cached under target/kotlin-tests/, keyed by a hash
# of every Kotlin source and the compiler version, so an unchanged run skips
# kotlinc (~20 s). It tests the *committed* bindings: if they are stale the
# run may still pass, which is why scripts/generate-bindings.sh --check runs
# in the same test command.
#
# Closing line: `kotlin: N passed, N failed`; exit status non-zero on any
# failure, including a failure to install, build or compile.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$TARGET_DIR/kotlin-tests"

log() { echo "test-kotlin: $*" >&2; }
die() {
    log "ERROR: $*"
    echo "kotlin: 0 passed, 1 failed"
    exit 1
}

RUN_ARGS=()
for arg in "$@"; do
    case "$arg" in
        --bench) RUN_ARGS+=(--bench) ;;
        *) echo "usage: $0 [--bench]" >&2; exit 2 ;;
    esac
done

if ! env_out="$("$ROOT/scripts/install-kotlin.sh" --env)"; then
    # kotlinc comes from npm: on a machine without npm's registry (or
    # without npm) the Kotlin tests cannot run there. Loudly not passed.
    log "installing kotlinc/JNA failed (see above)"
    echo "SKIPPED: kotlin: kotlinc or JNA could not be installed on this machine (kotlinc comes from npm); the Kotlin tests did NOT run"
    echo "kotlin: SKIPPED (no Kotlin toolchain)"
    exit 0
fi
eval "$env_out" # KOTLINC, JNA_JAR, KOTLIN_VERSION

if ((${#RUN_ARGS[@]} > 0)); then
    log "building the cdylib (cargo build --release --lib)"
    cargo build --quiet --release --lib || die "cargo build failed"
    LIB_DIR="$TARGET_DIR/release"
else
    log "building the cdylib (cargo build --lib)"
    cargo build --quiet --lib || die "cargo build failed"
    LIB_DIR="$TARGET_DIR/debug"
fi
[[ -f "$LIB_DIR/libmxclock.so" || -f "$LIB_DIR/libmxclock.dylib" ]] || die "no cdylib in $LIB_DIR"
# The loopback homeserver the sync scenarios run against (debug is enough:
# it sleeps its configured delays, it does not compute).
log "building mxclock-test-homeserver"
cargo build --quiet -p mxclock-test-homeserver --bin mxclock-test-homeserver ||
    die "building mxclock-test-homeserver failed"
HOMESERVER="$TARGET_DIR/debug/mxclock-test-homeserver"

# The generated bindings, the hand-written companion next to them, the tests.
mapfile -t SOURCES < <(find bindings/kotlin bindings/companion/kotlin tests/kotlin -name '*.kt' | LC_ALL=C sort)
((${#SOURCES[@]} > 0)) || die "no Kotlin sources found"
key=$( (echo "kotlinc $KOTLIN_VERSION"; cat "${SOURCES[@]}") | sha256sum | cut -c1-16)
JAR="$OUT/mxclock-kotlin-tests-$key.jar"
if [[ -f "$JAR" ]]; then
    log "compiled tests cached: $JAR"
else
    log "compiling ${#SOURCES[@]} Kotlin files with kotlinc $KOTLIN_VERSION"
    mkdir -p "$OUT"
    rm -f "$OUT"/mxclock-kotlin-tests-*.jar # one cached build is enough
    start=$(date +%s)
    # -include-runtime: the jar carries the Kotlin stdlib, so `java` alone runs it.
    "$KOTLINC" -nowarn -include-runtime -cp "$JNA_JAR" -d "$JAR.tmp.jar" "${SOURCES[@]}" ||
        { rm -f "$JAR.tmp.jar"; die "kotlinc failed"; }
    mv "$JAR.tmp.jar" "$JAR"
    log "compiled in $(($(date +%s) - start)) s"
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
log "running against $LIB_DIR on $(java -version 2>&1 | head -n 1) with JNA $JNA_JAR"
set +e
# jna.library.path: where JNA finds libmxclock; Debian's jna.jar finds its own
# libjnidispatch in /usr/lib/jni itself.
# shellcheck disable=SC2086 # MXCLOCK_JVM_FLAGS: extra JVM flags, split on spaces
java ${MXCLOCK_JVM_FLAGS:-} -Djna.library.path="$LIB_DIR" -Dmxclock.expectedVersion="$version" \
    -Dmxclock.homeserver="$HOMESERVER" \
    -cp "$JAR:$JNA_JAR" org.mxclock.tests.MainKt "${RUN_ARGS[@]}" | tee "$OUT/last-run.log"
rc=${PIPESTATUS[0]}
set -e
# The program prints the closing line itself; if the JVM died before that,
# say so in the same format so the failure is counted.
if ! tail -n 1 "$OUT/last-run.log" | grep -Eq '^kotlin: [0-9]+ passed, [0-9]+ failed$'; then
    die "the JVM exited ($rc) before the tests finished"
fi
exit "$rc"
