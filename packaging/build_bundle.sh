#!/usr/bin/env bash
# Build the one-folder Linux desktop bundle dist/monoscope/ with PyInstaller, then smoke-test it.
#   bash packaging/build_bundle.sh                 # bundle; models/data fetched on first use
#   bash packaging/build_bundle.sh --with-assets   # also bake the bundled models/data into it
#   bash packaging/build_bundle.sh --portable      # rebuild llama-cpp-python with GGML_NATIVE=OFF
#                                                  # in a separate venv first (runs on any x86-64)
#   bash packaging/build_bundle.sh --no-smoke      # skip the smoke test
#   bash packaging/build_bundle.sh --clean         # drop PyInstaller's caches first (slower)
# MONOSCOPE_VENV: the environment to build from (default: the dev venv, else .venv).
# DIST / WORK: output and scratch folders (default: dist/ and build/ in the repository).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
with_assets=0; portable=0; smoke=1; clean=""
for a in "$@"; do
  case "$a" in
    --with-assets) with_assets=1 ;;
    --portable) portable=1 ;;
    --no-smoke) smoke=0 ;;
    --clean) clean=--clean ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "build_bundle: unknown option $a (see --help)" >&2; exit 2 ;;
  esac
done
default_venv=/root/.cache/monoscope/venv
[ -x "$default_venv/bin/python" ] || default_venv=$here/.venv
venv=${MONOSCOPE_VENV:-$default_venv}
dist=${DIST:-$here/dist}
work=${WORK:-$here/build}
export HF_HUB_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
say() { printf '\033[1m[bundle]\033[0m %s\n' "$*"; }

if [ $portable = 1 ]; then
  # The default llama-cpp-python build uses -march=native: fine here, but the bundle would die
  # with "illegal instruction" on an older CPU. Build a portable copy into its own venv.
  pvenv=${MONOSCOPE_PORTABLE_VENV:-$here/build/portable-venv}
  if [ ! -x "$pvenv/bin/python" ]; then
    say "creating portable build venv $pvenv"
    python3 -m venv "$pvenv"
    "$pvenv/bin/pip" install -q --upgrade pip wheel
    "$pvenv/bin/pip" install -q torch==2.13.0
  fi
  say "building llama-cpp-python with GGML_NATIVE=OFF (~6 min on 2 cores)"
  CMAKE_ARGS="-DGGML_NATIVE=OFF" FORCE_CMAKE=1 "$pvenv/bin/pip" install -q --no-cache-dir \
    --force-reinstall --no-deps "llama-cpp-python==$("$venv/bin/python" -c 'import llama_cpp; print(llama_cpp.__version__)')"
  cons=""; [ -f constraints.txt ] && cons="-c constraints.txt"
  "$pvenv/bin/pip" install -q $cons -e ".[bundle]"
  venv=$pvenv
fi

"$venv/bin/python" -c "import PyInstaller" 2>/dev/null || {
  say "installing PyInstaller into $venv"; "$venv/bin/pip" install -q -e ".[bundle]"; }

say "building with $venv (PyInstaller $("$venv/bin/python" -c 'import PyInstaller; print(PyInstaller.__version__)'))"
start=$(date +%s)
"$venv/bin/python" -m PyInstaller --noconfirm $clean --log-level WARN \
  --distpath "$dist" --workpath "$work" packaging/monoscope.spec
secs=$(( $(date +%s) - start ))
bundle=$dist/monoscope

if [ $with_assets = 1 ]; then
  say "baking the bundled models and data into $bundle/assets"
  "$venv/bin/python" packaging/bake_assets.py "$bundle"
fi

size=$(du -sh "$bundle" | cut -f1)
say "built $bundle/monoscope in ${secs}s, size $size"
echo "build_seconds=$secs size=$size" > "$dist/monoscope-build.txt"
if [ $smoke = 1 ]; then
  bash packaging/smoke_test.sh "$bundle"
fi
