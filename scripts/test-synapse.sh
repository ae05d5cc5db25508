#!/usr/bin/env bash
# Real-homeserver tests: Synapse (pinned, PyPI) under libfaketime, with and
# without the MSC4094 module in contrib/synapse-msc4094.
#
# Installs what is missing (Debian faketime; a venv cached in
# target/synapse-venv, rebuilt only when the pinned versions or the module's
# sources change), then runs
#   - python: tests/synapse (harness, module, Synapse's behaviour);
#   - rust:   tests/over_http/synapse_e2e.rs, the library and the `mxclock` CLI against
#             Synapse (#[ignore]d in plain `cargo test`, run here with
#             --ignored);
# and ends with the total over both:
#   synapse: N passed, N failed
# exiting non-zero if any test failed or none ran.
#
# Arguments go to tests/synapse/run_tests.py (a file pattern).
# MXCLOCK_SYNAPSE_PARTS="python rust" (default both) runs a subset; a part
# left out is reported as SKIPPED.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
parts=" ${MXCLOCK_SYNAPSE_PARTS:-python rust} "

t0=$(date +%s)
python3 tests/synapse/harness.py install
t1=$(date +%s)
echo "synapse: install/check took $((t1 - t0)) s"

log_dir="${CARGO_TARGET_DIR:-$root/target}/synapse-logs"
mkdir -p "$log_dir"
passed=0 failed=0 status=0

if [[ $parts == *" python "* ]]; then
    venv_python="${MXCLOCK_SYNAPSE_VENV:-$root/target/synapse-venv}/bin/python"
    set +e
    "$venv_python" tests/synapse/run_tests.py "$@" 2>&1 | tee "$log_dir/python.log"
    rc=${PIPESTATUS[0]}
    set -e
    [[ $rc -eq 0 ]] || status=$rc
    line=$(grep -E '^synapse: [0-9]+ passed, [0-9]+ failed' "$log_dir/python.log" | tail -1 || true)
    if [[ -z $line ]]; then
        echo "synapse: the Python tests printed no summary" >&2
        failed=$((failed + 1))
        status=1
    else
        passed=$((passed + $(sed -E 's/^synapse: ([0-9]+) passed.*/\1/' <<<"$line")))
        failed=$((failed + $(sed -E 's/^synapse: [0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")))
    fi
    t2=$(date +%s)
    echo "synapse: python tests took $((t2 - t1)) s"
else
    echo "SKIPPED: synapse python tests (MXCLOCK_SYNAPSE_PARTS=\"${MXCLOCK_SYNAPSE_PARTS:-}\")"
fi

if [[ $parts == *" rust "* ]]; then
    t2=$(date +%s)
    # The CLI test runs the example binary: build it (a no-op when
    # `cargo test` already did).
    cargo build --quiet --example mxclock
    set +e
    # One test at a time: the servers are shared, and concurrent bursts on two
    # cores would measure the scheduler instead of the library.
    MXCLOCK_SYNAPSE_ENV="$root/scripts/synapse-env.sh" \
        cargo test --test over_http synapse_e2e:: -- --ignored --test-threads=1 --nocapture 2>&1 |
        tee "$log_dir/rust.log"
    rc=${PIPESTATUS[0]}
    set -e
    [[ $rc -eq 0 ]] || status=$rc
    # libtest: "test result: ok. 5 passed; 0 failed; 0 ignored; ..."
    line=$(grep -E '^test result: ' "$log_dir/rust.log" | tail -1 || true)
    if [[ -z $line ]]; then
        echo "synapse: the Rust tests did not run (build failure?)" >&2
        failed=$((failed + 1))
        status=1
    else
        rp=$(sed -E 's/.* ([0-9]+) passed;.*/\1/' <<<"$line")
        rf=$(sed -E 's/.* ([0-9]+) failed;.*/\1/' <<<"$line")
        echo "synapse-rust: $rp passed, $rf failed"
        if [[ $rp -eq 0 && $rf -eq 0 ]]; then
            echo "synapse: no Rust Synapse test ran" >&2
            status=1
        fi
        passed=$((passed + rp))
        failed=$((failed + rf))
    fi
    echo "synapse: rust tests took $(( $(date +%s) - t2 )) s"
else
    echo "SKIPPED: synapse rust tests (MXCLOCK_SYNAPSE_PARTS=\"${MXCLOCK_SYNAPSE_PARTS:-}\")"
fi

echo "synapse: tests took $(( $(date +%s) - t1 )) s"
echo "synapse: $passed passed, $failed failed"
if [[ $status -eq 0 && ( $failed -ne 0 || $passed -eq 0 ) ]]; then
    status=1
fi
exit "$status"
