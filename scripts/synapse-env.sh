#!/usr/bin/env bash
# Stable entry point to the Synapse test harness for other test suites (the
# Rust tests): same subcommands and flags as tests/synapse/harness.py.
#
#   scripts/synapse-env.sh install
#   scripts/synapse-env.sh start --offset-s 37.25 [--module] --state-dir DIR [--watch-pid PID]
#       -> one JSON line: base_url, port, offset_s, pid, registration_shared_secret, ...
#   scripts/synapse-env.sh stop --state-dir DIR
#
# Installs what is missing (cached venv in target/synapse-venv, Debian faketime).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec python3 "$root/tests/synapse/harness.py" "$@"
