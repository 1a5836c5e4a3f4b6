"""Optional text quality judge (`text.judge`): a local GGUF model says whether a text is
fluent, coherent writing — the gate of quality-gated diversity for text (`measure
--gate-judge`: every dispersion also among the texts it passes).

Off by default: it runs only when named (``monoscope annotate --attributes text.judge``). The
model is the one of the code judge (`code.judge_model` study setting, else
``MONOSCOPE_JUDGE_MODEL``, else the bundled SmolLM2-135M, which judges poorly; it exists so the
gate can be tried offline). Greedy decoding, so a verdict depends on the body and the model
only (context-free, cached by content hash); the version names the model file. Value 1 / 0,
label ``pass`` / ``fail``: pass when the answer starts with "yes".
"""

from __future__ import annotations

from monoscope.core.attributes.base import Context, Extractor, TextItem, Value
from monoscope.core.attributes.code.judge import JudgeExtractor

QUESTION = ("Is the text above fluent, coherent English writing that makes sense? "
            "Answer yes or no.")
MAX_TEXT_CHARS = 2000


def verdict(answer: str) -> bool:
    """A judge's answer read as pass (it starts with "yes", ignoring case and punctuation)."""
    return answer.strip().lstrip("*\"'` ").lower().startswith("yes")


class TextJudge(JudgeExtractor):
    """``text.judge``: value 1 (pass) / 0 (fail), label ``pass`` / ``fail``."""

    name = "text.judge"

    def compute(self, ctx: Context, items: list[TextItem]) -> list[Value]:
        judge = self.judge(ctx)
        out = []
        for it in items:
            ctx.state.check()
            ok = verdict(judge.answer(QUESTION, it.body[:MAX_TEXT_CHARS]))
            out.append(Value(1.0 if ok else 0.0, "pass" if ok else "fail"))
        return out


EXTRACTORS: list[Extractor] = [TextJudge()]
