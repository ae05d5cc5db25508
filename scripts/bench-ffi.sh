#!/usr/bin/env bash
# What a server-time read costs across the C ABI (docs/design.md#fast-reads):
# ns per mxclock_server_now_ms call from C (static and shared library) next to a
# bare clock_gettime(CLOCK_BOOTTIME), and the same call from Rust
# (ServerClock::server_now_ms and the extern "C" function), all in one run
# of this script, release profile. Prints a table.
#
#   scripts/bench-ffi.sh [ITERATIONS]   (default 20000000 per round, best of 5)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
iterations=${1:-20000000}
out=target/c
mkdir -p "$out"

cargo build --release --lib --quiet
lib=target/release
abs_lib=$(cd "$lib" && pwd)
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -O2 -Iinclude)
gcc "${cflags[@]}" tests/c/bench_server_now.c "$lib/libmxclock.a" -lpthread -ldl -lm \
    -o "$out/bench_server_now-static"
gcc "${cflags[@]}" tests/c/bench_server_now.c -L"$lib" -lmxclock -Wl,-rpath,"$abs_lib" \
    -o "$out/bench_server_now-shared"

c_static=$("$out/bench_server_now-static" "$iterations")
c_shared=$("$out/bench_server_now-shared" "$iterations")
rust=$(cargo bench --quiet --bench ffi_cost -- "$iterations")

value() { # key text
    sed -n "s/^$1=//p" <<<"$2"
}

echo
echo "ns per call, best of 5 rounds of $iterations calls ($(uname -m), $(nproc) cores, release)"
printf '%-58s %8s\n' "call" "ns/call"
printf '%-58s %8s\n' "C: mxclock_server_now_ms (libmxclock.a)" "$(value c_server_now_ms_ns "$c_static")"
printf '%-58s %8s\n' "C: mxclock_server_now_ms (libmxclock.so)" "$(value c_server_now_ms_ns "$c_shared")"
printf '%-58s %8s\n' "C: clock_gettime(CLOCK_BOOTTIME), same process as .a run" "$(value c_clock_gettime_boottime_ns "$c_static")"
printf '%-58s %8s\n' "Rust: ServerClock::server_now_ms" "$(value rust_server_now_ms_ns "$rust")"
printf '%-58s %8s\n' "Rust: extern \"C\" mxclock_server_now_ms" "$(value rust_extern_c_server_now_ms_ns "$rust")"
printf '%-58s %8s\n' "Rust: clock_gettime(CLOCK_BOOTTIME), same process" "$(value rust_clock_gettime_boottime_ns "$rust")"
