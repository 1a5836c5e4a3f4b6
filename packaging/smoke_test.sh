#!/usr/bin/env bash
# Smoke test of a built desktop bundle: CLI, asset lookup, the heavy libraries inside the bundle,
# a demo study, an offscreen GUI screenshot and one tiny generation with the bundled model.
#   bash packaging/smoke_test.sh [BUNDLE_DIR]      # default: dist/monoscope
# OUT (default: a fresh temp folder) keeps the study and the screenshot.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bundle=${1:-$here/dist/monoscope}
exe=$bundle/monoscope
out=${OUT:-$(mktemp -d /tmp/monoscope-smoke-XXXXXX)}
mkdir -p "$out"
export HF_HUB_OFFLINE=1 QT_QPA_PLATFORM=offscreen
fails=0
say() { printf '\033[1m[smoke]\033[0m %s\n' "$*"; }
ok() { say "ok   $1"; }
bad() { say "FAIL $1"; fails=$((fails + 1)); }
# step NAME CMD...: run CMD with its output in $out/NAME.log; timed.
step() {
  local name=$1; shift
  local t0=$EPOCHREALTIME
  if "$@" >"$out/$name.log" 2>&1; then
    ok "$name ($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s)"; return 0
  fi
  bad "$name (exit $?; last lines of $out/$name.log:)"; tail -5 "$out/$name.log" | sed 's/^/       /'; return 1
}

[ -x "$exe" ] || { say "no bundle at $exe: build it with bash packaging/build_bundle.sh"; exit 2; }
say "bundle $bundle ($(du -sh "$bundle" | cut -f1)), output in $out"

step version "$exe" --version
step help "$exe" --help && grep -q " gui " "$out/help.log" || bad "help lists the gui command"
step assets-list "$exe" assets list

# The bundle stands in for `python -c` (code sandbox); run the heavy libraries through it.
step libraries "$exe" -I -S -c '
import sys, numpy as np
import duckdb, pyarrow, llama_cpp, onnxruntime, tokenizers, scipy, sklearn
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
print("vader", SentimentIntensityAnalyzer().polarity_scores("a wonderful film")["compound"])
import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
fig = plt.figure(); plt.plot([1, 2, 3]); fig.savefig(sys.argv[1] + "/mpl.png")
from monoscope.core import assets
from sentence_transformers import SentenceTransformer
m = SentenceTransformer(str(assets.locate("minilm")), device="cpu")
print("minilm", m.encode(["hello world"]).shape)
import umap
x = np.random.default_rng(0).normal(size=(60, 8)).astype("float32")
print("umap", umap.UMAP(n_neighbors=5, n_epochs=20).fit_transform(x).shape)
print("llama.cpp", llama_cpp.__version__, "system:", llama_cpp.llama_print_system_info().decode()[:60])
' "$out"
step sandbox-shim "$exe" -I -S -c 'import heapq, sys; print(heapq.nsmallest(1, [3, 2]), sys.argv[1:])' x
if [ -x "$bundle/monoscope-python" ]; then
  step child-python "$bundle/monoscope-python" -I -S -c 'import heapq, bisect, json, resource, sys; print(heapq.nsmallest(1, [3, 2]))'
  printf 'import heapq\nn = int(input())\nprint(sum(heapq.nsmallest(2, [n, 5, 1])))\n' > "$out/prog.py"
  step run-code "$exe" run-code "$out/prog.py" --input 3 && grep -q '"status": "pass"' "$out/run-code.log" \
    || bad "run-code: the sandboxed program did not pass"
fi

study=$out/smoke.duckdb
rm -f "$study" "$study.wal"
if grep -q "import-demo" "$out/help.log"; then
  step import-demo "$exe" import-demo "$study" films --quiet
else
  step init "$exe" init "$study"
fi
step info "$exe" info "$study"

step screenshot "$exe" gui --study "$study" --screenshot "$out/window.png" --size 1200x800
if [ -s "$out/window.png" ]; then ok "screenshot $out/window.png ($(stat -c %s "$out/window.png") bytes)"
else bad "screenshot file missing"; fi

if grep -q " generate " "$out/help.log" && grep -q "import-demo" "$out/help.log"; then
  step generate "$exe" generate "$study" --dataset films --model smollm2 --n 2 --prompts 1 \
    --max-tokens 8 --seed 1 --quiet
  step runs "$exe" runs "$study"
  n=$("$exe" -c 'import duckdb, sys; print(duckdb.connect(sys.argv[1], read_only=True).execute(
    "select count(*) from texts where origin = ?", ["generated"]).fetchone()[0])' "$study" 2>"$out/count.log")
  [ "${n:-0}" -ge 2 ] && ok "generated texts in the study: $n" || bad "expected 2 generated texts, found ${n:-none}"
else
  say "skip generate (no generate/import-demo command in this build)"
fi

if [ $fails = 0 ]; then say "PASS (output in $out)"; else say "$fails step(s) FAILED (logs in $out)"; fi
exit $((fails > 0))
