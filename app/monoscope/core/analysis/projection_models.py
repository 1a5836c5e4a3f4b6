"""Fitted 2-D projection models (PCA, UMAP) and their on-disk cache for later transforms.

UMAP models are pickled under the user cache dir keyed by the fit fingerprint, so placing a
new run into an existing map does not refit (the stored source coordinates never change).
numba's compiled code is cached on disk too (``<cache>/numba``), including UMAP's and
pynndescent's functions that are not cached by their packages (the parallel ones behind
`transform`: ~8 s of compilation per process otherwise, ~10 s for a small map's fit).
Inside an `offload.session` (`fit_umap`, `load_model`) UMAP runs in the session's helper
process: an `OffloadedUmap` stands for the model there.
"""

from __future__ import annotations

import os
import pickle
import sys
import warnings
from contextlib import suppress
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from monoscope.core import assets, offload

F32 = npt.NDArray[np.float32]


class Model(Protocol):
    embedding: F32

    def transform(self, x: F32) -> F32: ...


class Pca:
    """Two-component PCA with a deterministic sign (largest loading positive)."""

    def __init__(self, x: F32) -> None:
        self.mean = x.mean(axis=0)
        centred = x - self.mean
        if x.shape[0] < 2:
            self.components = np.eye(2, x.shape[1], dtype=np.float32)
        else:
            _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
            comps = vt[:2]
            if comps.shape[0] < 2:
                comps = np.vstack([comps, np.zeros((2 - comps.shape[0], x.shape[1]))])
            signs = np.sign(comps[np.arange(2), np.abs(comps).argmax(axis=1)])
            signs[signs == 0] = 1
            self.components = (comps * signs[:, None]).astype(np.float32)
        self.embedding = self.transform(x)

    def transform(self, x: F32) -> F32:
        return np.asarray((x - self.mean) @ self.components.T, dtype=np.float32)


_cached_jit = False


def import_umap() -> Any:
    """Import umap with numba's JIT cache kept in Monoscope's cache dir (17 s → ~2 s later)."""
    cache = assets.cache_dir() / "numba"
    cache.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache))
    import umap

    _cache_jit(cache)
    return umap


def _cache_jit(cache: Path) -> None:
    """Let numba cache on disk every compiled function of umap and pynndescent (once per
    process): the packages leave their parallel functions (UMAP's transform) uncached."""
    global _cached_jit
    if _cached_jit:
        return
    _cached_jit = True
    from numba.core import config
    from numba.core.registry import CPUDispatcher

    if not getattr(config, "CACHE_DIR", ""):  # numba imported before NUMBA_CACHE_DIR was set
        setattr(config, "CACHE_DIR", str(cache))  # noqa: B010 - set at import time, untyped
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in ("umap", "pynndescent"):
            continue
        for fn in list(vars(module).values()):
            if (isinstance(fn, CPUDispatcher) and fn.py_func.__module__ == name
                    and type(getattr(fn, "_cache", None)).__name__ == "NullCache"):
                with suppress(Exception):  # no cache locator: it compiles, as before
                    fn.enable_caching()


class Umap:
    """UMAP with cosine metric, seeded (deterministic, single-threaded); small sets use random init."""

    def __init__(self, x: F32, n_neighbors: int, min_dist: float, seed: int) -> None:
        umap = import_umap()
        n = x.shape[0]
        self.model = umap.UMAP(
            n_components=2,
            n_neighbors=max(2, min(n_neighbors, n - 1)),
            min_dist=min_dist,
            metric="cosine",
            random_state=seed,
            init="spectral" if n >= 50 else "random",
            low_memory=True,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # n_jobs overridden by random_state, etc.
            self.embedding = np.asarray(self.model.fit_transform(x), dtype=np.float32)

    def transform(self, x: F32) -> F32:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(self.model.transform(x), dtype=np.float32)


class OffloadedUmap:
    """A UMAP model held by the session's helper process (`monoscope.core.offload`)."""

    def __init__(self, helper: offload.Helper, handle: int, embedding: F32) -> None:
        self.helper, self.handle = helper, handle
        self.embedding = np.asarray(embedding, dtype=np.float32)

    def transform(self, x: F32) -> F32:
        return np.asarray(self.helper.call("umap_transform", self.handle, x), dtype=np.float32)

    def save(self, fp: str) -> None:
        self.helper.call("umap_save", self.handle, fp)


def fit_umap(x: F32, n_neighbors: int, min_dist: float, seed: int) -> Model:
    """A fitted `Umap`, in the session's helper process inside an `offload.session`."""
    helper = offload.current()
    if helper is None:
        return Umap(x, n_neighbors, min_dist, seed)
    handle, embedding = helper.call("umap_fit", x, n_neighbors, min_dist, seed)
    return OffloadedUmap(helper, handle, embedding)


def model_cache(fp: str) -> Path:
    """Where the pickled model of a fit fingerprint lives."""
    return assets.cache_dir() / "projections" / f"{fp}.pkl"


def save_model(fp: str, model: Model) -> None:
    """Pickle a fitted model for later transforms (best effort; by the helper for its own)."""
    if isinstance(model, OffloadedUmap):
        model.save(fp)
        return
    path = model_cache(fp)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass  # the cache is an optimisation: without it a later transform refits (same seed)


def load_model(fp: str, method: str) -> Model | None:
    """The cached UMAP of a fit fingerprint, or None (then the caller refits)."""
    if method == "pca":
        return None  # refitting PCA is cheaper than reading a pickle
    path = model_cache(fp)
    if not path.exists():
        return None
    helper = offload.current()
    if helper is not None:
        got = helper.call("umap_load", fp)
        return None if got is None else OffloadedUmap(helper, got[0], got[1])
    import_umap()
    try:
        with path.open("rb") as fh:
            model = pickle.load(fh)
    except Exception:
        return None
    return model if isinstance(model, Umap) else None
