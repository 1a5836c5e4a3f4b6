"""Sentence embeddings (all-MiniLM-L6-v2) stored per content hash, with three backends.

`torch`: sentence-transformers, exact (the default). `onnx-int8`: the same model exported to
ONNX once, dynamically quantised to int8 and run with onnxruntime + tokenizers; about twice as
fast on CPU, cosine ≈ 0.99 to the exact vectors, and no torch import at run time. `http`: an
OpenAI-compatible ``/v1/embeddings`` server (llama-server ``--embedding``, vLLM,
text-embeddings-inference; `ServerEmbedder`): the vectors are stored under the model name the
server reports, with the server's URL, and refused when that model or its dimension differs
from the vectors the study already holds. Each vector row records the backend that produced it.
Heavy libraries are imported only when a model loads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt

from monoscope.core import assets, offload
from monoscope.core.attributes.base import (
    BACKENDS,
    EMBEDDING_MODEL,
    SERVER_BACKEND,
    Context,
    Extractor,
    Outcome,
)
from monoscope.core.errors import MonoscopeError
from monoscope.core.store import Study
from monoscope.core.store import embeddings as embeddings_repo

Matrix = npt.NDArray[np.float32]
ONNX_EXPORT_VERSION = "2"  # 2: per-channel int8 MatMul weights (cosine 0.99 vs 0.96)
_MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length
_export_lock = threading.Lock()


class UnknownBackend(MonoscopeError):
    """The embedding backend name is not one Monoscope knows."""


class EmbeddingServerError(MonoscopeError):
    """The embeddings server cannot be used: unreachable, bad answer, or other vectors' model."""


class Embedder(Protocol):
    backend: str

    def encode(self, texts: Sequence[str]) -> Matrix:
        """Unit-length float32 vectors, one row per text."""
        ...


class TorchEmbedder:
    """sentence-transformers on CPU: the exact reference vectors."""

    backend = "torch"

    def __init__(self, model_dir: Path, threads: int | None = None, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        if threads:
            torch.set_num_threads(threads)
        self.model = SentenceTransformer(str(model_dir), device="cpu")
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> Matrix:
        vecs = self.model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)


class OnnxInt8Embedder:
    """int8 ONNX export run by onnxruntime; tokenizer from the model folder's tokenizer.json."""

    backend = "onnx-int8"

    def __init__(self, model_dir: Path, threads: int | None = None, batch_size: int = 32) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        onnx_path = export_onnx_int8(model_dir)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_path), opts,
                                            providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=_MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> Matrix:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        # sort by length so each batch pads little, as sentence-transformers does
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            idx = order[start : start + self.batch_size]
            enc = self.tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feed)[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[idx] = pooled / np.maximum(norms, 1e-12)
        return out


class ServerEmbedder:
    """An OpenAI-compatible ``/v1/embeddings`` endpoint (urllib; unit-length float32 rows).

    ``model`` is the name the server reports (``/v1/models``; a path or ``org/name`` is cut to
    its last part, so TEI's ``sentence-transformers/all-MiniLM-L6-v2`` is the local model's name),
    ``dim`` the length of its vectors (from a first one-text request); ``batched`` whether a
    text's vector in a batch equals its vector alone (checked; when not, one text per request).
    """

    backend = SERVER_BACKEND

    def __init__(self, url: str, model: str | None = None, timeout_s: float = 300.0,
                 api_key: str | None = None, batch_size: int = 64) -> None:
        u = url.strip().rstrip("/")
        self.server = u[:-3] if u.endswith("/v1") else u
        self.timeout_s, self.api_key, self.batch_size = timeout_s, api_key, batch_size
        self.remote_name = model or self._served_model()
        self.model = self.remote_name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        for suffix in (".gguf", ".GGUF"):
            self.model = self.model.removesuffix(suffix)
        alone = self._post(["A second probe text."])
        self.dim = int(alone.shape[1])
        # Detect, not assume, that a batch gives each text its own vector: llama-cpp-python's
        # server with a causal model (no pooling) lets later texts of a batch see earlier ones.
        pair = self._post(["A first probe text, longer than the other.", "A second probe text."])
        self.batched = float(pair[1] @ alone[0]) > 0.999
        if not self.batched:
            self.batch_size = 1

    def _call(self, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        import json
        import urllib.error
        import urllib.request

        req = urllib.request.Request(
            self.server + path, data=None if body is None else json.dumps(body).encode(),
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}))
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                data: dict[str, Any] = json.loads(resp.read())
                return data
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise EmbeddingServerError(
                f"{self.server}{path} answered {exc.code}: {detail}. Is it an embeddings server "
                "(llama-server --embedding, vLLM --task embed, text-embeddings-inference)?") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise EmbeddingServerError(
                f"Cannot reach the embeddings server {self.server}: {getattr(exc, 'reason', exc)}. "
                "Is it running? Check --embed-server.") from None

    def _served_model(self) -> str:
        data = self._call("/v1/models", None).get("data") or []
        if not data or not data[0].get("id"):
            raise EmbeddingServerError(f"{self.server}/v1/models names no model; pass the model "
                                       "name the server expects.")
        return str(data[0]["id"])

    def _post(self, texts: Sequence[str]) -> Matrix:
        got = self._call("/v1/embeddings", {"input": list(texts), "model": self.remote_name})
        rows = sorted(got.get("data") or [], key=lambda r: int(r.get("index") or 0))
        if len(rows) != len(texts):
            raise EmbeddingServerError(f"{self.server} returned {len(rows)} vectors for "
                                       f"{len(texts)} texts.")
        vecs = []
        for r in rows:
            v = np.asarray(r.get("embedding"), dtype=np.float32)
            if v.ndim == 2:  # one vector per token (no pooling on the server): mean-pool
                v = v.mean(axis=0)
            vecs.append(v)
        out: Matrix = np.stack(vecs).astype(np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.maximum(norms, 1e-12)
        return out

    def encode(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._post(texts[i : i + self.batch_size])
                 for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(parts)


def check_compatible(study: Study, embedder: ServerEmbedder) -> None:
    """Refuse a server whose model or dimension differs from the study's existing vectors."""
    for kind in embeddings_repo.vector_kinds(study):
        if kind["model"] != embedder.model or int(kind["dim"]) != embedder.dim:
            raise EmbeddingServerError(
                f"The study's vectors are {kind['model']} ({kind['dim']}-d, {kind['n']:,} vectors, "
                f"backend {kind['backend']}); the server {embedder.server} serves "
                f"{embedder.model} ({embedder.dim}-d). Vectors of different models cannot be "
                f"compared: embed with the local backend (--backend torch), point "
                f"--embed-server at a server serving {kind['model']}, or use a new study.")


def model_for(ctx: Context) -> str:
    """The model name the context's vectors are stored under (the server's for http)."""
    if ctx.request.backend == SERVER_BACKEND:
        return cast(ServerEmbedder, get_embedder(ctx)).model
    return EMBEDDING_MODEL


def export_onnx_int8(model_dir: Path) -> Path:
    """Export the model to ONNX and quantise it to int8, once; cached in the user cache dir."""
    target_dir = assets.cache_dir() / "onnx" / f"{model_dir.name}-v{ONNX_EXPORT_VERSION}"
    target = target_dir / "model-int8.onnx"
    with _export_lock:
        if target.is_file():
            return target
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel

        target_dir.mkdir(parents=True, exist_ok=True)
        model = AutoModel.from_pretrained(str(model_dir)).eval()

        class _Hidden(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state

        import warnings

        dummy = torch.ones((2, 8), dtype=torch.long)
        fp32 = target_dir / "model-fp32.onnx"
        names = ["input_ids", "attention_mask", "token_type_ids"]
        with warnings.catch_warnings():  # tracer chatter about shapes; the axes are dynamic
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Hidden(model), (dummy, dummy, torch.zeros_like(dummy)), str(fp32),
                input_names=names, output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]},
                opset_version=17, dynamo=False,
            )
        partial = target_dir / "model-int8.partial.onnx"
        # per-channel scales on the MatMul weights only: cosine to exact ~0.993 (per-tensor,
        # all ops: ~0.96) at the same speed; embeddings (Gather) stay fp32
        quantize_dynamic(str(fp32), str(partial), weight_type=QuantType.QInt8,
                         per_channel=True, op_types_to_quantize=["MatMul"])
        partial.rename(target)
        fp32.unlink(missing_ok=True)
    return target


class OffloadedEmbedder:
    """The bundled MiniLM run by a helper process (`monoscope.core.offload`): the same
    embedder, loaded there on the first `encode`, gone with the process."""

    def __init__(self, helper: offload.Helper, backend: str, threads: int | None) -> None:
        self.helper, self.backend, self.threads = helper, backend, threads

    def encode(self, texts: Sequence[str]) -> Matrix:
        out = self.helper.call("embed", self.backend, self.threads, list(texts))
        return np.asarray(out, dtype=np.float32)


def load_embedder(backend: str = "torch", threads: int | None = None) -> Embedder:
    """Load the bundled MiniLM with the chosen backend (slow: seconds); inside an
    `offload.session` it loads in the session's helper process instead."""
    if backend not in BACKENDS:
        raise UnknownBackend(f"Unknown embedding backend {backend!r}; use one of {', '.join(BACKENDS)}.")
    helper = offload.current()
    if helper is not None:
        return OffloadedEmbedder(helper, backend, threads)
    model_dir = assets.locate("minilm")
    if backend == "torch":
        return TorchEmbedder(model_dir, threads)
    return OnnxInt8Embedder(model_dir, threads)


def get_embedder(ctx: Context) -> Embedder:
    """The context's embedder, loaded on first use only (so a no-op annotate loads nothing);
    a server embedder is checked against the study's vectors first."""
    emb = ctx.cache.get("embedder")
    if emb is None:
        if ctx.request.backend == SERVER_BACKEND:
            if not ctx.request.embed_server:
                raise UnknownBackend("The http embedding backend needs --embed-server URL.")
            emb = ServerEmbedder(ctx.request.embed_server)
            check_compatible(ctx.study, emb)
        else:
            emb = load_embedder(ctx.request.backend, ctx.request.threads)
        ctx.cache["embedder"] = emb
    return emb  # type: ignore[no-any-return]


# -- store -----------------------------------------------------------------------------------
def pending_hashes(study: Study, dataset_id: int, backend: str) -> list[tuple[str, str]]:
    """(content_hash, body) of the dataset's texts without a MiniLM vector from this backend,
    shortest first (see `monoscope.core.store.embeddings.pending`)."""
    return embeddings_repo.pending(study, dataset_id, EMBEDDING_MODEL, backend)


def store_vectors(study: Study, hashes: Sequence[str], vectors: Matrix, backend: str,
                  model: str = EMBEDDING_MODEL, server: str | None = None) -> None:
    """Insert vectors (rows aligned with hashes) in one transaction (MiniLM unless named)."""
    embeddings_repo.write(study, hashes, vectors, model, backend, server)


def text_vectors(
    study: Study,
    dataset_id: int | None = None,
    text_ids: Sequence[int] | None = None,
    backend: str = "torch",
    origin: str | None = None,
) -> tuple[npt.NDArray[np.int64], Matrix]:
    """(text ids, float32 matrix) of embedded texts, read through Arrow; missing ones are left out.

    Filter by dataset, explicit text ids and/or origin ('source' / 'generated'); ids ascending.
    """
    ids, vecs = embeddings_repo.text_vectors(study, EMBEDDING_MODEL, backend, dataset_id,
                                             text_ids, origin)
    if ids.size == 0:
        return ids, np.zeros((0, 384), dtype=np.float32)
    return ids, vecs


def ensure_vectors(ctx: Context, items: Sequence[tuple[str, str]]) -> Matrix:
    """Vectors for (content_hash, body) pairs in order: read from the store, embedding any missing."""
    backend = ctx.request.backend
    if backend == SERVER_BACKEND and model_for(ctx) != EMBEDDING_MODEL:
        raise EmbeddingServerError(
            f"sentiment.head and topic need {EMBEDDING_MODEL} vectors; the server "
            f"{ctx.request.embed_server} serves {model_for(ctx)}. Annotate them with the local "
            "backend (--backend torch) or a server serving all-MiniLM-L6-v2.")
    hashes = list(dict.fromkeys(h for h, _ in items))
    found = embeddings_repo.by_hash(ctx.study, hashes, EMBEDDING_MODEL, backend)
    bodies = dict(items)
    missing = [h for h in hashes if h not in found]
    if missing:
        emb = get_embedder(ctx)
        new = emb.encode([bodies[h] for h in missing])
        store_vectors(ctx.study, missing, new, backend, server=getattr(emb, "server", None))
        found.update(zip(missing, new, strict=True))
    return np.stack([found[h] for h, _ in items]) if items else np.zeros((0, 384), np.float32)


class EmbeddingExtractor(Extractor):
    """Fills the `embeddings` table for every text of a dataset (one vector per content hash)."""

    name = "embedding"
    version = EMBEDDING_MODEL
    kinds = ("text", "code")
    batch_size = 128

    def run(self, ctx: Context, dataset_id: int, dataset: str) -> Outcome:
        out = Outcome(self.name, dataset)
        backend = ctx.request.backend
        model = model_for(ctx)  # the server's model for http (checked against the study)
        server = getattr(get_embedder(ctx), "server", None) if backend == SERVER_BACKEND else None
        todo = embeddings_repo.pending(ctx.study, dataset_id, model, backend)
        out.already = embeddings_repo.count_embedded(ctx.study, dataset_id, model, backend)
        ctx.state.begin(f"embedding/{backend} ({dataset})", len(todo))
        for start in range(0, len(todo), self.batch_size):
            ctx.state.check()
            batch = todo[start : start + self.batch_size]
            vectors = get_embedder(ctx).encode([b[1] for b in batch])
            store_vectors(ctx.study, [b[0] for b in batch], vectors, backend, model, server)
            out.computed += len(batch)
            ctx.state.progress(start + len(batch), len(todo))
        return out


EXTRACTORS: list[Extractor] = [EmbeddingExtractor()]
