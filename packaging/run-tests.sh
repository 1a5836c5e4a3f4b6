#!/usr/bin/env bash
# Install what the tests need, then run lint, types, the import contract and the test suite.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash packaging/setup.sh --dev
venv=${MONOSCOPE_VENV:-$here/.venv}
export HF_HUB_OFFLINE=1 QT_QPA_PLATFORM=offscreen PATH="$venv/bin:$PATH"
echo "[tests] ruff";          ruff check app tests benchmarks
echo "[tests] mypy (strict on all of monoscope)"; mypy
echo "[tests] import contract"; lint-imports
echo "[tests] pytest";        python -m pytest "$@"
