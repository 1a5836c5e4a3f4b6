"""Optional LLM judge: ask a local GGUF model which algorithms a solution uses (as the paper did).

Off by default: it runs only when named (``monoscope annotate --attributes
code.judge_algorithms``). The model is the study setting ``code.judge_model`` (a GGUF path,
`study.set_meta`), else the ``MONOSCOPE_JUDGE_MODEL`` environment variable, else the bundled
SmolLM2-135M — which answers poorly; it exists so the feature can be tried offline. Decoding
is greedy (temperature 0), so a value depends on the body and the model only (context-free,
cached by content hash); the version names the model file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from monoscope.core.attributes.base import Context, Extractor, TextItem, Value
from monoscope.core.attributes.code.static import ALGORITHMS, extract_code, join_tags
from monoscope.core.errors import ModelLoadError
from monoscope.core.store import Study

QUESTION = (
    "Which algorithms does the following Python solution use? Choose only from this list: "
    + ", ".join(ALGORITHMS)
    + ". Answer with the matching names from the list, separated by commas, and nothing else."
)
MAX_CODE_CHARS = 4000
MAX_ANSWER_TOKENS = 40

# Words a model uses for a tag, besides the tag's own name (lower case, matched as words).
_ALIASES: dict[str, tuple[str, ...]] = {
    "Sorting": ("sort", "sorted", "sorts"),
    "Searching": ("search", "binary search", "linear search"),
    "String": ("strings", "string manipulation"),
    "Divide and Conquer": ("divide-and-conquer", "divide & conquer"),
    "Greedy": ("greedy algorithm",),
    "Dynamic Programming": ("dp", "memoization", "memoisation"),
    "Recursion": ("recursive",),
    "Bit Manipulation": ("bitwise", "bit manipulation", "bit operations"),
    "Backtracking": ("backtrack",),
    "Graph": ("graphs", "bfs", "dfs", "breadth-first search", "depth-first search"),
}


def parse_answer(answer: str) -> set[str]:
    """Tags from `ALGORITHMS` named in a model's answer; {"Others"} when none is recognised."""
    text = " " + re.sub(r"[^a-z&-]+", " ", answer.lower()) + " "
    found: set[str] = set()
    for tag in ALGORITHMS:
        words = (tag.lower(), *_ALIASES.get(tag, ()))
        if any(f" {w} " in text for w in words):
            found.add(tag)
    if found - {"Others"}:
        found.discard("Others")
    return found or {"Others"}


def judge_model_path(study: Study) -> Path:
    """The GGUF the judge uses (study setting, then environment, then bundled SmolLM2)."""
    chosen = study.get_meta("code.judge_model") or os.environ.get("MONOSCOPE_JUDGE_MODEL")
    if chosen:
        path = Path(str(chosen)).expanduser()
        if not path.is_file():
            raise ModelLoadError(
                f"The judge model {path} does not exist. Set another GGUF with "
                "study.set_meta('code.judge_model', PATH) or MONOSCOPE_JUDGE_MODEL."
            )
        return path
    from monoscope.core import assets

    return assets.locate("smollm2")


class Judge:
    """A loaded model answering the labelling question; chat format if the GGUF has a template."""

    def __init__(self, path: Path, n_threads: int = 1, n_ctx: int = 2048) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - the dependency is required
            raise ModelLoadError(f"llama-cpp-python is not installed ({exc}).") from None
        try:
            self.llm: Any = Llama(
                model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False, seed=0
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"Cannot load {path} as a GGUF model: {exc}") from None
        self.chat = bool(self.llm.metadata.get("tokenizer.chat_template"))

    def ask(self, code: str) -> str:
        """The model's raw answer for one program (greedy decoding)."""
        snippet = code[:MAX_CODE_CHARS]
        if self.chat:
            out = self.llm.create_chat_completion(
                messages=[{"role": "user", "content": f"{QUESTION}\n\n```python\n{snippet}\n```"}],
                temperature=0.0,
                max_tokens=MAX_ANSWER_TOKENS,
            )
            return str(out["choices"][0]["message"]["content"] or "")
        prompt = f"```python\n{snippet}\n```\n\n{QUESTION}\nAnswer:"
        out = self.llm.create_completion(
            prompt, temperature=0.0, max_tokens=MAX_ANSWER_TOKENS, stop=["\n\n"]
        )
        return str(out["choices"][0]["text"] or "")

    def answer(self, question: str, text: str, max_tokens: int = 8) -> str:
        """The model's raw answer to a question about a text (greedy decoding)."""
        if self.chat:
            out = self.llm.create_chat_completion(
                messages=[{"role": "user", "content": f"{question}\n\n{text}"}],
                temperature=0.0, max_tokens=max_tokens)
            return str(out["choices"][0]["message"]["content"] or "")
        out = self.llm.create_completion(f"{text}\n\n{question}\nAnswer:", temperature=0.0,
                                         max_tokens=max_tokens, stop=["\n"])
        return str(out["choices"][0]["text"] or "")

    def tags(self, code: str) -> set[str]:
        return parse_answer(self.ask(code))


class JudgeExtractor(Extractor):
    """An attribute read from the GGUF judge (`judge_model_path`): its version names the judge
    file, and every judge attribute of one annotate shares one loaded `Judge`."""

    version = "judge-1"
    kinds = ()  # never by default; name it explicitly
    context_free = True
    batch_size = 8

    def effective_version(self, ctx: Context) -> str:
        key = "judge_path"
        if key not in ctx.cache:
            ctx.cache[key] = judge_model_path(ctx.study)
        return f"{self.version}:{Path(ctx.cache[key]).name}"

    def judge(self, ctx: Context) -> Judge:
        """The annotate's judge, loaded on first use."""
        if "judge" not in ctx.cache:
            ctx.cache["judge"] = Judge(
                Path(ctx.cache.get("judge_path") or judge_model_path(ctx.study))
            )
        judge: Judge = ctx.cache["judge"]
        return judge


class JudgeAlgorithms(JudgeExtractor):
    """``code.judge_algorithms``: the judge's tags (value = count, label = sorted tags)."""

    name = "code.judge_algorithms"

    def compute(self, ctx: Context, items: list[TextItem]) -> list[Value]:
        judge = self.judge(ctx)
        out = []
        for it in items:
            ctx.state.check()
            code = extract_code(it.body)
            if code is None:
                out.append(Value(None, None))
                continue
            tags = judge.tags(code)
            out.append(Value(float(len(tags)), join_tags(tags)))
        return out


EXTRACTORS: list[Extractor] = [JudgeAlgorithms()]
