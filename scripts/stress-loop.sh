#!/usr/bin/env bash
# Runs tests/over_http/concurrency_stress.rs RUNS times in a row (default 100)
# and counts the runs that passed. Each run is a fresh process. The test binary
# is built once; a failing run's output is kept in target/stress-loop/.
#
# Usage: scripts/stress-loop.sh [RUNS]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
runs=${1:-100}
log_dir=target/stress-loop
mkdir -p "$log_dir"
export CARGO_TERM_COLOR=never

cargo test --test over_http --no-run 2>&1 | tail -1
passed=0 failed=0 start=$SECONDS
for i in $(seq 1 "$runs"); do
    if cargo test -q --test over_http concurrency_stress:: >"$log_dir/run-$i.log" 2>&1; then
        passed=$((passed + 1))
        rm -f "$log_dir/run-$i.log"
    else
        failed=$((failed + 1))
        echo "stress: run $i FAILED; output in $log_dir/run-$i.log"
        grep -E -m 5 'panicked|FAILED|deadlock' "$log_dir/run-$i.log"
    fi
done
echo "stress: $passed/$runs passed, $failed failed in $((SECONDS - start))s"
[[ $failed -eq 0 ]]
