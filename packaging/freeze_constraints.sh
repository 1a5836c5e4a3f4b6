#!/usr/bin/env bash
# Regenerate constraints.txt (exact versions for reproducible CI installs) from a working venv.
#   bash packaging/freeze_constraints.sh [VENV]      # default: the dev venv
# Ranges for users stay in pyproject.toml; this file only pins what CI installs:
#   pip install -c constraints.txt -e '.[dev]'
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-${MONOSCOPE_VENV:-/root/.cache/monoscope/venv}}
{
  echo "# Exact versions of a working Monoscope environment, for reproducible CI installs."
  echo "# Regenerate with: bash packaging/freeze_constraints.sh  (do not edit by hand)"
  echo "# Python $("$venv/bin/python" -c 'import platform; print(platform.python_version())'), Linux x86-64; torch is the CPU wheel (install torch==2.13.0 first)."
  "$venv/bin/pip" freeze --exclude-editable --disable-pip-version-check \
    | grep -viE '^(monoscope|pip|setuptools|wheel)([=@ ]|$)' \
    | sed -E 's/^([A-Za-z0-9_.-]+) @ file:.*\/[A-Za-z0-9_.]+-([0-9][^-]*)-.*\.whl.*$/\1==\2/' \
    | sed -E 's/^(torch[a-z]*==[0-9.]+)\+[a-z0-9]+$/\1/'
} > "$here/constraints.txt"
echo "wrote $here/constraints.txt ($(grep -vc '^#' "$here/constraints.txt") packages)"
