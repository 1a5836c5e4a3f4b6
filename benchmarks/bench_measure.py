"""Measure's embedding metrics vs a SQL baseline, in one run on one synthetic study.

Usage: python benchmarks/bench_measure.py [N_PROMPTS [N_SOURCE]]   (default 60 200)

Study: N prompts x (N_SOURCE source + 2 runs x 20 generated) texts with 384-d vectors. Baseline: the
per-prompt, per-group mean pairwise cosine computed in DuckDB with `list_cosine_similarity` over a
self-join (the obvious SQL). Ours: `measure(..., attributes=("embedding",))`, which also computes
Vendi, coverage and precision. Prints both times, the ratio, and checks the values agree.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from monoscope.core.measure import MeasureRequest, measure
from monoscope.core.store import Study, content_hash
from monoscope.core.tasks import TaskState


def build(study: Study, n_prompts: int, n_source: int, dim: int = 384) -> None:
    rng = np.random.default_rng(0)
    con = study.con
    con.execute("INSERT INTO datasets (name, kind) VALUES ('bench', 'text')")
    for r in (1, 2):
        con.execute("INSERT INTO runs (dataset_id, label, engine, template, sampling, "
                    "n_per_prompt, seed) VALUES (1, ?, 'external', 't', '{}', 10, 0)", [f"r{r}"])
    ids, pids, origin, runs, bodies, vecs = [], [], [], [], [], []
    tid = 0
    for p in range(1, n_prompts + 1):
        con.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (1, ?, ?)", [f"k{p}", "t"])
        centre = rng.normal(size=dim)
        for run, n, spread in ((None, n_source, 1.0), (1, 20, 0.4), (2, 20, 0.7)):
            for _ in range(n):
                tid += 1
                ids.append(tid)
                pids.append(p)
                origin.append("source" if run is None else "generated")
                runs.append(run)
                bodies.append(f"text {tid}")
                vecs.append(centre + spread * rng.normal(size=dim))
    hashes = [content_hash(b) for b in bodies]
    v = np.asarray(vecs, dtype=np.float32)
    texts = pa.table({"id": ids, "prompt_id": pids, "origin": origin,
                      "run_id": pa.array(runs, pa.int64()), "sample_index": [0] * len(ids),
                      "body": bodies, "content_hash": hashes})
    con.register("t_in", texts)
    con.execute("INSERT INTO texts (id, prompt_id, origin, run_id, sample_index, body, "
                "content_hash) SELECT * FROM t_in")
    emb = pa.table({"content_hash": hashes, "vector": pa.FixedSizeListArray.from_arrays(
        pa.array(v.ravel()), dim).cast(pa.list_(pa.float32()))})
    con.register("e_in", emb)
    con.execute(f"INSERT INTO embeddings SELECT content_hash, 'all-MiniLM-L6-v2', 'torch', {dim}, "
                "vector FROM e_in")


def baseline(study: Study) -> dict[tuple[int, int], float]:
    rows = study.con.execute(
        """WITH v AS (SELECT t.id, t.prompt_id, coalesce(t.run_id, 0) AS g, e.vector
                      FROM texts t JOIN embeddings e USING (content_hash))
           SELECT a.prompt_id, a.g, avg(list_cosine_similarity(a.vector, b.vector))
           FROM v a JOIN v b ON a.prompt_id = b.prompt_id AND a.g = b.g AND a.id <> b.id
           GROUP BY ALL""").fetchall()
    return {(int(p), int(g)): float(c) for p, g, c in rows}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    n_source = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    req = MeasureRequest(attributes=("embedding",), wording=False)
    with tempfile.TemporaryDirectory() as tmp:
        study = Study(Path(tmp) / "bench.duckdb")
        build(study, n, n_source)
        measure(study, req, TaskState())  # warm-up: scipy import, DuckDB caches
        t0 = time.perf_counter()
        base = baseline(study)
        t_base = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = measure(study, req, TaskState())
        t_ours = time.perf_counter() - t0
        key = {p["key"]: p["id"] for p in res.prompts}
        worst = max(abs(r["mean_pairwise_cosine"] - base[(key[r["prompt"]], 0 if r["group"] ==
                    "source" else int(r["group"][4:]))]) for r in res.rows("embedding"))
        study.close()
    print(f"{n} prompts, {n * (n_source + 40)} texts, 384-d")
    print(f"baseline SQL pairwise cosine : {t_base:7.3f} s")
    print(f"measure (cosine+Vendi+cov.)  : {t_ours:7.3f} s")
    print(f"speed-up                     : {t_base / t_ours:7.1f}x   (max |diff| {worst:.2e})")


if __name__ == "__main__":
    main()
