#!/usr/bin/env bash
# The plots of BENCHMARKS.md, drawn from the benches' JSON:
#
#   docs/plots/accuracy_cdf.png      error CDF per scenario, mxclock and peers
#   docs/plots/drift_day.png         error and reported uncertainty over a
#                                    simulated day, fixed bound vs learned drift
#   docs/plots/requests_per_day.png  requests per day per client
#
# Runs `cargo bench --bench accuracy` and `--bench requests_per_day` first
# unless --no-bench is given (then it reads their last JSON). matplotlib is
# installed into a virtualenv under the target directory on first use.
#
# Usage: scripts/plots.sh [--no-bench]     (uses CARGO_TARGET_DIR or target/)
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
if [ "${1:-}" != "--no-bench" ]; then
    cargo bench --bench accuracy
    cargo bench --bench requests_per_day
fi
for json in "$target/bench/accuracy.json" "$target/bench/requests_per_day.json"; do
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
MPLBACKEND=Agg "$venv/bin/python" scripts/plots.py "$target/bench" docs/plots
