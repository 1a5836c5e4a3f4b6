"""Read model of missing modes: the source topics that hold ≥ the stored share of a prompt's
human texts and none of a run's (the measure stage's `missing_mode:<topic>` rows, see
docs/measure-schema.md), with the topics' words and, for one prompt, their human texts.

For the inspector (`prompt_missing_modes`, one prompt, with the texts to light on the map) and
the report (`result_missing_modes`, every prompt of every run). Nothing is computed here: the
share is the stored row's value. No Qt.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from monoscope.core.analysis.measure import MeasureResult
from monoscope.core.store import Study, reads
from monoscope.core.store import measurements as measurements_repo

PREFIX = "missing_mode:"
ATTRIBUTE = "topic"


@dataclass(frozen=True)
class MissingMode:
    """One source topic a run lacks on one prompt."""

    run_key: str
    prompt: str
    topic: str  # the category as stored (the topic id)
    label: str  # the topic's words ('' when unknown)
    share: float  # the topic's share of the prompt's human texts (stored value)
    n_source: int  # the prompt's human texts behind the share
    text_ids: tuple[int, ...] = ()  # the topic's human texts of the prompt (prompt lists only)
    snippets: tuple[str, ...] = ()


@dataclass
class PromptMissingModes:
    """Missing modes of one prompt: every run compared on it (key, label), the topics each
    lacks (largest share first), and the share that made a topic a mode."""

    prompt: str
    runs: list[tuple[str, str]] = field(default_factory=list)
    modes: dict[str, list[MissingMode]] = field(default_factory=dict)  # run key -> modes
    share: float | None = None


def modes_from_rows(rows: Iterable[Mapping[str, Any]], prompt: str,
                    topics: Mapping[int, str]) -> dict[str, list[MissingMode]]:
    """Run key -> its missing modes among stored rows of one prompt (rows with `grp`, `ref`,
    `attribute`, `stat`, `value`, `n`), largest share first."""
    out: dict[str, list[MissingMode]] = {}
    for r in rows:
        stat = str(r["stat"])
        if (r["attribute"] != ATTRIBUTE or not stat.startswith(PREFIX) or r["grp"] != r["ref"]
                or r["value"] is None):
            continue
        topic = stat[len(PREFIX):]
        out.setdefault(str(r["grp"]), []).append(MissingMode(
            str(r["grp"]), prompt, topic, _label(topics, topic), float(r["value"]),
            int(r["n"] or 0)))
    for modes in out.values():
        modes.sort(key=lambda m: (-m.share, _order(m.topic)))
    return out


def _label(topics: Mapping[int, str], topic: str) -> str:
    try:
        return topics.get(int(float(topic)), "")
    except ValueError:
        return ""


def _order(topic: str) -> tuple[int, float | str]:
    try:
        return 0, float(topic)
    except ValueError:
        return 1, topic


def prompt_missing_modes(study: Study, dataset_id: int, set_id: int, prompt: str,
                         rows: list[dict[str, Any]], run_labels: Mapping[str, str],
                         snippet_length: int = 160) -> PromptMissingModes:
    """The missing modes of one prompt from its stored rows of set `set_id`
    (`reads.prompt_measurements`), each with the topic's human texts of the prompt (ids and
    the start of their bodies). Runs = those with a stored `missing_modes` comparison on the
    prompt; `share` = the set's `missing_share` parameter."""
    topics = reads.topic_labels(study, dataset_id)
    modes = modes_from_rows(rows, prompt, topics)
    compared = sorted({str(r["grp"]) for r in rows if r["attribute"] == ATTRIBUTE
                       and r["stat"] == "missing_modes" and r["grp"] == r["ref"]},
                      key=lambda k: list(run_labels).index(k) if k in run_labels else 1 << 30)
    wanted = sorted({float(m.topic) for ms in modes.values() for m in ms
                     if _order(m.topic)[0] == 0})
    texts: dict[float, list[tuple[int, str]]] = {}
    for r in reads.source_texts_with_values(study, dataset_id, prompt, ATTRIBUTE, wanted,
                                            snippet_length):
        head = " ".join(str(r["head"] or "").split())
        if len(head) > snippet_length:
            head = head[: snippet_length - 1] + "…"
        texts.setdefault(float(r["value"]), []).append((int(r["text_id"]), head))
    for key, ms in modes.items():
        modes[key] = [_with_texts(m, texts) for m in ms]
    share = json.loads(measurements_repo.load_set(study, set_id)["params"]).get("missing_share")
    return PromptMissingModes(prompt, [(k, run_labels.get(k, k)) for k in compared], modes,
                              None if share is None else float(share))


def _with_texts(m: MissingMode, texts: dict[float, list[tuple[int, str]]]) -> MissingMode:
    if _order(m.topic)[0]:
        return m
    got = texts.get(float(m.topic), [])
    return MissingMode(m.run_key, m.prompt, m.topic, m.label, m.share, m.n_source,
                       tuple(t for t, _ in got), tuple(s for _, s in got))



def result_missing_modes(result: MeasureResult, topics: Mapping[int, str]
                         ) -> list[MissingMode]:
    """Every run's missing modes on every prompt of a measurement set (runs in group order,
    prompts by key, largest share first)."""
    by_prompt: dict[str | None, list[dict[str, Any]]] = {}
    for r in result.rows:
        if r["attribute"] == ATTRIBUTE and str(r["stat"]).startswith(PREFIX):
            by_prompt.setdefault(r["prompt"], []).append(r)
    order = {g.key: i for i, g in enumerate(result.groups)}
    out: list[MissingMode] = []
    for prompt in sorted(p for p in by_prompt if p is not None):
        for modes in modes_from_rows(by_prompt[prompt], prompt, topics).values():
            out.extend(modes)
    out.sort(key=lambda m: (order.get(m.run_key, 1 << 30), m.prompt, -m.share,
                            _order(m.topic)))
    return out
