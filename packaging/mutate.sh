#!/usr/bin/env bash
# Mutation testing of one module (not in CI; see docs/testing.md):
#   bash packaging/mutate.sh core/analysis/metrics.py          # every mutant, focused tests
#   bash packaging/mutate.sh core/analysis/metrics.py --again  # only last run's survivors
#   bash packaging/mutate.sh core/sandbox/boot.py:BOOTSTRAP    # the sandbox bootstrap's code
#   bash packaging/mutate.sh --list                            # modules and their tests
# Needs mutmut: bash packaging/setup.sh --dev --mutation
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${MONOSCOPE_VENV:-$here/.venv}
py="$venv/bin/python"; [ -x "$py" ] || py=python3
exec "$py" "$here/packaging/mutate.py" "$@"
