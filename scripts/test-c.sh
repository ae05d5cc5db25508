#!/usr/bin/env bash
# The C tests (docs/c-api.md): tests/c/test_*.c against include/mxclock.h and the
# built library only.
#
# 1. Builds the cdylib and the staticlib (debug profile: the same build as
#    `cargo test`, with debug info for sanitizer and valgrind reports) and
#    the loopback test homeserver.
# 2. Checks include/mxclock.h is what cbindgen generates (--check), and
#    that it compiles alone as C99 and as C++11.
# 3. Starts test homeservers (a known clock skew, a Date-only one, faults).
# 4. Compiles every test with gcc -std=c11 -Wall -Wextra -Werror -pedantic,
#    linked four ways, and runs each:
#      shared    -lmxclock (the .so)
#      static    libmxclock.a -lpthread -ldl -lm
#      asan      -fsanitize=address,undefined, ASAN_OPTIONS=detect_leaks=1
#      valgrind  the shared build under valgrind --leak-check=full
#                --errors-for-leak-kinds=definite --error-exitcode=1
#    (Rust's thread-local and lazily initialised statics show up as "still
#    reachable": expected; definite leaks and invalid accesses fail.)
# 5. Compiles and runs the example of docs/c-api.md, and test_api through
#    the pkg-config file filled in for the build tree.
# 6. Compiles the benchmark (tests/c/bench_server_now.c) the same strict way
#    and runs it briefly as a smoke test.
#
# Prints "PASS/FAIL <run> <test>" per test case and closes with
# "c: N passed, M failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export CARGO_TERM_COLOR=never

profile=debug
lib_dir=target/$profile
out=target/c
mkdir -p "$out"
passed=0
failed=0
failures=()

fail() {
    failed=$((failed + 1))
    failures+=("$1")
    echo "FAIL $1"
}

die() {
    echo "test-c: $*" >&2
    echo "c: $passed passed, $((failed + 1)) failed"
    exit 1
}

echo "--- building libmxclock ($profile) and the test homeserver"
cargo build --lib --quiet || die "cargo build --lib failed"
cargo build -p mxclock-test-homeserver --quiet || die "building the test homeserver failed"
for f in "$lib_dir/libmxclock.so" "$lib_dir/libmxclock.a" "$lib_dir/mxclock-test-homeserver"; do
    [[ -f $f ]] || die "$f was not built"
done

echo "--- the shared library's soname (build.rs)"
if readelf -d "$lib_dir/libmxclock.so" | grep -q 'SONAME.*\[libmxclock\.so\]'; then
    passed=$((passed + 1))
    echo "PASS libmxclock.so has DT_SONAME libmxclock.so"
else
    fail "libmxclock.so has no DT_SONAME libmxclock.so"
fi

echo "--- header up to date"
if bash scripts/generate-header.sh --check; then
    passed=$((passed + 1))
    echo "PASS header-up-to-date"
else
    fail "header-up-to-date"
fi

# The header alone, as C99 and as C++11 (cbindgen's cpp_compat guards).
printf '#include "mxclock.h"\nint main(void) { return mxclock_version() == 0; }\n' >"$out/header_only.c"
cp "$out/header_only.c" "$out/header_only.cpp"
if gcc -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only "$out/header_only.c" &&
    g++ -std=c++11 -Wall -Wextra -Werror -pedantic -Iinclude -fsyntax-only "$out/header_only.cpp"; then
    passed=$((passed + 1))
    echo "PASS header compiles as C99 and C++11"
else
    fail "header compiles as C99 and C++11"
fi

version=$(cargo metadata --no-deps --format-version 1 |
    python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "mxclock"))') ||
    die "cannot read the crate version"

# --- test homeservers (killed on exit; we started them, by pid)
server_pids=()
cleanup() {
    for pid in "${server_pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
}
trap cleanup EXIT

skew_ms=120000
start_server() { # env-name args...
    local name=$1
    shift
    local info="$out/hs-$name.json"
    rm -f "$info"
    "$lib_dir/mxclock-test-homeserver" --ignore-stdin "$@" >"$info" 2>"$out/hs-$name.log" </dev/null &
    server_pids+=($!)
    for _ in $(seq 100); do
        [[ -s $info ]] && break
        sleep 0.1
    done
    local url
    url=$(sed -n 's/.*"base_url":"\([^"]*\)".*/\1/p' "$info")
    [[ -n $url ]] || die "test homeserver $name did not start (log: $out/hs-$name.log)"
    export "$name=$url"
    echo "$name=$url ($*)"
}
echo "--- starting test homeservers"
export MXCLOCK_TEST_SKEW_MS=$skew_ms
start_server MXCLOCK_TEST_URL --skew-ms "$skew_ms"
# 25 ms each way: a sync blocks on the network long enough for reader
# threads to run during it (test_threads).
start_server MXCLOCK_TEST_URL_SLOW --skew-ms "$skew_ms" --uplink-ms 25 --downlink-ms 25
start_server MXCLOCK_TEST_URL_DATE_ONLY --skew-ms "$skew_ms" --no-msc4094
start_server MXCLOCK_TEST_URL_GARBAGE --skew-ms "$skew_ms" --fault garbage
start_server MXCLOCK_TEST_URL_HUGE --fault huge-body
start_server MXCLOCK_TEST_URL_429 --fault status:429
start_server MXCLOCK_TEST_URL_HANG --fault never-answer
start_server MXCLOCK_TEST_URL_UNSUPPORTED --no-msc4094 --fault date-missing

cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g -O1 -Iinclude
    "-DMXCLOCK_EXPECTED_VERSION=\"$version\"")
abs_lib=$(cd "$lib_dir" && pwd)
link_shared=(-L"$lib_dir" -lmxclock "-Wl,-rpath,$abs_lib" -lpthread)
link_static=("$lib_dir/libmxclock.a" -lpthread -ldl -lm)
sanitize=("-fsanitize=address,undefined" -fno-omit-frame-pointer -fno-sanitize-recover=all)

# Seconds one test binary may take (valgrind is the slow one).
test_timeout_s=${MXCLOCK_C_TEST_TIMEOUT_S:-300}

have_valgrind=true
command -v valgrind >/dev/null || have_valgrind=false

# Runs one binary; counts its PASS/FAIL lines. A run that fails without a
# FAIL line (a crash, a sanitizer or valgrind error) counts as one failure.
run() { # label command...
    local label=$1
    shift
    local log="$out/${label//\//-}.log"
    # A hung test must fail, not hold CI until its 90 minutes run out.
    timeout --kill-after=10 "$test_timeout_s" "$@" >"$log" 2>&1
    local rc=$?
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then
        echo "FAIL timed out after ${test_timeout_s}s" >>"$log"
    fi
    local p f
    p=$(grep -c '^PASS ' "$log")
    f=$(grep -c '^FAIL ' "$log")
    sed -e "s|^PASS |PASS $label: |" -e "s|^FAIL |FAIL $label: |" "$log" | grep -E '^(PASS|FAIL) '
    passed=$((passed + p))
    failed=$((failed + f))
    ((f > 0)) && failures+=("$label ($f cases)")
    if [[ $rc -ne 0 && $f -eq 0 ]] || [[ $p -eq 0 && $f -eq 0 ]]; then
        fail "$label: exit $rc without a failed case (crash or sanitizer/valgrind error); log $log"
        tail -n 40 "$log" | sed 's/^/    /'
    elif [[ $f -gt 0 ]]; then
        grep -v -E '^(PASS|FAIL) ' "$log" | head -n 40 | sed 's/^/    /'
    fi
}

tests=(tests/c/test_*.c)
((${#tests[@]} > 0)) || die "no tests in tests/c"
for src in "${tests[@]}"; do
    name=$(basename "$src" .c)
    echo "--- $name"
    ok=true
    gcc "${cflags[@]}" "$src" "${link_shared[@]}" -o "$out/$name-shared" || ok=false
    gcc "${cflags[@]}" "$src" "${link_static[@]}" -o "$out/$name-static" || ok=false
    gcc "${cflags[@]}" "${sanitize[@]}" "$src" "${link_shared[@]}" -o "$out/$name-asan" || ok=false
    if ! $ok; then
        fail "$name: does not compile with -Werror"
        continue
    fi
    run "shared/$name" "$out/$name-shared"
    run "static/$name" "$out/$name-static"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run "asan/$name" "$out/$name-asan"
    if $have_valgrind; then
        # --fair-sched: valgrind runs one thread at a time, and without a fair
        # lock the spinning reader threads of test_threads can starve the
        # syncing thread for many minutes.
        run "valgrind/$name" valgrind --quiet --fair-sched=yes --leak-check=full \
            --errors-for-leak-kinds=definite --error-exitcode=1 "$out/$name-shared"
    fi
done

echo "--- the example of docs/c-api.md"
awk '/^```c$/ {inside = 1; next} /^```$/ && inside {exit} inside {print}' docs/c-api.md >"$out/doc_example.c"
if [[ -s $out/doc_example.c ]] &&
    gcc "${cflags[@]}" "$out/doc_example.c" "${link_shared[@]}" -o "$out/doc_example" &&
    "$out/doc_example" "$MXCLOCK_TEST_URL" >"$out/doc_example.log" 2>&1 &&
    grep -q '^server time .* via endpoint' "$out/doc_example.log" &&
    grep -q '^invite: live, ring: yes' "$out/doc_example.log"; then
    passed=$((passed + 1))
    echo "PASS docs/c-api.md example"
    sed 's/^/    /' "$out/doc_example.log"
else
    fail "docs/c-api.md example (source $out/doc_example.c, log $out/doc_example.log)"
fi

echo "--- the sync-session block of docs/c-api.md (compiles: it calls app functions)"
awk '/^```c$/ {n++; if (n == 2) {inside = 1; next}} /^```$/ && inside {exit} inside {print}' docs/c-api.md >"$out/doc_session.c"
if [[ -s $out/doc_session.c ]] && grep -q mxclock_sync_session_next_action "$out/doc_session.c" &&
    gcc "${cflags[@]}" -c "$out/doc_session.c" -o "$out/doc_session.o"; then
    passed=$((passed + 1))
    echo "PASS docs/c-api.md sync-session block compiles"
else
    fail "docs/c-api.md sync-session block (source $out/doc_session.c)"
fi

echo "--- pkg-config (contrib/pkg-config/mxclock.pc.in filled for the build tree)"
if command -v pkg-config >/dev/null; then
    pc_dir=$out/pkgconfig
    mkdir -p "$pc_dir"
    sed -e "s|@PREFIX@|$PWD|" -e "s|@LIBDIR@|$abs_lib|" -e "s|@INCLUDEDIR@|$PWD/include|" \
        -e "s|@VERSION@|$version|" contrib/pkg-config/mxclock.pc.in >"$pc_dir/mxclock.pc"
    pc_version=$(PKG_CONFIG_PATH=$pc_dir pkg-config --modversion mxclock)
    pc_flags=$(PKG_CONFIG_PATH=$pc_dir pkg-config --cflags --libs mxclock)
    pc_static=$(PKG_CONFIG_PATH=$pc_dir pkg-config --static --libs mxclock)
    # shellcheck disable=SC2086 # word splitting of the flags is intended
    if [[ $pc_version == "$version" && $pc_static == *"-lpthread -ldl -lm"* ]] &&
        gcc "${cflags[@]}" tests/c/test_api.c $pc_flags -Wl,-rpath,"$abs_lib" -o "$out/test_api-pkgconfig"; then
        run "pkgconfig/test_api" "$out/test_api-pkgconfig"
    else
        fail "pkg-config: version '$pc_version', flags '$pc_flags', static '$pc_static'"
    fi
else
    echo "SKIPPED (part): the pkg-config check (pkg-config is not installed)"
fi

echo "--- benchmark (strict compile, smoke run)"
if gcc "${cflags[@]}" -O2 tests/c/bench_server_now.c "${link_static[@]}" -o "$out/bench_server_now" &&
    "$out/bench_server_now" 1000 >"$out/bench-smoke.log" 2>&1 &&
    grep -q '^c_server_now_ms_ns=' "$out/bench-smoke.log"; then
    passed=$((passed + 1))
    echo "PASS bench_server_now smoke"
else
    fail "bench_server_now smoke (log $out/bench-smoke.log)"
fi

echo
if ! $have_valgrind; then
    echo "SKIPPED (part): the valgrind runs (valgrind is not installed; apt-get install valgrind)"
fi
for f in "${failures[@]}"; do
    echo "  failed: $f"
done
echo "c: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
