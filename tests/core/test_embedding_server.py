"""Embeddings on a server: a real llama-cpp-python server (`--embedding True`, bundled SmolLM2 —
the only small GGUF the assets bundle) on 127.0.0.1 behind the http embedding backend."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from attr_helpers import add_dataset, add_prompt, add_texts
from fleet_servers import LlamaServer, free_port

from monoscope.core import assets
from monoscope.core.attributes import AnnotateRequest, UnknownAttribute, annotate
from monoscope.core.attributes.embedding import EmbeddingServerError
from monoscope.core.store import Study, content_hash
from monoscope.core.store import embeddings as embeddings_repo
from monoscope.testing import raw_connection

pytestmark = pytest.mark.slow

BODIES = ["A warm, funny film.", "Dull and far too long.", "A warm, funny film.",
          "The best thriller of the year."]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    pytest.importorskip("uvicorn", reason="install llama-cpp-python's server extras (dev deps)")
    srv = LlamaServer(assets.locate("smollm2"), embedding=True, n_ctx=512).wait_ready()
    try:
        yield srv.url
    finally:
        srv.stop()


def _direct(url: str, text: str) -> np.ndarray:
    req = urllib.request.Request(url + "/v1/embeddings", data=json.dumps({"input": [text]}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        v = np.asarray(json.loads(r.read())["data"][0]["embedding"], dtype=np.float64)
    if v.ndim == 2:
        v = v.mean(axis=0)
    return v / np.linalg.norm(v)


def _study(study: Study) -> None:
    ds = add_dataset(study)
    add_texts(study, add_prompt(study, ds, "signs"), BODIES)


def test_server_vectors_recorded_with_model_and_server(server: str, study: Study) -> None:
    _study(study)
    req = AnnotateRequest(attributes=["embedding"], backend="http", embed_server=server + "/v1")
    res = annotate(study, req)
    assert res.computed == 3  # distinct bodies
    rows = raw_connection(study).execute(
        "SELECT content_hash, model, backend, dim, server, vector FROM embeddings "
        "JOIN embedding_servers USING (content_hash, model, backend) ORDER BY content_hash"
    ).fetchall()
    assert len(rows) == 3
    for _h, model, backend, dim, srv, vec in rows:
        assert (model, backend, dim, srv) == ("SmolLM2-135M-Instruct.Q4_1", "http", 576, server)
        v = np.asarray(vec)
        assert v.shape == (576,) and abs(np.linalg.norm(v) - 1.0) < 1e-5
    by_hash = {r[0]: np.asarray(r[5]) for r in rows}
    for body in set(BODIES):  # the stored vector is the server's own vector for that text
        assert float(by_hash[content_hash(body)] @ _direct(server, body)) > 0.9999
    assert annotate(study, req).computed == 0  # nothing twice
    # this server lets later texts of a batch attend to earlier ones (causal model, no
    # pooling): detected, so it gets one text per request
    from monoscope.core.attributes.embedding import ServerEmbedder

    emb = ServerEmbedder(server)
    assert (emb.batched, emb.batch_size, emb.dim) == (False, 1, 576)
    kinds = embeddings_repo.vector_kinds(study)
    assert [(k["model"], k["dim"], k["n"], k["servers"]) for k in kinds] == [
        ("SmolLM2-135M-Instruct.Q4_1", 576, 3, [server])]


def test_server_refused_when_study_holds_other_vectors(server: str, study: Study) -> None:
    _study(study)
    vecs = np.eye(384, dtype=np.float32)[:1]
    embeddings_repo.write(study, [content_hash(BODIES[0])], vecs, "all-MiniLM-L6-v2", "torch")
    req = AnnotateRequest(attributes=["embedding"], backend="http", embed_server=server)
    with pytest.raises(EmbeddingServerError,
                       match=r"The study's vectors are all-MiniLM-L6-v2 \(384-d, 1 vectors, "
                             r"backend torch\); the server .* serves "
                             r"SmolLM2-135M-Instruct.Q4_1 \(576-d\)"):
        annotate(study, req)
    assert study.scalar("SELECT count(*) FROM embeddings") == 1  # nothing written


def test_server_backend_errors_are_clear(study: Study) -> None:
    _study(study)
    with pytest.raises(UnknownAttribute, match="needs --embed-server URL"):
        annotate(study, AnnotateRequest(attributes=["embedding"], backend="http"))
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EmbeddingServerError, match="Cannot reach the embeddings server"):
        annotate(study, AnnotateRequest(attributes=["embedding"], backend="http",
                                        embed_server=dead))
