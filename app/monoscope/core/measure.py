"""Measure stage: per-prompt and aggregate monoculture metrics, source vs each run.

For every prompt and group (the source texts, or one run's generations) and every attribute it
computes the set statistics of `monoscope.metrics` (mean, std, entropy, pairwise similarity);
for each run it compares with the source of the same prompt (monoculture index = generated
dispersion / source dispersion, difference of means, Wasserstein-1, KS, Mann-Whitney U);
then averages over prompts like the paper's tables, with bootstrap CIs. The JSON layout is
documented in docs/measure-schema.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from monoscope import metrics
from monoscope.core.errors import MonoscopeError
from monoscope.core.frames import (
    DEFAULT_BACKEND,
    DEFAULT_EMBEDDING,
    arrow,
    column,
    load_attributes,
    load_embeddings,
    load_texts,
    resolve_dataset,
)
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

SCHEMA = "monoscope.measure/1"
EMBEDDING = "embedding"  # pseudo-attribute name for the embedding measures
SET_ATTRIBUTES = ("code.algorithms", "code.data_structures")
BINARY = frozenset({"POSITIVE", "NEGATIVE"})
# Which statistic is the dispersion behind the monoculture index, by attribute kind.
DISPERSION = {"categorical": "entropy", "numeric": "std", "set": "jaccard_dispersion",
              "embedding": "cosine_dispersion"}


class MeasureError(MonoscopeError):
    """A measure request names runs or attributes the study does not have."""


@dataclass(frozen=True)
class MeasureRequest:
    dataset: str | None = None
    runs: tuple[str, ...] = ()  # run ids or labels; empty = every run of the dataset
    attributes: tuple[str, ...] = ()  # empty = every attribute present (+ embedding)
    ppl_max: float | None = None  # the paper's filter: keep generations with 0 < ppl <= ppl_max
    embedding_model: str = DEFAULT_EMBEDDING
    backend: str = DEFAULT_BACKEND
    coverage_k: int = 5
    wording: bool = True
    n_boot: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class Group:
    key: str  # "source" or "run:<id>"
    label: str
    run_id: int | None = None
    model: str | None = None
    sampling: dict[str, Any] = field(default_factory=dict)


@dataclass
class MeasureResult:
    dataset: str
    kind: str
    request: MeasureRequest
    groups: list[Group]
    prompts: list[dict[str, Any]]
    attributes: dict[str, str]  # name -> kind
    per_prompt: list[dict[str, Any]]
    aggregate: list[dict[str, Any]]
    wording: list[dict[str, Any]]
    filtered_out: dict[str, int]  # group key -> generations dropped by the perplexity filter

    def to_dict(self) -> dict[str, Any]:
        out = {
            "schema": SCHEMA,
            "dataset": self.dataset,
            "kind": self.kind,
            "filter": {"ppl_max": self.request.ppl_max, "dropped": self.filtered_out},
            "embedding": {"model": self.request.embedding_model, "backend": self.request.backend,
                          "coverage_k": self.request.coverage_k},
            "groups": [g.__dict__ for g in self.groups],
            "prompts": self.prompts,
            "attributes": self.attributes,
            "per_prompt": self.per_prompt,
            "aggregate": self.aggregate,
            "wording": self.wording,
        }
        return _clean(out)  # type: ignore[no-any-return]

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def rows(self, attribute: str, group: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.per_prompt if r["attribute"] == attribute
                and (group is None or r["group"] == group)]

    def agg(self, group: str, attribute: str, stat: str) -> dict[str, Any] | None:
        return next((a for a in self.aggregate if a["group"] == group
                     and a["attribute"] == attribute and a["stat"] == stat), None)


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return f if math.isfinite(f) else None
    return obj


# -- inputs --------------------------------------------------------------------------------
def resolve_runs(study: Study, dataset_id: int, wanted: Sequence[str]) -> list[Group]:
    """Source group plus the runs named (by id or label), or every run of the dataset."""
    rows = study.query(
        "SELECT r.id, r.label, r.sampling, m.name AS model FROM runs r "
        "LEFT JOIN models m ON m.id = r.model_id WHERE r.dataset_id = ? ORDER BY r.id",
        [dataset_id])
    by_key = {str(r["id"]): r for r in rows} | {str(r["label"]): r for r in rows}
    chosen = rows
    if wanted:
        missing = [w for w in wanted if w not in by_key]
        if missing:
            known = ", ".join(f"{r['id']} ({r['label']})" for r in rows) or "none"
            raise MeasureError(f"No run {', '.join(missing)} in this dataset. Runs: {known}.")
        chosen = list({int(by_key[w]["id"]): by_key[w] for w in wanted}.values())
    groups = [Group("source", "source")]
    for r in chosen:
        sampling = json.loads(r["sampling"]) if r["sampling"] else {}
        groups.append(Group(f"run:{r['id']}", str(r["label"]), int(r["id"]), r["model"], sampling))
    return groups


def attribute_kind(name: str, labels: npt.NDArray[Any], values: npt.NDArray[np.float64]) -> str:
    if name in SET_ATTRIBUTES:
        return "set"
    if name == "topic" or any(lab is not None for lab in labels[:1000]):
        return "categorical"
    return "numeric"


def _stats(kind: str, name: str, values: npt.NDArray[np.float64],
           labels: npt.NDArray[Any]) -> dict[str, Any]:
    """Set statistics of one attribute over one prompt's texts of one group."""
    out: dict[str, Any] = {"n": int(values.size)}
    finite = values[np.isfinite(values)]
    if finite.size and name != "topic":  # topic ids are categories, not quantities
        out["mean"] = float(finite.mean())
        out["std"] = metrics.std(finite)
    if kind == "categorical":
        cats = values.tolist() if name == "topic" else [lab for lab in labels if lab is not None]
        out["entropy"] = metrics.entropy(cats) + 0.0  # no -0.0 in tables
        out["distinct"] = len(set(cats))
        if cats and set(cats) <= BINARY:
            out["share_positive"] = sum(c == "POSITIVE" for c in cats) / len(cats)
        if name == "code.correct" and cats:
            out["accuracy"] = sum(c == "pass" for c in cats) / len(cats)
    elif kind == "set":
        sets = [frozenset(t for t in (lab or "").split(";") if t) for lab in labels]
        out["jaccard"] = metrics.mean_pairwise_jaccard(sets)
        out["jaccard_dispersion"] = 1.0 - out["jaccard"]
    out["dispersion"] = out.get(DISPERSION[kind], math.nan)
    return out


def _compare(kind: str, src: dict[str, Any], gen: dict[str, Any], src_values: npt.NDArray[Any],
             gen_values: npt.NDArray[Any]) -> dict[str, Any]:
    d_src, d_gen = src.get("dispersion", math.nan), gen.get("dispersion", math.nan)
    out: dict[str, Any] = {"monoculture_index": _ratio(d_gen, d_src)}
    if kind in ("numeric", "categorical", "set") and np.isfinite(src_values).any() \
            and np.isfinite(gen_values).any():
        out["diff_of_means"] = metrics.diff_of_means(src_values, gen_values)
        out["wasserstein"] = metrics.wasserstein(src_values, gen_values)
        k = metrics.ks(src_values, gen_values)
        out["ks"], out["ks_p"] = k.statistic, k.pvalue
        out["mannwhitney_p"] = metrics.mann_whitney(src_values, gen_values).pvalue
    return out


def _ratio(gen: float, src: float) -> float:
    if not (math.isfinite(gen) and math.isfinite(src)):
        return math.nan
    if src == 0:
        return 1.0 if gen == 0 else math.inf
    return gen / src


# -- stage ---------------------------------------------------------------------------------
def measure(study: Study, request: MeasureRequest, state: TaskState) -> MeasureResult:
    """Compute every metric of the request; read-only on the study.

    BLAS runs single-threaded here: the matrices are small (one prompt's texts), and OpenBLAS
    threads on a busy 2-core machine made this stage ~15x slower (benchmarks/bench_measure.py).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _measure(study, request, state)


def _measure(study: Study, request: MeasureRequest, state: TaskState) -> MeasureResult:
    dataset_id, dataset = resolve_dataset(study, request.dataset)
    kind = str(study.scalar("SELECT kind FROM datasets WHERE id = ?", [dataset_id]))
    groups = resolve_runs(study, dataset_id, request.runs)
    prompts = study.query("SELECT id, key, title FROM prompts WHERE dataset_id = ? ORDER BY id",
                          [dataset_id])
    texts = load_texts(study, dataset_id)
    # group index per text: 0 = source, i = groups[i]; -1 = not measured (other run, filtered)
    gidx = np.full(len(texts), -1, dtype=np.int64)
    gidx[texts.is_source] = 0
    dropped: dict[str, int] = {}
    for i, g in enumerate(groups[1:], start=1):
        sel = texts.run_id == g.run_id
        if request.ppl_max is not None:
            keep = metrics.perplexity_mask(texts.perplexity, request.ppl_max)
            dropped[g.key] = int((sel & ~keep).sum())
            sel &= keep
        gidx[sel] = i
    attrs = load_attributes(study, dataset_id, request.attributes or None)
    names = sorted(set(attrs.name.tolist()))
    want_embedding = not request.attributes or EMBEDDING in request.attributes
    total = len(names) + int(want_embedding) + int(request.wording)
    state.begin("measure", total=total)
    kinds: dict[str, str] = {}
    per_prompt: list[dict[str, Any]] = []
    pooled: list[dict[str, Any]] = []
    prompt_pos = {int(p["id"]): j for j, p in enumerate(prompts)}
    for step, name in enumerate(names):
        state.check()
        sel = attrs.name == name
        a_ids, a_val, a_lab = attrs.text_id[sel], attrs.value[sel], attrs.label[sel]
        kinds[name] = attribute_kind(name, a_lab, a_val)
        pos = np.searchsorted(texts.text_id, a_ids)
        per_prompt += _attribute_rows(name, kinds[name], texts.prompt_id[pos], gidx[pos],
                                      a_val, a_lab, prompts, prompt_pos, groups)
        if kinds[name] == "categorical":
            pooled += _pooled_distinct(name, gidx[pos], a_val, a_lab, groups)
        state.progress(step + 1, total, name)
    if want_embedding:
        state.check()
        rows = _embedding_rows(study, request, dataset_id, texts.text_id, texts.prompt_id,
                               gidx, prompts, groups)
        if rows:
            kinds[EMBEDDING] = "embedding"
            per_prompt += rows
        state.progress(len(names) + 1, total, EMBEDDING)
    wording = _wording(study, dataset_id, texts.text_id, gidx, groups) if request.wording else []
    state.progress(total, total, "aggregate")
    aggregate = _aggregate(per_prompt, groups, kinds, request) + pooled
    return MeasureResult(dataset, kind, request, groups,
                         [{"id": int(p["id"]), "key": p["key"], "title": p["title"]}
                          for p in prompts], kinds, per_prompt, aggregate, wording, dropped)


def _split(prompt_ids: npt.NDArray[np.int64], gidx: npt.NDArray[np.int64], n_groups: int,
           prompt_pos: dict[int, int], n_prompts: int) -> list[list[npt.NDArray[np.int64]]]:
    """Row indices per (prompt, group) in one pass."""
    cells: list[list[list[int]]] = [[[] for _ in range(n_groups)] for _ in range(n_prompts)]
    for i, (p, g) in enumerate(zip(prompt_ids.tolist(), gidx.tolist(), strict=True)):
        if g >= 0:
            cells[prompt_pos[p]][g].append(i)
    return [[np.asarray(c, dtype=np.int64) for c in row] for row in cells]


def _attribute_rows(name: str, kind: str, prompt_ids: npt.NDArray[np.int64],
                    gidx: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
                    labels: npt.NDArray[Any], prompts: list[dict[str, Any]],
                    prompt_pos: dict[int, int], groups: list[Group]) -> list[dict[str, Any]]:
    rows = []
    cells = _split(prompt_ids, gidx, len(groups), prompt_pos, len(prompts))
    tests = np.full_like(values, np.nan) if name == "topic" else values  # ids: no ordering
    for p, prow in zip(prompts, cells, strict=True):
        src = None
        for g, idx in zip(groups, prow, strict=True):
            if idx.size == 0:
                continue
            st = _stats(kind, name, values[idx], labels[idx])
            if g.run_id is None:
                src = (st, _comparable(kind, tests[prow[0]], labels[prow[0]]))
            elif src is not None:
                st |= _compare(kind, src[0], st, src[1], _comparable(kind, tests[idx], labels[idx]))
            rows.append({"prompt": p["key"], "group": g.key, "attribute": name, **st})
    return rows


def _pooled_distinct(name: str, gidx: npt.NDArray[np.int64], values: npt.NDArray[np.float64],
                     labels: npt.NDArray[Any], groups: list[Group]) -> list[dict[str, Any]]:
    """Distinct categories over all prompts of a group (the paper's pooled topic count)."""
    cats = values if name == "topic" else labels
    out = []
    for i, g in enumerate(groups):
        sel = gidx == i
        if sel.any():
            k = len({c for c in cats[sel].tolist() if c is not None})
            out.append({"group": g.key, "attribute": name, "stat": "pooled_distinct",
                        "mean": float(k), "ci_low": None, "ci_high": None, "n": int(sel.sum())})
    return out


def _comparable(kind: str, values: npt.NDArray[np.float64], labels: npt.NDArray[Any]
                ) -> npt.NDArray[np.float64]:
    """Per-text numbers for the two-sample tests (binary labels as 1/0 when values are absent)."""
    if np.isfinite(values).any():
        return values
    if kind == "categorical" and {lab for lab in labels if lab is not None} <= BINARY:
        return np.array([1.0 if lab == "POSITIVE" else 0.0 if lab else math.nan
                         for lab in labels])
    return values


def _embedding_rows(study: Study, req: MeasureRequest, dataset_id: int,
                    text_ids: npt.NDArray[np.int64], prompt_ids: npt.NDArray[np.int64],
                    gidx: npt.NDArray[np.int64], prompts: list[dict[str, Any]],
                    groups: list[Group]) -> list[dict[str, Any]]:
    ids, vecs = load_embeddings(study, dataset_id, None, req.embedding_model, req.backend)
    if ids.size == 0:
        return []
    pos = np.searchsorted(text_ids, ids)
    prompt_pos = {int(p["id"]): j for j, p in enumerate(prompts)}
    cells = _split(prompt_ids[pos], gidx[pos], len(groups), prompt_pos, len(prompts))
    rows = []
    for p, prow in zip(prompts, cells, strict=True):
        src_v = vecs[prow[0]]
        src_disp = math.nan
        for g, idx in zip(groups, prow, strict=True):
            if idx.size == 0:
                continue
            v = vecs[idx]
            cos = metrics.mean_pairwise_cosine(v) if idx.size > 1 else math.nan
            row: dict[str, Any] = {"prompt": p["key"], "group": g.key, "attribute": EMBEDDING,
                                   "n": int(idx.size), "mean_pairwise_cosine": cos,
                                   "vendi": metrics.vendi_score(v), "dispersion": 1.0 - cos}
            if g.run_id is None:
                src_disp = row["dispersion"]
            elif src_v.shape[0]:
                row["monoculture_index"] = _ratio(row["dispersion"], src_disp)
                row["coverage"] = metrics.coverage(src_v, v, req.coverage_k)
                row["precision"] = metrics.precision(src_v, v, req.coverage_k)
            rows.append(row)
    return rows


def _wording(study: Study, dataset_id: int, text_ids: npt.NDArray[np.int64],
             gidx: npt.NDArray[np.int64], groups: list[Group]) -> list[dict[str, Any]]:
    """The paper's corpus-level wording measures per group (unigram entropy, vocabulary)."""
    tab = arrow(study, "SELECT t.id, t.body FROM texts t JOIN prompts p ON p.id = t.prompt_id "
                "WHERE p.dataset_id = ? ORDER BY t.id", [dataset_id])
    ids = column(tab, "id", np.int64)
    bodies = tab.column("body").combine_chunks().to_pylist()
    g_of = gidx[np.searchsorted(text_ids, ids)]
    counts = [metrics.unigram_counts(b for b, g in zip(bodies, g_of.tolist(), strict=True)
                                     if g == i) for i in range(len(groups))]
    out = []
    for i, g in enumerate(groups):
        out.append({"group": g.key, "n_texts": int((g_of == i).sum()),
                    "unigram_entropy": metrics.unigram_entropy(counts[i]),
                    "vocabulary": metrics.vocabulary_size(counts[i]),
                    "count_cosine_to_source": metrics.count_cosine(counts[0], counts[i])})
    return out


AGG_STATS = ("mean", "std", "entropy", "share_positive", "accuracy", "jaccard",
             "mean_pairwise_cosine", "vendi", "coverage", "precision", "monoculture_index",
             "diff_of_means", "wasserstein")


def _aggregate(per_prompt: list[dict[str, Any]], groups: list[Group], kinds: dict[str, str],
               req: MeasureRequest) -> list[dict[str, Any]]:
    """Mean over prompts of each per-prompt statistic (the paper's table entries) with CIs."""
    out = []
    for name in kinds:
        for g in groups:
            rows = [r for r in per_prompt if r["attribute"] == name and r["group"] == g.key]
            if not rows:
                continue
            for stat in AGG_STATS:
                vals = [r[stat] for r in rows if stat in r]
                if not vals:
                    continue
                arr = np.asarray(vals, dtype=np.float64)
                if stat == "monoculture_index":
                    arr = np.where(np.isinf(arr), np.nan, arr)  # undefined where source is uniform
                a = metrics.aggregate(arr, n_boot=req.n_boot, seed=req.seed)
                out.append({"group": g.key, "attribute": name, "stat": stat, **a.as_dict()})
    return out


def per_prompt_table(study: Study, dataset: str | None, attribute: str,
                     run_ids: Sequence[int] = (), ppl_max: float | None = None
                     ) -> list[dict[str, Any]]:
    """One row per prompt for the GUI: source n and dispersion, and per run n, dispersion and
    monoculture index; sorted by the mean index over the runs (narrowest first)."""
    req = MeasureRequest(dataset=dataset, runs=tuple(str(r) for r in run_ids),
                         attributes=(attribute,), ppl_max=ppl_max, wording=False, n_boot=10)
    res = measure(study, req, TaskState())
    table: dict[str, dict[str, Any]] = {
        p["key"]: {"prompt": p["key"], "title": p["title"], "n_source": 0} for p in res.prompts}
    for r in res.rows(attribute):
        row = table[r["prompt"]]
        if r["group"] == "source":
            row["n_source"], row["source_dispersion"] = r["n"], r.get("dispersion")
        else:
            row[f"n[{r['group']}]"] = r["n"]
            row[f"dispersion[{r['group']}]"] = r.get("dispersion")
            row[f"index[{r['group']}]"] = r.get("monoculture_index")
    out = list(table.values())
    for row in out:
        idx = [v for k, v in row.items() if k.startswith("index[") and v is not None
               and math.isfinite(v)]
        row["monoculture_index"] = float(np.mean(idx)) if idx else math.nan
    out.sort(key=lambda r: (math.isnan(r["monoculture_index"]), r["monoculture_index"]))
    return out
