"""The main map coloured by the model's own log-probability: the fixture study's first prompt's
human texts scored for real by the bundled SmolLM2 under two templates (two scorers), the
window's "Colour by" offers both, colours every point by its stored mean log-probability
(grey: not scored) with a colour bar, and goes back to the sets; the inspector shows the
surprisal under the scorer the Likelihood tab shows, else the first, and says which."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from window_helper import new_window

from monoscope.core.explore.likelihood import logprob_values, scorer_choices, token_surprisal
from monoscope.core.scoring import ScoreRequest, score
from monoscope.core.store import Study
from monoscope.core.store import scores as scores_repo
from monoscope.core.tasks import TaskState

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scored_file(tmp_path_factory: pytest.TempPathFactory, fixture_study_file: Path) -> Path:
    """The fixture study with its first prompt's 30 human texts scored under two templates."""
    path = Path(tmp_path_factory.mktemp("scored")) / "scored.duckdb"
    shutil.copy(fixture_study_file, path)
    mp = pytest.MonkeyPatch()
    mp.setenv("MONOSCOPE_THREADS", "1")  # shared 2-core machine
    try:
        with Study(path) as st:
            key = str(st.query("SELECT key FROM prompts ORDER BY id LIMIT 1")[0]["key"])
            for tpl in ("personalized", "Write a review of {title}:"):
                res = score(st, ScoreRequest(model="smollm2", template=tpl, prompt_keys=(key,),
                                             max_tokens=48), TaskState())
                assert res.scored == 30
    finally:
        mp.undo()
    return path


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "study.duckdb"
    shutil.copy(src, dst)
    return dst


def test_map_coloured_by_log_probability(qtbot: Any, scored_file: Path, tmp_path: Path,
                                         settings: Any) -> None:
    win = new_window(qtbot, settings, _copy(scored_file, tmp_path))
    st, ds = win.study, win.state.dataset_id
    key = str(st.query("SELECT key FROM prompts ORDER BY id LIMIT 1")[0]["key"])
    win.show_prompt(key)
    assert win.wait_idle(120)
    box = win.map.colour_box
    choices = scorer_choices(st, ds)
    assert [c.n_texts for c in choices] == [30, 30]
    assert [box.itemText(i) for i in range(box.count())] == (
        ["Colour: set"] + [f"Colour: log p · {c.label}" for c in choices])
    assert win.map.cloud.values is None and not win.map.value_bar.isVisible()

    box.setCurrentIndex(2)  # the second scorer
    assert win.wait_idle(120)
    values = win.map.cloud.values
    assert values is not None
    frame = scores_repo.score_frame(st, choices[1].scorer_id, ds).to_pydict()
    stored = dict(zip(frame["text_id"], frame["mean_logprob"], strict=True))
    ids = win.map.text_id
    src = win.map.cloud.group == 0
    # every human point carries its stored score, the generated ones none (not scored)
    assert np.isfinite(values[src]).all() and np.isnan(values[~src]).all()
    assert values[src] == pytest.approx([stored[int(t)] for t in ids[src]])
    assert logprob_values(st, ds, choices[1].scorer_id, ids[src]) == pytest.approx(values[src])
    assert win.map.value_bar.isVisible()
    lo, hi = win.map.cloud.value_range
    assert lo == pytest.approx(float(np.percentile(values[src], 2)))
    assert hi == pytest.approx(float(np.percentile(values[src], 98)))
    assert f"{lo:.2f}" in win.map.value_lo.text() and f"{hi:.2f}" in win.map.value_hi.text()
    assert choices[1].label in win.map.value_title.text()
    assert f"not scored ({int((~src).sum()):,})" in win.map.value_missing.text()
    # points mode: the least likely human text in the scale's first colour, the most likely
    # in its last, a generated text grey
    cloud = win.map.cloud
    assert cloud.mode == "points"
    lut = cloud.value_lut
    spots = cloud.scatters[0].data
    by_xy = {(float(x), float(y)): b.color().getRgb()[:3]
             for x, y, b in zip(spots["x"], spots["y"], spots["brush"], strict=True)}
    for pick, want in ((np.nanargmin(values), lut[0]), (np.nanargmax(values), lut[255])):
        got = by_xy[(float(cloud.x[pick]), float(cloud.y[pick]))]
        assert got == tuple(int(c) for c in want)
    gen = cloud.scatters[1].data
    assert len(gen) and gen["brush"][0].color().getRgb()[:3] == cloud.missing_color
    # the dense (raster) view: pixels in the scale's colours
    cloud.point_limit = 0
    cloud.render()
    img = cloud.image.image
    assert cloud.mode == "raster" and img is not None
    px = img[img[..., 3] > 100].astype(np.float64)  # premultiplied BGRA
    assert len(px) >= 10
    rgb = px[:, 2::-1] * 255.0 / px[:, 3:4]
    palette = np.vstack([lut.astype(np.float64), [cloud.missing_color]])
    near = np.abs(rgb[:, None, :] - palette[None, :, :]).max(axis=2).min(axis=1)
    assert near.max() < 4  # every pixel a colour of the scale (or grey)
    win.grab().save(str(tmp_path / "map_logp.png"))

    box.setCurrentIndex(0)  # back to the sets
    assert win.wait_idle(120)
    assert win.map.cloud.values is None and not win.map.value_bar.isVisible()
    win.close()


def test_inspector_surprisal_follows_the_likelihood_scorer(scored_file: Path,
                                                           tmp_path: Path) -> None:
    with Study(_copy(scored_file, tmp_path)) as st:
        ds = int(st.query("SELECT id FROM datasets ORDER BY id LIMIT 1")[0]["id"])
        first, second = scorer_choices(st, ds)
        tid = int(scores_repo.score_frame(st, first.scorer_id, ds).column("text_id")[0].as_py())
        got = token_surprisal(st, tid)  # no preference: the first, said so
        assert got is not None and got.scorer_id == first.scorer_id
        assert got.scorer == first.label and got.why == "the first of 2 scorers of this text"
        got = token_surprisal(st, tid, preferred=second.scorer_id)
        assert got is not None and got.scorer_id == second.scorer_id
        assert got.why == "the scorer shown in the Likelihood tab"
        row = scores_repo.text_score(st, second.scorer_id, tid)
        assert row is not None
        assert got.surprisal == pytest.approx([-float(x) for x in row["logprobs"]])
        assert "".join(got.pieces) == row["body"]
        from monoscope.ui.views.inspector import surprisal_html

        page = surprisal_html(got)
        assert second.label in page and "the scorer shown in the Likelihood tab" in page
