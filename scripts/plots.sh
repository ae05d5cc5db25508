#!/usr/bin/env bash
# The plots of BENCHMARKS.md, drawn from the benches' JSON:
#
#   docs/plots/accuracy_cdf.png      error CDF per scenario, mxclock and peers
#   docs/plots/drift_day.png         error and reported uncertainty over a
#                                    simulated day, fixed bound vs learned drift
#   docs/plots/requests_per_day.png  requests per day per client
#
# Runs `cargo bench --bench accuracy` and `--bench requests_per_day` first
# unless --no-bench is given (then it reads their last JSON). With
# --requests-only it draws (and runs the bench of) only the two plots of
# requests_per_day and leaves accuracy_cdf.png alone. matplotlib is
# installed into a virtualenv under the target directory on first use.
#
# Usage: scripts/plots.sh [--no-bench] [--requests-only]
#        (uses CARGO_TARGET_DIR or target/)
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
run_bench=1
requests_only=0
for arg in "$@"; do
    case "$arg" in
        --no-bench) run_bench=0 ;;
        --requests-only) requests_only=1 ;;
        *)
            echo "plots: FAILED: unknown argument $arg (see the header of $0)" >&2
            exit 2
            ;;
    esac
done
needed=("$target/bench/requests_per_day.json")
if [ "$requests_only" = 0 ]; then
    needed+=("$target/bench/accuracy.json")
fi
if [ "$run_bench" = 1 ]; then
    if [ "$requests_only" = 0 ]; then
        cargo bench --bench accuracy
    fi
    cargo bench --bench requests_per_day
fi
for json in "${needed[@]}"; do
    if [ ! -f "$json" ]; then
        echo "plots: FAILED: $json is missing; run without --no-bench" >&2
        exit 1
    fi
done

venv=$target/plots-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'matplotlib==3.9.*'
fi
extra=()
if [ "$requests_only" = 1 ]; then
    extra=(--requests-only)
fi
MPLBACKEND=Agg "$venv/bin/python" scripts/plots.py "$target/bench" docs/plots "${extra[@]}"
