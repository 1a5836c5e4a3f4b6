"""Read-only store queries behind the explorer: prompt table, map points, attributes, text detail.

Every function takes the open `Study` and reads through a fresh cursor (so it is safe in a
worker thread) and returns numpy arrays or plain dicts; nothing here writes to the study.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from monoscope.core.store import Study
from monoscope.core.store.frames import arrow, column, matrix

I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

# Attributes whose value is a category id (histograms draw them as categories).
CATEGORICAL = {"topic"}
EMBEDDING_ATTRIBUTE = "embedding"  # pseudo-attribute: cosine dispersion of the embeddings


@dataclass(frozen=True)
class RunInfo:
    id: int
    label: str
    model: str
    status: str
    sampling: dict[str, Any]
    n_texts: int


def datasets(study: Study) -> list[dict[str, Any]]:
    """Datasets with their prompt counts, oldest first."""
    return study.query(
        "SELECT d.id, d.name, d.kind, count(p.id) AS n_prompts FROM datasets d "
        "LEFT JOIN prompts p ON p.dataset_id = d.id GROUP BY ALL ORDER BY d.id"
    )


def runs(study: Study, dataset_id: int) -> list[RunInfo]:
    """Runs of a dataset with model name and number of generated texts, by id."""
    rows = study.query(
        "SELECT r.id, r.label, coalesce(m.name, r.engine) AS model, r.status, r.sampling, "
        "(SELECT count(*) FROM texts t WHERE t.run_id = r.id) AS n FROM runs r "
        "LEFT JOIN models m ON m.id = r.model_id WHERE r.dataset_id = ? ORDER BY r.id",
        [dataset_id],
    )
    return [
        RunInfo(int(r["id"]), str(r["label"]), str(r["model"]), str(r["status"]),
                json.loads(r["sampling"]) if r["sampling"] else {}, int(r["n"]))
        for r in rows
    ]


def attribute_names(study: Study, dataset_id: int) -> list[str]:
    """Attribute names present for the dataset, plus `embedding` when vectors exist."""
    names = [
        str(r["name"]) for r in study.query(
            "SELECT DISTINCT a.name FROM attributes a JOIN texts t ON t.id = a.text_id "
            "JOIN prompts p ON p.id = t.prompt_id WHERE p.dataset_id = ? ORDER BY a.name",
            [dataset_id])
    ]
    if embedding_key(study) is not None:
        names.append(EMBEDDING_ATTRIBUTE)
    return names


def default_attribute(names: list[str]) -> str | None:
    """The attribute the prompt table ranks by first: sentiment, else embeddings, else any."""
    for pref in ("sentiment.head", "sentiment.vader", EMBEDDING_ATTRIBUTE, "code.algorithms"):
        if pref in names:
            return pref
    return names[0] if names else None


def embedding_key(study: Study) -> tuple[str, str] | None:
    """(model, backend) of the embeddings to use: MiniLM/torch if present, else the most common."""
    rows = study.query(
        "SELECT model, backend, count(*) AS n FROM embeddings GROUP BY model, backend "
        "ORDER BY (model = 'all-MiniLM-L6-v2') DESC, (backend = 'torch') DESC, n DESC LIMIT 1"
    )
    return (str(rows[0]["model"]), str(rows[0]["backend"])) if rows else None


@dataclass
class PromptTable:
    """One row per prompt; the per-run columns hold the measure stage's stored numbers.

    ``index`` is the run's monoculture index at matched n (``matched_n`` texts per side),
    ``human_lo``/``human_hi`` the range of indices people score against themselves at that n
    (NaN where the source had to be used whole). ``measured`` is False when the study has no
    current measurements (then every number is NaN and the table shows counts only).
    """

    attribute: str | None
    prompt_id: I64
    key: list[str]
    title: list[str]
    n_source: I64
    runs: list[RunInfo]
    n_generated: I64  # (n_prompts, n_runs)
    source_dispersion: F64  # whole source set of the prompt
    dispersion: F64  # (n_prompts, n_runs): run at matched n
    index: F64  # (n_prompts, n_runs): generated / source dispersion at matched n; < 1 narrower
    matched_n: I64 = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    human_lo: F64 = field(default_factory=lambda: np.zeros((0, 0)))
    human_hi: F64 = field(default_factory=lambda: np.zeros((0, 0)))
    measured: bool = False

    def __len__(self) -> int:
        return len(self.key)


def prompt_table(study: Study, dataset_id: int, attribute: str | None,
                 set_id: int | None = None) -> PromptTable:
    """Counts per prompt and run, and the stored measurements of ``attribute`` (set ``set_id``,
    from `monoscope.core.analysis.measure`); computes no statistic."""
    from monoscope.core.store import measurements as repo

    run_list = runs(study, dataset_id)
    run_pos = {f"run:{r.id}": i for i, r in enumerate(run_list)}
    tab = arrow(study, """
        SELECT p.id, p.key, p.title,
               count(t.id) FILTER (WHERE t.origin = 'source') AS n_src
        FROM prompts p LEFT JOIN texts t ON t.prompt_id = p.id
        WHERE p.dataset_id = ? GROUP BY ALL ORDER BY p.id""", [dataset_id])
    pids = column(tab, "id", np.int64)
    pos = {int(p): i for i, p in enumerate(pids)}
    shape = (len(pids), len(run_list))
    n_gen = np.zeros(shape, dtype=np.int64)
    for r in study.query(
        "SELECT t.prompt_id, t.run_id, count(*) AS n FROM texts t JOIN prompts p "
        "ON p.id = t.prompt_id WHERE p.dataset_id = ? AND t.origin = 'generated' GROUP BY ALL",
        [dataset_id],
    ):
        j = run_pos.get(f"run:{r['run_id']}")
        if j is not None:
            n_gen[pos[int(r["prompt_id"])], j] = int(r["n"])
    src_disp = np.full(len(pids), np.nan)
    disp, index = np.full(shape, np.nan), np.full(shape, np.nan)
    lo, hi = np.full(shape, np.nan), np.full(shape, np.nan)
    matched = np.zeros(shape, dtype=np.int64)
    if attribute and set_id is not None:
        for r in repo.load_prompt_rows(study, set_id, attribute):
            i = pos.get(int(r["prompt_id"]))
            if i is None:
                continue
            v = np.nan if r["value"] is None else float(r["value"])
            if r["ref"] == "":
                if r["grp"] == "source" and r["stat"] == "dispersion":
                    src_disp[i] = v
                continue
            j = run_pos.get(str(r["ref"]))
            if j is None:
                continue
            if r["grp"] == r["ref"]:
                if r["stat"] == "index":
                    index[i, j] = v
                    matched[i, j] = int(r["n"] or 0)
                elif r["stat"] == "dispersion":
                    disp[i, j] = v
            elif r["stat"] == "index":  # the human baseline at the same n
                lo[i, j] = np.nan if r["lo"] is None else float(r["lo"])
                hi[i, j] = np.nan if r["hi"] is None else float(r["hi"])
    return PromptTable(
        attribute=attribute, prompt_id=pids,
        key=[str(k) for k in tab.column("key").to_pylist()],
        title=[str(k) for k in tab.column("title").to_pylist()],
        n_source=column(tab, "n_src", np.int64), runs=run_list, n_generated=n_gen,
        source_dispersion=src_disp, dispersion=disp, index=index, matched_n=matched,
        human_lo=lo, human_hi=hi, measured=set_id is not None,
    )


def prompt_measurements(study: Study, set_id: int, prompt_key: str | None,
                        dataset_id: int) -> list[dict[str, Any]]:
    """Stored rows of one prompt (or the dataset aggregates when None), without curves."""
    if prompt_key is None:
        return study.query(
            "SELECT grp, ref, attribute, stat, n, prompts, draws, value, sd, lo, hi "
            "FROM measurements WHERE set_id = ? AND prompt_id IS NULL "
            "AND ref NOT LIKE 'acc%'", [set_id])
    return study.query(
        "SELECT m.grp, m.ref, m.attribute, m.stat, m.n, m.prompts, m.draws, m.value, m.sd, "
        "m.lo, m.hi FROM measurements m JOIN prompts p ON p.id = m.prompt_id "
        "WHERE m.set_id = ? AND p.dataset_id = ? AND p.key = ? AND m.ref NOT LIKE 'acc%'",
        [set_id, dataset_id, prompt_key])


@dataclass
class Points:
    """Map points of one scope, aligned by position; ``group`` 0 = source, i = runs[i-1]."""

    projection_id: int
    method: str
    text_id: I64
    x: F32
    y: F32
    group: npt.NDArray[np.int8]
    run_ids: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.text_id.size)


def find_projection(study: Study, dataset_id: int, scope: str) -> tuple[int, str] | None:
    """Newest projection of a scope (UMAP preferred) as (id, method)."""
    rows = study.query(
        "SELECT id, method FROM projections WHERE dataset_id = ? AND scope = ? "
        "ORDER BY (method = 'umap') DESC, id DESC LIMIT 1", [dataset_id, scope])
    return (int(rows[0]["id"]), str(rows[0]["method"])) if rows else None


def points(study: Study, dataset_id: int, prompt_key: str | None = None) -> Points | None:
    """Points of a prompt's own map (or the dataset map filtered to it), or of the dataset."""
    run_ids = [r.id for r in runs(study, dataset_id)]
    proj = None
    if prompt_key is not None:
        proj = find_projection(study, dataset_id, f"prompt:{prompt_key}")
    only_prompt = prompt_key is not None and proj is None
    if proj is None:
        proj = find_projection(study, dataset_id, "dataset")
    if proj is None:
        return None
    sql = ("SELECT pp.text_id, pp.x, pp.y, coalesce(t.run_id, -1) AS run_id "
           "FROM projection_points pp JOIN texts t ON t.id = pp.text_id "
           "WHERE pp.projection_id = ?")
    params: list[Any] = [proj[0]]
    if only_prompt:
        sql += " AND t.prompt_id = (SELECT id FROM prompts WHERE dataset_id = ? AND key = ?)"
        params += [dataset_id, prompt_key]
    tab = arrow(study, sql + " ORDER BY pp.text_id", params)
    rid = column(tab, "run_id", np.int64)
    lookup = np.zeros(max([0, *run_ids]) + 2, dtype=np.int8)
    for i, r in enumerate(run_ids):
        lookup[r] = i + 1
    group = np.where(rid < 0, 0, lookup[np.clip(rid, 0, len(lookup) - 1)]).astype(np.int8)
    return Points(
        projection_id=proj[0], method=proj[1], text_id=column(tab, "text_id", np.int64),
        x=column(tab, "x", np.float64).astype(np.float32),
        y=column(tab, "y", np.float64).astype(np.float32), group=group, run_ids=run_ids)


def attribute_values(study: Study, text_ids: I64, name: str) -> tuple[F64, list[Any]]:
    """Values (NaN where missing) and labels of one attribute, aligned with ``text_ids``."""
    tab = arrow(study, "SELECT text_id, value, label FROM attributes WHERE name = ? "
                "AND text_id BETWEEN ? AND ? ORDER BY text_id",
                [name, int(text_ids.min()) if len(text_ids) else 0,
                 int(text_ids.max()) if len(text_ids) else -1])
    ids = column(tab, "text_id", np.int64)
    vals = column(tab, "value", np.float64)
    labels = tab.column("label").to_pylist()
    out = np.full(len(text_ids), np.nan)
    out_labels = np.full(len(text_ids), None, dtype=object)
    if len(ids):
        at = np.clip(np.searchsorted(ids, text_ids), 0, len(ids) - 1)
        hit = ids[at] == text_ids
        out[hit] = vals[at[hit]]
        out_labels[hit] = np.asarray(labels, dtype=object)[at[hit]]
    return out, out_labels.tolist()


def topic_labels(study: Study, dataset_id: int) -> dict[int, str]:
    return {int(r["topic"]): str(r["label"]) for r in study.query(
        "SELECT topic, label FROM topics WHERE dataset_id = ?", [dataset_id])}


def snippet(study: Study, text_id: int, length: int = 160) -> str:
    body = study.scalar("SELECT left(body, ?) FROM texts WHERE id = ?", [length + 1, text_id])
    text = " ".join(str(body or "").split())
    return text if len(text) <= length else text[: length - 1] + "…"


def text_detail(study: Study, text_id: int) -> dict[str, Any] | None:
    """A text in full with its prompt, attributes and (for generated texts) provenance."""
    rows = study.query("""
        SELECT t.id, t.origin, t.run_id, t.sample_index, t.body, t.label, t.rating,
               p.key AS prompt_key, p.title AS prompt_title, p.dataset_id,
               r.label AS run_label, r.sampling, r.template, r.engine, m.name AS model,
               g.seed, g.params, g.n_tokens, g.n_prompt_tokens, g.finish_reason,
               g.perplexity, g.mean_logprob, g.wall_ms
        FROM texts t JOIN prompts p ON p.id = t.prompt_id
        LEFT JOIN runs r ON r.id = t.run_id LEFT JOIN models m ON m.id = r.model_id
        LEFT JOIN generations g ON g.text_id = t.id WHERE t.id = ?""", [text_id])
    if not rows:
        return None
    d = rows[0]
    for k in ("sampling", "params"):
        d[k] = json.loads(d[k]) if d.get(k) else None
    d["attributes"] = {
        str(r["name"]): {"value": r["value"], "label": r["label"]}
        for r in study.query("SELECT name, value, label FROM attributes WHERE text_id = ? "
                             "ORDER BY name", [text_id])
    }
    return d


def _prompt_vectors(study: Study, prompt_id: int) -> tuple[I64, I64, F32]:
    """(text ids, run id or -1, unit embedding rows) of one prompt's texts."""
    key = embedding_key(study)
    if key is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    tab = arrow(study, """
        SELECT t.id, coalesce(t.run_id, -1) AS run_id, e.vector FROM texts t
        JOIN embeddings e ON e.content_hash = t.content_hash AND e.model = ? AND e.backend = ?
        WHERE t.prompt_id = ? ORDER BY t.id""", [*key, prompt_id])
    vecs = matrix(tab)
    if vecs.size:
        vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    return column(tab, "id", np.int64), column(tab, "run_id", np.int64), vecs


def nearest_source(study: Study, text_id: int, k: int = 5) -> list[dict[str, Any]]:
    """The k source texts of the same prompt closest in cosine to this text."""
    pid = study.scalar("SELECT prompt_id FROM texts WHERE id = ?", [text_id])
    if pid is None:
        return []
    ids, rid, vecs = _prompt_vectors(study, int(pid))
    me = np.flatnonzero(ids == text_id)
    if not len(me):
        return []
    src = np.flatnonzero((rid < 0) & (ids != text_id))
    sims = vecs[src] @ vecs[me[0]]
    order = np.argsort(-sims)[:k]
    return [{"text_id": int(ids[src[i]]), "similarity": float(sims[i]),
             "snippet": snippet(study, int(ids[src[i]]))} for i in order]


@dataclass
class Typicality:
    """Generated texts of a prompt with their distance to the source distribution."""

    text_id: I64
    run_id: I64
    centroid_distance: F64  # 1 - cos(text, source centroid)
    knn_distance: F64  # mean (1 - cos) to the k nearest source texts


def typicality(study: Study, prompt_id: int, run_id: int | None = None, k: int = 5) -> Typicality:
    """Distance of each generated text to the prompt's source texts (generic = small)."""
    ids, rid, vecs = _prompt_vectors(study, prompt_id)
    src = rid < 0
    gen = ~src if run_id is None else rid == run_id
    if not src.any() or not gen.any():
        empty = np.zeros(0)
        return Typicality(np.zeros(0, np.int64), np.zeros(0, np.int64), empty, empty)
    s, g = vecs[src], vecs[gen]
    c = s.mean(axis=0)
    c = c / max(float(np.linalg.norm(c)), 1e-12)
    sims = g @ s.T
    kk = min(k, s.shape[0])
    top = -np.sort(-sims, axis=1)[:, :kk]
    return Typicality(ids[gen], rid[gen], (1.0 - g @ c).astype(np.float64),
                      (1.0 - top.mean(axis=1)).astype(np.float64))


def generic_and_atypical(study: Study, prompt_id: int, run_id: int | None = None,
                         n: int = 8) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The n most generic (closest to the human texts) and n most atypical generated texts."""
    t = typicality(study, prompt_id, run_id)
    order = np.argsort(t.knn_distance)

    def rows(sel: Any) -> list[dict[str, Any]]:
        return [{"text_id": int(t.text_id[i]), "run_id": int(t.run_id[i]),
                 "distance": float(t.knn_distance[i]),
                 "snippet": snippet(study, int(t.text_id[i]), 120)} for i in sel]

    return rows(order[:n]), rows(order[::-1][:n])
