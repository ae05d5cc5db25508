#!/usr/bin/env bash
# Real-homeserver tests: Synapse (pinned, PyPI) under libfaketime, with and
# without the MSC4094 module in contrib/synapse-msc4094.
#
# Installs what is missing (Debian faketime; a venv cached in
# target/synapse-venv, rebuilt only when the pinned versions or the module's
# sources change), runs tests/synapse, and ends with
#   synapse: N passed, N failed
# exiting non-zero if any test failed or none ran.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

t0=$(date +%s)
python3 tests/synapse/harness.py install
t1=$(date +%s)
echo "synapse: install/check took $((t1 - t0)) s"

venv_python="${MXCLOCK_SYNAPSE_VENV:-$root/target/synapse-venv}/bin/python"
status=0
"$venv_python" tests/synapse/run_tests.py "$@" || status=$?
echo "synapse: tests took $(( $(date +%s) - t1 )) s"
exit "$status"
