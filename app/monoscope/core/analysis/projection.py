"""Human-anchored maps: UMAP (or PCA) fitted on the source texts, generated texts transformed.

Fitting only on the human texts keeps every map of a dataset in one coordinate frame, so runs
and models stay comparable and adding a run never moves the source points. A projection is
keyed by a fingerprint of the texts it was fitted on plus its parameters; the same request on
an unchanged source set reuses the stored points and only places texts that are new.
Maps are stored through `monoscope.core.store.projections` and read back by the explorer's
read model (`monoscope.core.explore.queries.points` / `scope_points`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from monoscope.core.analysis.projection_models import Model, Pca, fit_umap, load_model, save_model
from monoscope.core.errors import MonoscopeError
from monoscope.core.store import Study
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store import projections as repo
from monoscope.core.store.frames import (
    DEFAULT_BACKEND,
    DEFAULT_EMBEDDING,
    AnalysisInputMissing,
    load_embeddings,
    load_texts,
    resolve_dataset,
)
from monoscope.core.tasks import TaskState

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

PCA_ONLY_BELOW = 15  # fewer source texts than this: UMAP's neighbour graph is meaningless
TRANSFORM_BATCH = 2000
PROJECTION_VERSION = "1"


class ProjectionError(MonoscopeError):
    """A projection request cannot be satisfied as asked."""


@dataclass(frozen=True)
class ProjectionRequest:
    """What to project. scopes: "dataset", "prompt:<key>", or "prompts" (every prompt)."""

    dataset: str | None = None
    scopes: tuple[str, ...] = ("dataset",)
    method: str = "auto"  # auto = PCA at once, then UMAP; "pca" or "umap" alone
    embedding_model: str = DEFAULT_EMBEDDING
    backend: str = DEFAULT_BACKEND
    seed: int = 42
    n_neighbors: int = 15
    min_dist: float = 0.1
    max_fit: int = 5000  # balance: fit on at most this many source texts, stratified by prompt

    def fit_params(self, method: str) -> dict[str, Any]:
        base: dict[str, Any] = {"version": PROJECTION_VERSION, "backend": self.backend}
        if method == "umap":
            base.update(seed=self.seed, n_neighbors=self.n_neighbors, min_dist=self.min_dist,
                        metric="cosine")
        return base


@dataclass
class ProjectionMap:
    """Coordinates of one stored projection: parallel arrays over its texts."""

    projection_id: int
    scope: str
    method: str
    cached: bool
    text_id: I64
    xy: F32
    n_fit: int
    n_placed: int  # texts placed with transform during this call
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProjectionResult:
    dataset: str
    maps: list[ProjectionMap]


def balanced_sample(groups: I64, max_total: int, seed: int) -> I64:
    """Indices of at most max_total items, the same quota for every group (water-filling).

    Keeps one prolific prompt from dominating the fitted map; small groups are kept whole and
    their unused quota goes to the larger ones.
    """
    n = groups.size
    if n <= max_total:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    uniq, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    quota = np.zeros_like(counts)
    left: int = max_total
    open_ = np.ones(uniq.size, dtype=bool)
    while left > 0 and open_.any():
        share = max(1, int(left) // int(open_.sum()))
        for g in np.flatnonzero(open_):
            take = min(share, int(counts[g] - quota[g]), left)
            quota[g] += take
            left -= take
            if quota[g] >= counts[g]:
                open_[g] = False
            if left == 0:
                break
    chosen = []
    for k in range(uniq.size):
        members = np.flatnonzero(inverse == k)
        chosen.append(rng.choice(members, size=int(quota[k]), replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def fingerprint(hashes: Sequence[str], embedding: str, params: dict[str, Any]) -> str:
    """Identity of a fit: the fitted texts' content hashes (as a set) plus model and params."""
    h = hashlib.md5()
    for c in sorted(hashes):
        h.update(c.encode())
        h.update(b"\n")
    h.update(embedding.encode())
    h.update(json.dumps(params, sort_keys=True).encode())
    return h.hexdigest()


# -- store ---------------------------------------------------------------------------------
def _find(study: Study, dataset_id: int, scope: str, method: str, embedding: str,
          backend: str) -> list[repo.Fit]:
    """Stored fits of the scope with this method, embedding model and backend, newest first."""
    return [f for f in repo.fits(study, dataset_id, scope, method, embedding)
            if f.params.get("backend", DEFAULT_BACKEND) == backend]


def _load_points(study: Study, projection_id: int) -> tuple[I64, F32]:
    """(text ids, xy) of every stored point of a projection, by text id."""
    m = repo.points(study, projection_id)
    return m.text_id, np.column_stack([m.x, m.y]).astype(np.float32).reshape(-1, 2)


# -- stage ---------------------------------------------------------------------------------
def _scopes(study: Study, dataset_id: int, scopes: Sequence[str]) -> list[tuple[str, int | None]]:
    keys = {p.key: p.id for p in datasets_repo.prompts(study, dataset_id)}
    out: list[tuple[str, int | None]] = []
    for s in scopes:
        if s == "dataset":
            out.append(("dataset", None))
        elif s == "prompts":
            out.extend((f"prompt:{k}", pid) for k, pid in keys.items())
        elif s.startswith("prompt:") and s[7:] in keys:
            out.append((s, keys[s[7:]]))
        else:
            raise ProjectionError(
                f"Unknown projection scope {s!r}: use 'dataset', 'prompts' (every prompt) or "
                "'prompt:<key>' with a prompt key of the dataset."
            )
    return out


def _methods(method: str, n_fit: int) -> list[str]:
    if method not in ("auto", "pca", "umap"):
        raise ProjectionError(f"Unknown projection method {method!r}: use auto, pca or umap.")
    if method == "pca" or n_fit < PCA_ONLY_BELOW:
        return ["pca"]
    return ["umap"] if method == "umap" else ["pca", "umap"]


def project(study: Study, request: ProjectionRequest, state: TaskState) -> ProjectionResult:
    """Compute (or reuse) the maps the request names; streams each map through state.partial.

    With method "auto" every scope first gets an instant PCA map, then the UMAP map; scopes
    with fewer than PCA_ONLY_BELOW source texts stay PCA. BLAS runs single-threaded here: the
    PCA of a 5,000-text dataset map took 7.6 s with OpenBLAS threads on a busy 2-core
    machine, 0.9 s on one thread.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _project(study, request, state)


def _project(study: Study, request: ProjectionRequest, state: TaskState) -> ProjectionResult:
    dataset_id, dataset = resolve_dataset(study, request.dataset)
    scopes = _scopes(study, dataset_id, request.scopes)
    result = ProjectionResult(dataset, [])
    state.begin("project", total=len(scopes))
    for i, (scope, prompt_id) in enumerate(scopes):
        state.check()
        for pmap in _project_scope(study, request, dataset_id, scope, prompt_id, state):
            result.maps.append(pmap)
            state.partial(pmap)
        state.progress(i + 1, len(scopes), scope)
    study.checkpoint()  # the stage is done: the study file alone holds it
    return result


def _project_scope(study: Study, req: ProjectionRequest, dataset_id: int, scope: str,
                   prompt_id: int | None, state: TaskState) -> Iterator[ProjectionMap]:
    """Yield each map of the scope as soon as it is stored (PCA before UMAP)."""
    texts = load_texts(study, dataset_id, prompt_id)
    ids, vectors = load_embeddings(study, dataset_id, prompt_id, req.embedding_model, req.backend)
    pos = np.searchsorted(texts.text_id, ids)
    is_source = texts.is_source[pos]
    src_idx = np.flatnonzero(is_source)
    if src_idx.size == 0:
        missing = int(texts.is_source.sum())
        raise AnalysisInputMissing(
            f"No {req.embedding_model} ({req.backend}) embeddings for the {missing} source texts "
            f"of {scope}: run `monoscope annotate` on the study first."
        )
    fit_idx = src_idx[balanced_sample(texts.prompt_id[pos][src_idx], req.max_fit, req.seed)]
    hashes = [str(h) for h in texts.content_hash[pos][fit_idx]]
    for method in _methods(req.method, fit_idx.size):
        state.check()
        params = req.fit_params(method)
        fp = fingerprint(hashes, req.embedding_model, {"method": method, **params})
        yield _one_map(study, req, dataset_id, scope, method, params, fp, ids, vectors, fit_idx,
                       state)


def _one_map(study: Study, req: ProjectionRequest, dataset_id: int, scope: str, method: str,
             params: dict[str, Any], fp: str, ids: I64, vectors: F32, fit_idx: I64,
             state: TaskState) -> ProjectionMap:
    existing = _find(study, dataset_id, scope, method, req.embedding_model, req.backend)
    hit = next((e for e in existing if e.params.get("fingerprint") == fp), None)
    fitter: Callable[[], Model] = (
        (lambda: Pca(vectors[fit_idx])) if method == "pca" else (lambda: fit_umap(vectors[fit_idx], req.n_neighbors, req.min_dist, req.seed))
    )
    if hit is not None:
        pid = hit.id
        have, _ = _load_points(study, pid)
        todo = np.flatnonzero(~np.isin(ids, have))
        if todo.size:
            model = load_model(fp, method) or fitter()
            _place(study, pid, ids[todo], vectors[todo], model, state)
        repo.delete(study, [e.id for e in existing if e.id != pid])
        pts_ids, xy = _load_points(study, pid)
        return ProjectionMap(pid, scope, method, True, pts_ids, xy, int(hit.params["n_fit"]),
                             int(todo.size), hit.params)
    model = fitter()
    full = {**params, "fingerprint": fp, "n_fit": int(fit_idx.size),
            "fit": "source", "max_fit": req.max_fit}
    pid = repo.create(study, dataset_id, scope, method, full, req.embedding_model)
    repo.write_points(study, pid, ids[fit_idx], model.embedding)
    if method == "umap":
        save_model(fp, model)
    rest = np.setdiff1d(np.arange(ids.size), fit_idx)
    _place(study, pid, ids[rest], vectors[rest], model, state)
    repo.delete(study, [e.id for e in existing])
    pts_ids, xy = _load_points(study, pid)
    return ProjectionMap(pid, scope, method, False, pts_ids, xy, int(fit_idx.size),
                         int(rest.size), full)


def _place(study: Study, pid: int, ids: I64, vectors: F32, model: Model,
           state: TaskState) -> None:
    for start in range(0, ids.size, TRANSFORM_BATCH):
        state.check()
        sl = slice(start, start + TRANSFORM_BATCH)
        repo.write_points(study, pid, ids[sl], model.transform(vectors[sl]))


def describe(result: ProjectionResult) -> list[dict[str, Any]]:
    """One summary row per map (for the CLI and logs)."""
    return [
        {k: v for k, v in asdict(m).items() if k not in ("text_id", "xy", "params")}
        | {"n_points": int(m.text_id.size)}
        for m in result.maps
    ]
