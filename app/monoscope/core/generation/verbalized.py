"""Verbalized sampling (Zhang et al. 2025): one call asks for k answers with their probabilities.

The prompt gets an instruction (`instruction(k)`) asking for k responses, each written as
``<response><text>…</text><probability>0.25</probability></response>``. `parse(text, k)`
splits a call's output into its answers; the run stores each answer as its own generated text
(sample index ``call · k + j``) with its stated probability and a link to the call (`parent`:
the text id of the call's first answer, whose metadata keeps the call's raw output). Output
that holds no well-formed response is stored whole, as one text flagged ``parsed: false`` —
nothing is dropped. A probability that is missing or not a number in [0, 1] (``30%`` counts
as 0.30) is stored as None with the answer kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_K = 20

_BLOCK = re.compile(r"<response>(.*?)</response>", re.S | re.I)
_TEXT = re.compile(r"<text>(.*?)</text>", re.S | re.I)
_PROB = re.compile(r"<probability>\s*([^<]*?)\s*</probability>", re.S | re.I)


def instruction(k: int) -> str:
    """What is appended to the user prompt (and a base model's completion prompt)."""
    return (f"\n\nGenerate {k} different responses to the request above, each with its "
            "probability (a number between 0 and 1). Write each response as "
            "<response><text>THE RESPONSE</text><probability>P</probability></response>.")


@dataclass(frozen=True)
class Answer:
    text: str
    probability: float | None


@dataclass(frozen=True)
class Parsed:
    """The answers of one call (at most k), or the whole output when nothing parsed."""

    answers: list[Answer]
    parsed: bool
    notes: list[str] = field(default_factory=list)  # what was off (extra answers, bad numbers)


def _probability(raw: str) -> float | None:
    s = raw.strip().rstrip(".")
    pct = s.endswith("%")
    try:
        v = float(s.rstrip("%").strip())
    except ValueError:
        return None
    if pct:
        v /= 100.0
    return v if 0.0 <= v <= 1.0 else None


def parse(text: str, k: int) -> Parsed:
    """Split a call's output into at most k answers; the whole text, flagged, when none parses.

    A response block counts when its ``<text>`` is non-empty; a block without ``<text>`` tags
    but with a ``<probability>`` takes the words beside the probability as its text; a block
    with neither (``<response>5</response>``) is not an answer.
    """
    answers: list[Answer] = []
    notes: list[str] = []
    for block in _BLOCK.findall(text):
        m = _TEXT.search(block)
        pm = _PROB.search(block)
        if m is None and pm is None:
            notes.append("response without <text> or <probability> skipped")
            continue
        body = (m.group(1) if m else _PROB.sub("", block)).strip()
        if not body:
            notes.append("empty response skipped")
            continue
        prob = _probability(pm.group(1)) if pm else None
        if pm is None:
            notes.append("response without probability")
        elif prob is None:
            notes.append(f"probability {pm.group(1)!r} not in [0, 1]")
        answers.append(Answer(body, prob))
    if len(answers) > k:
        notes.append(f"{len(answers) - k} answers beyond k={k} kept only in the raw output")
        answers = answers[:k]
    if not answers:
        return Parsed([Answer(text, None)], False, notes or ["no <response> block"])
    return Parsed(answers, True, notes)
