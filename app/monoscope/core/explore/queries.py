"""Read models behind the explorer: prompt table, map points, attributes, text detail.

Every function takes the open `Study` and reads through the store's repositories
(`monoscope.core.store.reads`, `.projections`, `.frames`), each on a cursor of the calling
thread (so it is safe in a worker), and returns numpy arrays, dataclasses or plain dicts;
nothing here writes to the study.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from monoscope.core.store import Study, reads
from monoscope.core.store import projections as maps_repo
from monoscope.core.store import runs as runs_repo
from monoscope.core.store import topics as topics_repo
from monoscope.core.store.frames import column, load_prompt_vectors

I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

EMBEDDING_ATTRIBUTE = "embedding"  # pseudo-attribute: cosine dispersion of the embeddings

T = TypeVar("T")
# small dataset-level reads every prompt switch needs (run labels, topic labels, which map
# is newest), kept per study until its next write (`Study.writes`): a switch then reads only
# the prompt's own rows
_SMALL: weakref.WeakKeyDictionary[Study, tuple[int, dict[tuple[Any, ...], Any]]] = (
    weakref.WeakKeyDictionary())


def _until_write(study: Study, key: tuple[Any, ...], read: Callable[[], T]) -> T:
    """``read()``'s value, reused until the study's next write (values are not copied:
    callers must not change them)."""
    writes = study.writes
    held = _SMALL.get(study)
    if held is None or held[0] != writes:
        held = (writes, {})
        _SMALL[study] = held
    cache = held[1]
    if key not in cache:
        cache[key] = read()
    return cache[key]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class RunInfo:
    id: int
    label: str
    model: str
    status: str
    sampling: dict[str, Any]
    n_texts: int


def runs(study: Study, dataset_id: int) -> list[RunInfo]:
    """Runs of a dataset with model name (else the engine) and number of generated texts."""
    return [RunInfo(r.id, r.label, r.engine if r.model is None else r.model, r.status, r.sampling, r.n_texts)
            for r in runs_repo.dataset_runs(study, dataset_id)]


def run_labels(study: Study, dataset_id: int) -> list[tuple[int, str]]:
    """(id, label) of the dataset's runs by id (no counts; reused until the next write)."""
    return list(_until_write(study, ("run_labels", dataset_id),
                             lambda: runs_repo.dataset_run_labels(study, dataset_id)))


def attribute_names(study: Study, dataset_id: int) -> list[str]:
    """Attribute names present for the dataset, plus `embedding` when vectors exist."""
    names = reads.attribute_names(study, dataset_id)
    if embedding_key(study) is not None:
        names.append(EMBEDDING_ATTRIBUTE)
    return names


def default_attribute(names: list[str]) -> str | None:
    """The attribute the prompt table ranks by first: the embeddings' spread (the index that
    separates prompts best at a few samples), else sentiment, else any."""
    for pref in (EMBEDDING_ATTRIBUTE, "sentiment.head", "sentiment.vader", "code.algorithms"):
        if pref in names:
            return pref
    return names[0] if names else None


def embedding_key(study: Study) -> tuple[str, str] | None:
    """(model, backend) of the embeddings to use: MiniLM/torch if present, else the most common."""
    return reads.preferred_embedding(study)


@dataclass
class PromptTable:
    """One row per prompt; the per-run columns hold the measure stage's stored numbers.

    ``index`` is the run's monoculture index at matched n (``matched_n`` texts per side),
    ``index_lo``/``index_hi`` the stored interval of that index when the measure stage wrote
    one (NaN otherwise), ``human_lo``/``human_hi`` the range of indices people score against
    themselves at that n (NaN where the source had to be used whole). ``measured`` is False
    when the study has no current measurements (then every number is NaN and the table shows
    counts only). ``coverage`` counts the runs with generated texts for each prompt.
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
    index_lo: F64 = field(default_factory=lambda: np.zeros((0, 0)))
    index_hi: F64 = field(default_factory=lambda: np.zeros((0, 0)))

    def __len__(self) -> int:
        return len(self.key)

    @property
    def coverage(self) -> I64:
        """Per prompt: how many runs have generated texts for it."""
        if not self.n_generated.size:
            return np.zeros(len(self.key), dtype=np.int64)
        counts: I64 = np.count_nonzero(self.n_generated > 0, axis=1).astype(np.int64)
        return counts


def prompt_table(study: Study, dataset_id: int, attribute: str | None,
                 set_id: int | None = None) -> PromptTable:
    """Counts per prompt and run, and the stored measurements of ``attribute`` (set ``set_id``,
    from `monoscope.core.analysis.measure`); computes no statistic."""
    from monoscope.core.store import measurements as repo

    run_list = runs(study, dataset_id)
    run_pos = {f"run:{r.id}": i for i, r in enumerate(run_list)}
    tab = reads.prompt_source_counts(study, dataset_id)
    pids = column(tab, "id", np.int64)
    pos = {int(p): i for i, p in enumerate(pids)}
    shape = (len(pids), len(run_list))
    n_gen = np.zeros(shape, dtype=np.int64)
    for r in reads.generated_counts(study, dataset_id):
        j = run_pos.get(f"run:{r['run_id']}")
        if j is not None:
            n_gen[pos[int(r["prompt_id"])], j] = int(r["n"])
    src_disp = np.full(len(pids), np.nan)
    disp, index = np.full(shape, np.nan), np.full(shape, np.nan)
    lo, hi = np.full(shape, np.nan), np.full(shape, np.nan)
    idx_lo, idx_hi = np.full(shape, np.nan), np.full(shape, np.nan)
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
                    idx_lo[i, j] = np.nan if r["lo"] is None else float(r["lo"])
                    idx_hi[i, j] = np.nan if r["hi"] is None else float(r["hi"])
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
        human_lo=lo, human_hi=hi, measured=set_id is not None, index_lo=idx_lo,
        index_hi=idx_hi,
    )


def prompt_measurements(study: Study, set_id: int, prompt_key: str | None,
                        dataset_id: int) -> list[dict[str, Any]]:
    """Stored rows of one prompt (or the dataset aggregates when None), without curves."""
    return reads.prompt_measurements(study, set_id, dataset_id, prompt_key)


@dataclass
class Points:
    """Map points of one scope, aligned by position (by text id); ``group`` 0 = source,
    i = runs[i-1]. The one read model of a stored map: the explorer, the compare view and
    the report all read maps through `points` / `scope_points`."""

    projection_id: int
    method: str
    text_id: I64
    x: F32
    y: F32
    group: npt.NDArray[np.int8]
    run_ids: list[int] = field(default_factory=list)
    run_id: I64 = field(default_factory=lambda: np.zeros(0, np.int64))  # -1 for source
    is_source: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    prompt_id: I64 = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return int(self.text_id.size)

    def xy(self, mask: npt.NDArray[np.bool_]) -> tuple[F64, F64]:
        """(x, y) of the selected points as float64 arrays."""
        return self.x[mask].astype(np.float64), self.y[mask].astype(np.float64)

    def by_group(self) -> dict[str, tuple[F64, F64]]:
        """Group key ('source' or 'run:<id>') -> (x, y) of its points; groups without points
        are left out."""
        out: dict[str, tuple[F64, F64]] = {}
        for rid in np.unique(self.run_id):
            key = "source" if rid < 0 else f"run:{int(rid)}"
            out[key] = self.xy(self.run_id == rid)
        return out


def scope_points(study: Study, dataset_id: int, scope: str = "dataset",
                 method: str | None = None, prompt_key: str | None = None) -> Points | None:
    """Points of the newest map of a scope ("dataset" or "prompt:<key>"; UMAP preferred unless
    ``method``), optionally only those of one prompt; None when the scope has no map."""
    proj = _until_write(study, ("newest_map", dataset_id, scope, method),
                        lambda: maps_repo.newest(study, dataset_id, scope, method))
    if proj is None:
        return None
    m = maps_repo.points(study, proj[0], prompt_key)
    run_ids = [rid for rid, _ in run_labels(study, dataset_id)]
    lookup = np.zeros(max([0, *run_ids]) + 2, dtype=np.int8)
    for i, r in enumerate(run_ids):
        lookup[r] = i + 1
    rid = m.run_id
    group = np.where(rid < 0, 0, lookup[np.clip(rid, 0, len(lookup) - 1)]).astype(np.int8)
    return Points(projection_id=proj[0], method=proj[1], text_id=m.text_id, x=m.x, y=m.y,
                  group=group, run_ids=run_ids, run_id=rid, is_source=m.is_source,
                  prompt_id=m.prompt_id)


def points(study: Study, dataset_id: int, prompt_key: str | None = None) -> Points | None:
    """Points of a prompt's own map (or the dataset map filtered to it), or of the dataset."""
    if prompt_key is not None:
        own = scope_points(study, dataset_id, f"prompt:{prompt_key}")
        if own is not None:
            return own
    return scope_points(study, dataset_id, "dataset", prompt_key=prompt_key)


def attribute_values(study: Study, text_ids: I64, name: str) -> tuple[F64, list[Any]]:
    """Values (NaN where missing) and labels of one attribute, aligned with ``text_ids``."""
    tab = reads.attribute_rows(study, name, int(text_ids.min()) if len(text_ids) else 0,
                               int(text_ids.max()) if len(text_ids) else -1)
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


def attributes_values(study: Study, text_ids: I64, names: Sequence[str]
                      ) -> dict[str, tuple[F64, list[Any]]]:
    """`attribute_values` of several attributes in one read: name -> (values, labels), only
    for the names some of these texts have."""
    tab = reads.attribute_rows_of(study, names, text_ids.tolist())
    name_col = np.asarray(tab.column("name").to_pylist(), dtype=object)
    ids_all = column(tab, "text_id", np.int64)
    vals_all = column(tab, "value", np.float64)
    labels_all = np.asarray(tab.column("label").to_pylist(), dtype=object)
    out: dict[str, tuple[F64, list[Any]]] = {}
    for name in names:
        sel = name_col == name
        if not sel.any():
            continue
        ids, vals, labels = ids_all[sel], vals_all[sel], labels_all[sel]
        values = np.full(len(text_ids), np.nan)
        out_labels = np.full(len(text_ids), None, dtype=object)
        at = np.clip(np.searchsorted(ids, text_ids), 0, len(ids) - 1)
        hit = ids[at] == text_ids
        values[hit] = vals[at[hit]]
        out_labels[hit] = labels[at[hit]]
        out[name] = (values, out_labels.tolist())
    return out


def topic_labels(study: Study, dataset_id: int) -> dict[int, str]:
    """Topic id -> label of the dataset's topics (reused until the next write)."""
    return dict(_until_write(study, ("topic_labels", dataset_id),
                             lambda: reads.topic_labels(study, dataset_id)))


def topic_fit(study: Study, dataset_id: int) -> str | None:
    """Which topic model produced the dataset's stored topics, as a sentence for the report
    ("BERTopic (…): 31 topics fitted on the source texts"), or None without a fit."""
    from monoscope.core.explore.labels import topic_model_label

    fit = topics_repo.fitted(study).get(dataset_id)
    if fit is None:
        return None
    return f"{topic_model_label(fit[0])}: {fit[1]} topics fitted on the source texts"


def snippet(study: Study, text_id: int, length: int = 160) -> str:
    """The start of a text on one line, at most ``length`` characters (hover and lists)."""
    return _one_line(reads.text_head(study, text_id, length + 1) or "", length)


def _one_line(head: str, length: int) -> str:
    text = " ".join(head.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def text_detail(study: Study, text_id: int, scorer_id: int | None = None
                ) -> dict[str, Any] | None:
    """A text in full with its prompt, attributes and (for generated texts) provenance; its
    token surprisal under its run's scorer, else ``scorer_id``, else the first
    (`likelihood.token_surprisal`)."""
    d = reads.text_row(study, text_id)
    if d is None:
        return None
    for k in ("sampling", "params"):
        d[k] = json.loads(d[k]) if d.get(k) else None
    d["attributes"] = {str(r["name"]): {"value": r["value"], "label": r["label"]}
                       for r in reads.text_attributes(study, text_id)}
    from monoscope.core.explore.likelihood import token_surprisal

    d["surprisal"] = token_surprisal(study, text_id, scorer_id)  # the model's view, if scored
    return d


def _prompt_vectors(study: Study, prompt_id: int) -> tuple[I64, I64, F32]:
    """(text ids, run id or -1, unit embedding rows) of one prompt's texts."""
    key = embedding_key(study)
    if key is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    ids, run_ids, vecs = load_prompt_vectors(study, prompt_id, *key)
    if vecs.size:
        vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    return ids, run_ids, vecs


def nearest_source(study: Study, text_id: int, k: int = 5,
                   among: Collection[int] | None = None) -> list[dict[str, Any]]:
    """The k source texts of the same prompt closest in cosine to this text (only those in
    ``among``, the explorer's selection, when given)."""
    pid = reads.text_prompt(study, text_id)
    if pid is None:
        return []
    ids, rid, vecs = _prompt_vectors(study, pid)
    me = np.flatnonzero(ids == text_id)
    if not len(me):
        return []
    src_mask = (rid < 0) & (ids != text_id)
    if among is not None:
        src_mask &= np.isin(ids, np.fromiter(among, dtype=np.int64))
    src = np.flatnonzero(src_mask)
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
                         n: int = 8, among: Collection[int] | None = None
                         ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The n most generic (closest to the human texts) and n most atypical generated texts
    (of those in ``among``, the explorer's selection, when given; the distances are to all
    the prompt's source texts either way)."""
    t = typicality(study, prompt_id, run_id)
    keep = (np.isin(t.text_id, np.fromiter(among, dtype=np.int64)) if among is not None
            else np.ones(len(t.text_id), bool))
    cand = np.flatnonzero(keep)
    order = cand[np.argsort(t.knn_distance[cand])]
    shown = [*order[:n], *order[::-1][:n]]
    heads = reads.text_heads(study, [int(t.text_id[i]) for i in shown], 121)

    def rows(sel: Any) -> list[dict[str, Any]]:
        return [{"text_id": int(t.text_id[i]), "run_id": int(t.run_id[i]),
                 "distance": float(t.knn_distance[i]),
                 "snippet": _one_line(heads.get(int(t.text_id[i]), ""), 120)} for i in sel]

    return rows(order[:n]), rows(order[::-1][:n])
