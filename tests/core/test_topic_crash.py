"""Topics survive a crash (issue 13): fit and assignments are one unit, a resume checks what it builds on.

Vectors are stored up front (four well-separated directions), so no embedding model is loaded.
The crash is a real ``kill -9`` of a child process at the point where the fit is written and the
source assignments are not.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from monoscope.core.attributes import AnnotateRequest, annotate
from monoscope.core.attributes.embedding import store_vectors
from monoscope.core.store import Study, content_hash

CLUSTERS = 4
PER = 12  # 48 source texts: choose_k(48) = round(sqrt(24)) = 5 topics


def build(path: Path) -> tuple[list[int], list[int]]:
    """48 source texts in 4 clusters, 4 generated texts (one per cluster); vectors stored."""
    rng = np.random.default_rng(0)
    axes = np.eye(384, dtype=np.float32)[:CLUSTERS] * 10
    src, gen, hashes, vecs = [], [], [], []
    with Study(path) as st, st.transaction() as cur:
        cur.execute("INSERT INTO datasets (name, kind) VALUES ('films', 'text')")
        cur.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (1, 'f', 'F')")
        cur.execute("INSERT INTO runs (dataset_id, label, engine, template, sampling, n_per_prompt, seed) "
                    "VALUES (1, 'r', 'external', 't', '{}', 4, 0)")
        for c in range(CLUSTERS):
            for i in range(PER + 1):
                origin = "generated" if i == PER else "source"
                body = f"cluster{c} word{c}a word{c}b text {i}"
                row = cur.execute(
                    "INSERT INTO texts (prompt_id, origin, run_id, sample_index, body, content_hash) "
                    "VALUES (1, ?, ?, ?, ?, ?) RETURNING id",
                    [origin, None if origin == "source" else 1, i if origin == "source" else c, body,
                     content_hash(body)]).fetchone()
                (gen if origin == "generated" else src).append(int(row[0]))  # type: ignore[index]
                hashes.append(content_hash(body))
                vecs.append(axes[c] + rng.normal(0, 0.3, 384).astype(np.float32))
    with Study(path) as st:
        store_vectors(st, hashes, np.stack(vecs), "torch")
    return src, gen


def check_topics(st: Study, src: list[int], gen: list[int]) -> None:
    """Exact state: one fit, every text assigned, each cluster's texts together, sizes add up."""
    topic = {int(r["text_id"]): int(r["value"]) for r in st.query(
        "SELECT text_id, value FROM attributes WHERE name = 'topic'")}
    assert sorted(topic) == sorted(src + gen)
    sizes = st.query("SELECT topic, size FROM topics ORDER BY topic")
    assert sum(r["size"] for r in sizes) == len(src) and len(sizes) == 5
    for c in range(CLUSTERS):
        members = {topic[t] for t in src[c * PER:(c + 1) * PER]}
        # a cluster may be split in two by k=5, but its generated text lands in one of its topics
        assert topic[gen[c]] in members
        others = {topic[t] for i, t in enumerate(src) if i // PER != c}
        assert not members & others
    assert len(set(topic.values())) > 1  # not "everything in topic 0"


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import monoscope.core.store.attributes as attributes_repo
    from monoscope.core.attributes import AnnotateRequest, annotate
    from monoscope.core.store import Study

    def die(*_a, **_k):  # the fit is inserted, the assignments are next: crash here
        print("fit written", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    attributes_repo.insert_rows = die
    st = Study(sys.argv[1])
    annotate(st, AnnotateRequest(attributes=["topic"]))
    print("finished", flush=True)
    """
)


def test_kill_between_fit_and_assignments_leaves_nothing_half_done(study_path: Path) -> None:
    src, gen = build(study_path)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    child = subprocess.run([sys.executable, "-c", CHILD, str(study_path)], capture_output=True,
                           text=True, env=env, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert "fit written" in child.stdout and "finished" not in child.stdout
    with Study(study_path) as st:
        assert st.scalar("SELECT count(*) FROM topics") == 0  # the fit went with the assignments
        assert st.scalar("SELECT count(*) FROM attributes WHERE name = 'topic'") == 0
        res = annotate(st, AnnotateRequest(attributes=["topic"]))
        assert [(o.name, o.computed) for o in res.outcomes if o.name == "topic"] == [("topic", 52)]
        check_topics(st, src, gen)


def test_resume_refits_a_fit_without_assignments(study_path: Path) -> None:
    """A study left by the old code (topics committed, assignments lost) is repaired, not trusted."""
    src, gen = build(study_path)
    with Study(study_path) as st:
        with st.transaction() as cur:
            cur.executemany("INSERT INTO topics (dataset_id, topic, label, size, version) VALUES (1, ?, ?, ?, '2/torch')",
                            [[c, f"words {c}", 10, ] for c in range(5)])
        res = annotate(st, AnnotateRequest(attributes=["topic"]))
        assert [(o.name, o.computed) for o in res.outcomes if o.name == "topic"] == [("topic", 52)]
        check_topics(st, src, gen)
        # an intact fit is built on, not refitted: a new generated text is only assigned
        labels = st.query("SELECT topic, label, size FROM topics ORDER BY topic")
        with st.transaction() as cur:
            body = "cluster2 word2a word2b late"
            cur.execute("INSERT INTO texts (prompt_id, origin, run_id, sample_index, body, content_hash) "
                        "VALUES (1, 'generated', 1, 9, ?, ?)", [body, content_hash(body)])
        store_vectors(st, [content_hash(body)], (np.eye(384, dtype=np.float32)[2:3] * 10), "torch")
        res = annotate(st, AnnotateRequest(attributes=["topic"]))
        assert [(o.name, o.computed) for o in res.outcomes if o.name == "topic"] == [("topic", 1)]
        assert st.query("SELECT topic, label, size FROM topics ORDER BY topic") == labels
