"""Likelihood view: a scored study (scores, a prompt map and per-token records written
through the real schema) shows the coloured map, the histograms, the least likely human texts
(lowest first), the prompt ranking, the sample tree and the stored measures in the caption;
the inspector highlights token surprisal."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from test_measure_logprob import GEN, SRC, scored_study

from monoscope.core.explore.likelihood import TokenSurprisal, token_surprisal
from monoscope.core.store import scores as scores_repo
from monoscope.testing import raw_connection
from monoscope.ui.views.inspector import surprisal_html
from monoscope.ui.views.likelihood import LikelihoodView
from monoscope.ui.workers import TaskRunner


@pytest.fixture
def scored(tmp_path: Path):
    st, _sid = scored_study(tmp_path / "l.duckdb")
    con = raw_connection(st)
    con.execute("INSERT INTO projections (dataset_id, scope, method, params, embedding) VALUES "
                "(1, 'prompt:m0', 'pca', '{}', 'fake')")
    for tid in range(1, 13):
        con.execute("INSERT INTO projection_points VALUES (1, ?, ?, ?)",
                    [tid, float(tid % 4), float(tid // 4)])
    # per-token records of the 4 samples: 3 open with the same two tokens, one differs
    for tid, toks in ((9, [1, 2, 3]), (10, [1, 2, 4]), (11, [1, 2, 3]), (12, [7, 8])):
        with st.transaction() as cur:
            cur.execute("INSERT INTO generations (text_id, run_id, prompt_id, sample_index, seed) "
                        "VALUES (?, 1, 1, ?, 0)", [tid, tid])
            scores_repo.insert_generation_tokens(cur, tid, toks, [-1.0] * len(toks),
                                                 [0.5 * (j + 1) for j in range(len(toks))],
                                                 [f"w{t} " for t in toks])
    yield st
    st.close()


def test_likelihood_view_shows_scores_lists_and_tree(qtbot, scored, tmp_path: Path) -> None:
    view = LikelihoodView(runner=TaskRunner())
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    with qtbot.waitSignal(view.loaded, timeout=60_000):
        view.set_study(scored, 1)
    assert view.run_box.count() == 1 and view.ranking.rowCount() == 1
    assert view.ranking.item(0, 1).text() == "-5.50" and view.ranking.item(0, 4).text() == "88 %"
    with qtbot.waitSignal(view.loaded, timeout=60_000):
        view.set_prompt("m0")
    p = view.payload.prompt
    assert p is not None and sorted(p.human.tolist()) == sorted(SRC)
    assert sorted(p.samples.tolist()) == sorted(GEN)
    # least likely first: -9, -8, -7 ...
    assert [view.least.item(i, 0).text() for i in range(3)] == ["-9.00", "-8.00", "-7.00"]
    assert view.people.data.size == 8 and view.samples.data.size == 4
    assert "88 %" in view.caption.text() and "-3.75" in view.caption.text()
    tree = view.payload.tree
    assert tree is not None and tree.n_samples == 4 and len(tree.roots) == 2
    assert tree.nodes[tree.roots[0]].tokens == [1, 2] and tree.nodes[tree.roots[0]].count == 3
    assert "2 of 4 share the first 3 tokens" in view.tree_caption.text()  # >= half
    shot = tmp_path / "likelihood.png"
    view.grab().save(str(shot))
    assert shot.stat().st_size > 10_000
    out = view.export(tmp_path / "lk.png")
    assert out.exists()


def test_surprisal_highlight() -> None:
    sur = TokenSurprisal("tiny p", ["A", " film", " <b>"], [0.5, 10.0, 2.0], [1.0, 2.0, 3.0],
                         -4.2, False)
    page = surprisal_html(sur)
    assert "rgb(255,80,80)" in page  # 10 nats: the strongest red
    assert "&lt;b&gt;" in page and "tiny p" in page and "-4.20" in page


def test_token_surprisal_reads_the_stored_tokens(scored) -> None:
    with scored.transaction() as cur:  # a text whose tokens spell its body
        cur.execute("UPDATE text_scores SET ends = ? WHERE text_id = 1",
                    [np.asarray([4, 6], dtype="<u4").tobytes()])
    sur = token_surprisal(scored, 1)
    assert sur is not None and sur.pieces == ["text", " 0"]
    assert sur.surprisal == pytest.approx([2.0, 2.0]) and sur.scorer == "tiny p"
    assert token_surprisal(scored, 2) is None  # no token offsets stored


def test_token_surprisal_of_a_sample_uses_its_runs_scorer(scored) -> None:
    """A generated text is shown under its own run's model and template even when another
    scorer (scored it too and) is preferred, and the inspector says so."""
    from monoscope.core.scoring import VERSION

    other = scores_repo.ensure_scorer(scored, 1, "other", "h2", {"user": "other {title}"},
                                      VERSION)
    with scored.transaction() as cur:
        cur.execute("UPDATE text_scores SET ends = ? WHERE text_id = 9",
                    [np.asarray([4, 6], dtype="<u4").tobytes()])
    row = scores_repo.text_score(scored, 1, 9)
    assert row is not None
    scores_repo.write_scores(scored, other, [scores_repo.ScoreRow(
        9, "ctx", "h", 5, 2, False, -20.0, -10.0, float(np.exp(10.0)), 1.0,
        scores_repo.pack_f16([-10.0, -10.0]), scores_repo.pack_f16([1.0, 1.0]),
        scores_repo.pack_u32([4, 6]))])
    assert scores_repo.text_scorers(scored, 9) == [1, other]
    sur = token_surprisal(scored, 9, preferred=other)
    assert sur is not None and sur.scorer_id == 1 and sur.why == "its run's own model and template"
    assert sur.surprisal == pytest.approx([-float(x) for x in row["logprobs"]])
    assert "its run's own model and template" in surprisal_html(sur)
    # a human text follows the preference
    with scored.transaction() as cur:
        cur.execute("UPDATE text_scores SET ends = ? WHERE text_id = 1",
                    [np.asarray([4, 6], dtype="<u4").tobytes()])
    scores_repo.write_scores(scored, other, [scores_repo.ScoreRow(
        1, "ctx", "h", 5, 2, False, -20.0, -10.0, float(np.exp(10.0)), 1.0,
        scores_repo.pack_f16([-10.0, -10.0]), scores_repo.pack_f16([1.0, 1.0]),
        scores_repo.pack_u32([4, 6]))])
    sur = token_surprisal(scored, 1, preferred=other)
    assert sur is not None and sur.scorer_id == other and sur.surprisal == [10.0, 10.0]
    assert sur.why == "the scorer shown in the Likelihood tab"
