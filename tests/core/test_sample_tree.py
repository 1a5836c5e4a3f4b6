"""Sample tree: identical samples make one path, fully different ones a fan; a real greedy run
records per-token entropies (0: greedy) and its tree is one path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monoscope.core.explore.sample_tree import build_tree, sample_tree
from monoscope.core.generation import RunRequest, plan_runs, run_generation
from monoscope.core.store import Study
from monoscope.core.store import scores as scores_repo
from monoscope.core.tasks import TaskState


def rec(i: int, toks: list[int], ent: float = 1.0) -> tuple[int, list[int], list[str],
                                                             list[float]]:
    return i, toks, [f"<{t}>" for t in toks], [ent + j for j in range(len(toks))]


def test_identical_samples_are_one_path() -> None:
    tree = build_tree([rec(i, [5, 6, 7, 8]) for i in range(6)])
    assert len(tree.nodes) == 1 and tree.roots == [0]
    (node,) = tree.nodes
    assert node.tokens == [5, 6, 7, 8] and node.count == 6 and node.text == "<5><6><7><8>"
    assert node.entropies == [1.0, 2.0, 3.0, 4.0]
    assert tree.shared_prefix() == (4, 6)


def test_fully_different_samples_are_a_fan() -> None:
    tree = build_tree([rec(i, [100 + i, 7, 8]) for i in range(5)])
    assert len(tree.roots) == 5 and len(tree.nodes) == 5
    assert all(n.count == 1 and n.children == [] and len(n.tokens) == 3 for n in tree.nodes)
    assert sorted(n.y0 for n in tree.nodes) == [0, 1, 2, 3, 4]  # stacked, one row each
    assert tree.shared_prefix() == (0, 5)


def test_shared_opening_then_branches() -> None:
    # 3 samples share "1 2", two of them continue "3", one "4"; a fourth starts with 9
    tree = build_tree([rec(0, [1, 2, 3]), rec(1, [1, 2, 3, 5]), rec(2, [1, 2, 4]),
                       rec(3, [9])])
    first = tree.nodes[tree.roots[0]]
    assert first.tokens == [1, 2] and first.count == 3 and first.y0 == 0
    kids = [tree.nodes[k] for k in first.children]
    assert [(k.tokens, k.count, k.depth) for k in kids] == [([3], 2, 2), ([4], 1, 2)]
    assert [tree.nodes[k].tokens for k in kids[0].children] == [[5]]
    assert tree.nodes[tree.roots[1]].tokens == [9] and tree.nodes[tree.roots[1]].y0 == 3
    assert tree.shared_prefix() == (3, 2)  # "1 2 3" is held by 2 of 4 (>= half)


@pytest.mark.slow
def test_greedy_run_records_tokens_and_is_one_path(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONOSCOPE_THREADS", "1")
    with Study(tmp_path / "g.duckdb") as st:
        with st.transaction() as cur:
            cur.execute("INSERT INTO datasets (name, kind, meta) VALUES ('films', 'text', '{}')")
            cur.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (1, 'm0', 'Signs')")
        (rid,) = plan_runs(st, RunRequest("films", n=3, max_tokens=6, temperatures=(0.0,),
                                          n_parallel=3))
        run_generation(st, rid, TaskState())
        recs = scores_repo.prompt_generation_tokens(st, 1, rid)
        assert len(recs) == 3
        gens = {r["sample_index"]: r for r in st.query(
            "SELECT sample_index, n_tokens, finish_reason, mean_logprob FROM generations")}
        for r in recs:
            g = gens[r["sample_index"]]
            assert len(r["tokens"]) == g["n_tokens"] + (g["finish_reason"] == "eos")
            assert len(r["pieces"]) == len(r["entropies"]) == len(r["logprobs"]) == \
                len(r["tokens"])
            assert np.all(r["entropies"] == 0.0)  # greedy: a one-token distribution
            assert float(np.mean(r["logprobs"])) == pytest.approx(g["mean_logprob"], abs=2e-3)
        tree = sample_tree(st, 1, "m0", rid)
        assert tree is not None and len(tree.nodes) == 1 and tree.nodes[0].count == 3
        assert tree.prompts == 1


def test_labels_read_the_text_where_old_pieces_were_garbled(tmp_path: Path) -> None:
    """Runs recorded before pieces were decoded incrementally stored each token decoded alone:
    a character split over tokens as U+FFFD, the end token as its special text. The tree's
    labels realign them on the stored body (real SmolLM2 tokens)."""
    from monoscope.core import assets
    from monoscope.core.explore.sample_tree import END_LABEL, readable_pieces
    from monoscope.core.generation.llama_engine import LlamaCppEngine

    bodies = ["Great 😎 film, très bien — 10/10 👨🏈", "Great 😎 film, but the ending…"]
    with LlamaCppEngine(assets.locate("smollm2"), n_parallel=1, n_threads=1) as eng:
        toks = [eng.tokenize_text(b) for b in bodies]
        end = int(eng._lc.llama_vocab_eos(eng._vocab))
        old = [[eng.piece(t).decode("utf-8", "replace") for t in ts]
               + [eng.piece(end, special=True).decode()] for ts in toks]
    assert any("\ufffd" in p for p in old[0])  # the garbling this is about
    for body, pieces in zip(bodies, old, strict=True):
        clean = readable_pieces(pieces, body)
        assert len(clean) == len(pieces) and clean[-1] == END_LABEL
        assert "".join(clean[:-1]) == body and not any("\ufffd" in p for p in clean)
    # a clean record is kept as is
    assert readable_pieces(["A", " film"], "A film") == ["A", " film"]
    with Study(tmp_path / "t.duckdb") as st:
        with st.transaction() as cur:
            cur.execute("INSERT INTO datasets (name, kind, meta) VALUES ('films', 'text', '{}')")
            cur.execute("INSERT INTO prompts (dataset_id, key, title) VALUES (1, 'm0', 'Signs')")
            cur.execute("INSERT INTO models (path, sha256, name) VALUES ('/x.gguf', 'a', 'm')")
            cur.execute("INSERT INTO runs (dataset_id, model_id, label, engine, template, "
                        "sampling, n_per_prompt, seed, status, meta) VALUES (1, 1, 'r', "
                        "'llama.cpp', 'p', '{}', 2, 0, 'finished', '{}')")
            for i, (body, ts, pieces) in enumerate(zip(bodies, toks, old, strict=True)):
                tid = cur.execute(
                    "INSERT INTO texts (prompt_id, origin, run_id, sample_index, body, "
                    "content_hash) VALUES (1, 'generated', 1, ?, ?, ?) RETURNING id",
                    [i, body, str(i)]).fetchone()[0]
                cur.execute("INSERT INTO generations (text_id, run_id, prompt_id, sample_index, "
                            "seed) VALUES (?, 1, 1, ?, 0)", [tid, i])
                n = len(ts) + 1
                scores_repo.insert_generation_tokens(cur, tid, [*ts, end], [-1.0] * n,
                                                     [1.0] * n, pieces)
        tree = sample_tree(st, 1, "m0", 1)
    assert tree is not None and len(tree.roots) == 1
    root = tree.nodes[tree.roots[0]]
    assert root.count == 2 and root.text == "Great 😎 film,"
    leaves = sorted(n.text for n in tree.leaves())
    assert leaves == [" but the ending…" + END_LABEL, " très bien — 10/10 👨🏈" + END_LABEL]
