"""The field's measures in the measure stage, against hand-computed values on tiny studies
(real DuckDB files): lexical set measures, Jensen–Shannon divergence with its two-halves human
baseline, missing modes, the Hivemind cross-set cosine matrix, quality-gated code dispersions,
and what `measure --json` carries. The null property (a run of people scores as people) is in
test_measure_null.py."""

from __future__ import annotations

import gzip
import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from analysis_fixture import Row, build

from monoscope.cli import main
from monoscope.core.analysis.measure import (
    LEXICAL,
    VERSION,
    MeasureError,
    MeasureRequest,
    measure,
)
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

S, T, A = "sentiment.vader", "topic", "code.algorithms"
H1 = 0.8112781244591328 - 0.5  # JSD((1, 0), (½, ½)) = H(¾, ¼) − ½ bit


def test_jsd_and_missing_modes_match_the_enumeration(study: Study, state: TaskState) -> None:
    """One prompt: 4 source texts, a run of 2. m = min(2, ⌊4/2⌋) = 2; every split of the
    source into A (2 texts), B (the other 2) is equally likely, so the expected values over
    draws are enumerable (6 pairs A)."""
    def row(body: str, lab: str, topic: int, tags: str, run: str | None = None) -> Row:
        return Row("a", body, run=run, ppl=1.0 if run else None, attrs={
            S: (0.9 if lab == "POSITIVE" else 0.1, lab), T: (float(topic), f"t{topic}"),
            A: (float(len(tags.split(";"))), tags)})
    build(study, [row("s1", "POSITIVE", 0, "sort"), row("s2", "POSITIVE", 0, "sort"),
                  row("s3", "NEGATIVE", 1, "dp"), row("s4", "NEGATIVE", 2, "dp"),
                  row("g1", "POSITIVE", 0, "dp;sort", "r"), row("g2", "POSITIVE", 0, "dp;sort", "r")])
    res = measure(study, MeasureRequest(draws=20000, n_boot=100, lexical=False), state)
    run = "run:1"

    def jsd(grp: str, attr: str) -> float:
        r = res.cell(grp, attr, "jsd", run, "a")
        assert r is not None and r["n"] == 2 and r["draws"] == 20000, (grp, attr, r)
        return float(r["value"])

    # sentiment: run POS POS. A = PP (1/6): 0; PN (4/6): H1; NN (1/6): 1 bit.
    # people: B = complement of A: PP|NN and NN|PP give 1, PN|PN gives 0.
    assert jsd(run, S) == pytest.approx((4 * H1 + 1) / 6, abs=0.012)
    assert jsd("source", S) == pytest.approx(2 / 6, abs=0.012)
    # topics 0 0 1 2, run 0 0: A = {0,0}: 0 / B {1,2} vs {0,0}: 1; A = {0,1} or {0,2} (4/6):
    # H1 / B {0,2} vs {0,1}: H(½,¼,¼) − 1 = ½; A = {1,2}: 1 / B {0,0}: 1.
    assert jsd(run, T) == pytest.approx((4 * H1 + 1) / 6, abs=0.012)
    assert jsd("source", T) == pytest.approx((1 + 4 * 0.5 + 1) / 6, abs=0.012)
    # tags: the run has {dp, sort} twice (½, ½); A = {sort, sort} or {dp, dp} (2/6): H1.
    assert jsd(run, A) == pytest.approx(2 * H1 / 6, abs=0.012)
    assert jsd("source", A) == pytest.approx(2 / 6, abs=0.012)
    # missing modes at m = 2: the modes are the categories of the rest R (the 2 texts after
    # A); A = {0,0}: R {1,2}: run misses 2, people (A) 2; A = {0,x}: R {0,y}: 1 and 1;
    # A = {1,2}: R {0,0}: run 0, people 1.  -> run 6/6, people 7/6
    mm = res.cell(run, T, "missing_modes", run, "a")
    assert mm["n"] == 2 and mm["value"] == pytest.approx(1.0, abs=0.012)
    assert res.value("source", T, "missing_modes", run, "a") == pytest.approx(7 / 6, abs=0.012)
    assert res.cell(run, S, "missing_modes", run, "a") is None  # topics only
    # listed on the whole sets: topics 1 and 2 hold 25 % each of the people, none of the run
    assert res.missing_modes(run, "a") == [("1", 0.25), ("2", 0.25)]
    listed = res.cell(run, T, "missing_mode:1", run, "a")
    assert listed["n"] == 4 and listed["draws"] == 0
    # aggregates over the run's (one) prompt carry the same values
    assert res.value(run, S, "jsd", run) == pytest.approx(jsd(run, S))
    assert res.cell("source", S, "jsd", run)["prompts"] == 1


def test_missing_share_threshold(study: Study, state: TaskState) -> None:
    rows = [Row("a", f"s{i}", attrs={T: (float(t), None)}) for i, t in
            enumerate([0] * 7 + [1] * 2 + [2])]
    rows += [Row("a", f"g{i}", run="r", ppl=1.0, attrs={T: (0.0, None)}) for i in range(3)]
    build(study, rows)
    res = measure(study, MeasureRequest(draws=20, n_boot=20, lexical=False), state)
    assert res.missing_modes("run:1", "a") == [("1", 0.2), ("2", 0.1)]  # 10 %: default
    res = measure(study, MeasureRequest(draws=20, n_boot=20, lexical=False,
                                        missing_share=0.15), state)
    assert res.missing_modes("run:1", "a") == [("1", 0.2)]
    assert res.missing_share == 0.15
    with pytest.raises(MeasureError, match="missing_share"):
        measure(study, MeasureRequest(missing_share=0.0), state)


def test_hivemind_cross_cosine_matrix(study: Study, state: TaskState) -> None:
    """Two prompts, 2 texts per group: each half is one text, so the diagonal is exact."""
    r2 = 2 ** -0.5
    vec = {("a", None): [[1, 0], [0, 1]], ("a", "r1"): [[1, 0], [1, 0]],
           ("a", "r2"): [[0, 1], [0, 1]], ("b", None): [[1, 0], [1, 1]],
           ("b", "r1"): [[0, 1], [0, 1]], ("b", "r2"): [[1, 0], [1, 0]]}
    build(study, [Row(p, f"{p} {run} {i}", run=run, ppl=1.0 if run else None, vector=v)
                  for (p, run), vs in vec.items() for i, v in enumerate(vs)])
    res = measure(study, MeasureRequest(draws=50, n_boot=200, lexical=False), state)
    cc = "cross_cosine"
    # per prompt: cross = mean unit vector · mean unit vector; diagonal = the pair's cosine
    assert res.value("source", "embedding", cc, "source", "a") == pytest.approx(0.0)
    assert res.value("source", "embedding", cc, "source", "b") == pytest.approx(r2)
    assert res.value("run:1", "embedding", cc, "run:1", "a") == pytest.approx(1.0)
    assert res.value("source", "embedding", cc, "run:1", "a") == pytest.approx(0.5)
    assert res.value("run:1", "embedding", cc, "source", "a") == pytest.approx(0.5)
    assert res.value("source", "embedding", cc, "run:1", "b") == pytest.approx((r2) / 2)
    assert res.value("source", "embedding", cc, "run:2", "b") == pytest.approx((1 + r2) / 2)
    diag = res.cell("source", "embedding", cc, "source", "a")
    assert diag["n"] == 1 and diag["draws"] == 50
    # the matrix: means over the two prompts
    keys, mat = res.cross_cosine()
    assert keys == ["source", "run:1", "run:2"]
    want = [[r2 / 2, (0.5 + r2 / 2) / 2, (0.5 + (1 + r2) / 2) / 2],
            [(0.5 + r2 / 2) / 2, 1.0, 0.0],
            [(0.5 + (1 + r2) / 2) / 2, 0.0, 1.0]]
    for i in range(3):
        for j in range(3):
            assert mat[i, j] == pytest.approx(want[i][j], abs=1e-6), (i, j)
    agg = res.cell("source", "embedding", cc, "run:1")
    assert agg["prompts"] == 2 and agg["lo"] <= agg["value"] <= agg["hi"]


def test_lexical_measures_on_the_runs_prompts(study: Study, state: TaskState) -> None:
    rows = [Row("a", "the cat sat"), Row("a", "a dog ran far"),
            Row("a", "x y", run="r", ppl=1.0), Row("a", "x y", run="r", ppl=1.0),
            Row("c", "only people here"), Row("c", "no run at all")]
    build(study, rows)
    res = measure(study, MeasureRequest(draws=30, n_boot=50), state)
    run = "run:1"

    def lex(grp: str, stat: str, ref: str = "", prompt: str | None = "a") -> float:
        return res.value(grp, LEXICAL, stat, ref, prompt)

    # the run: "x y x y": 1-grams 2/4, 2-grams {xy, yx} 2/3, 3-grams 2/2, 4-grams 1/1
    assert lex(run, "ngram_diversity") == pytest.approx(0.5 + 2 / 3 + 1 + 1)
    raw = b"x y x y"
    assert lex(run, "compression_ratio") == pytest.approx(
        len(raw) / len(gzip.compress(raw, compresslevel=9, mtime=0)))
    assert lex(run, "self_repetition") == 0.0  # no 4-grams
    assert lex(run, "homogenization") == pytest.approx(1.0)  # identical texts
    assert lex(run, "self_bleu") == pytest.approx(1.0)
    # the people: 7 different words, nothing shared
    assert lex("source", "ngram_diversity") == pytest.approx(4.0)
    assert lex("source", "homogenization") == 0.0
    assert lex("source", "self_bleu") == 0.0
    assert lex("source", "self_repetition") == 0.0
    # matched at m = 2 = both sizes: the whole sets, no draws
    for stat in ("ngram_diversity", "compression_ratio", "self_bleu"):
        for grp in ("source", run):
            r = res.cell(grp, LEXICAL, stat, run, "a")
            assert r["n"] == 2 and r["draws"] == 0
            assert r["value"] == pytest.approx(lex(grp, stat))
    assert res.value(run, LEXICAL, "ngram_diversity", run) == pytest.approx(0.5 + 2 / 3 + 2)
    # prompt c has no run texts: no lexical rows at all (they cost: runs' prompts only)
    assert not [r for r in res.rows if r["attribute"] == LEXICAL and r["prompt"] == "c"]
    assert LEXICAL not in res.attributes  # a pseudo-attribute, like 'wording'
    off = measure(study, MeasureRequest(draws=30, n_boot=50, lexical=False), state)
    assert not [r for r in off.rows if r["attribute"] == LEXICAL]


def test_lexical_subsampled_to_the_runs_n(study: Study, state: TaskState) -> None:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota",
             "kappa"]
    rows = [Row("a", " ".join(words[i:i + 4] + words[:i]), attrs={}) for i in range(6)]
    rows += [Row("a", f"run text {i} again", run="r", ppl=1.0) for i in range(3)]
    build(study, rows)
    res = measure(study, MeasureRequest(draws=500, n_boot=50), state)
    r = res.cell("source", LEXICAL, "ngram_diversity", "run:1", "a")
    assert r["n"] == 3 and r["draws"] == 50  # LEXICAL_DRAWS
    assert r["lo"] <= r["value"] <= r["hi"]


def test_quality_gated_code_dispersion(study: Study, state: TaskState) -> None:
    """Cyclomatic complexity among passing solutions only: source passes 1, 2, 3 (10 fails);
    the run passes 5, 5 (7 fails)."""
    def row(body: str, cyc: float, ok: bool, run: str | None = None) -> Row:
        return Row("a", body, run=run, ppl=1.0 if run else None, attrs={
            "code.cyclomatic": (cyc, None),
            "code.correct": (1.0 if ok else 0.0, "pass" if ok else "fail")})
    build(study, [row("s1", 1, True), row("s2", 2, True), row("s3", 3, True),
                  row("s4", 10, False), row("g1", 5, True, "r"), row("g2", 5, True, "r"),
                  row("g3", 7, False, "r")])
    res = measure(study, MeasureRequest(draws=3000, n_boot=100, lexical=False), state)
    gated, run = "code.cyclomatic|pass", "run:1"
    assert res.gated == {gated: "numeric"}
    src = res.cell("source", gated, "std", "", "a")
    assert src["n"] == 3 and src["value"] == pytest.approx(math.sqrt(2 / 3))
    assert res.cell(run, gated, "std", "", "a")["n"] == 2
    assert res.value(run, gated, "mean", "", "a") == pytest.approx(5.0)
    # matched at the run's 2 passing texts: pairs of {1, 2, 3} have std 0.5, 1, 0.5
    m = res.cell("source", gated, "std", run, "a")
    assert m["n"] == 2 and m["value"] == pytest.approx(2 / 3, abs=0.02)
    assert res.value(run, gated, "index", run, "a") == 0.0
    assert res.value(run, gated, "index", run) == 0.0
    # ungated rows are unchanged beside them; code.correct itself is not gated
    assert res.cell("source", "code.cyclomatic", "std", "", "a")["n"] == 4
    assert not [r for r in res.rows if r["attribute"] == "code.correct|pass"]
    assert "code.cyclomatic|pass" not in res.attributes


def test_measure_json_carries_the_field_measures(study: Study, state: TaskState,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    rows = []
    for i in range(6):
        rows.append(Row("a", f"people say thing {i} about it", vector=[1.0, 0.1 * i], attrs={
            T: (float(i % 3), None), "code.cyclomatic": (float(i), None),
            "code.correct": (1.0, "pass" if i % 2 else "fail")}))
    for i in range(3):
        rows.append(Row("a", f"model says thing {i}", run="r", ppl=1.0, vector=[1.0, 0.0],
                        attrs={T: (0.0, None), "code.cyclomatic": (2.0, None),
                               "code.correct": (1.0, "pass")}))
    build(study, rows)
    path = str(study.path)
    study.close()
    assert main(["measure", path, "--json", "--draws", "20", "--missing-share", "0.2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["version"] == VERSION and out["missing_share"] == 0.2
    assert out["gated_attributes"] == {"code.cyclomatic|pass": "numeric",
                                       "topic|pass": "categorical",
                                       "embedding|pass": "embedding"}
    stats = {(r["attribute"], r["stat"]) for r in out["rows"]}
    for want in [(T, "jsd"), (T, "missing_modes"), (T, "missing_mode:1"),
                 (T, "missing_mode:2"), ("embedding", "cross_cosine"),
                 ("code.cyclomatic|pass", "index"), ("embedding|pass", "index"),
                 (LEXICAL, "compression_ratio"), (LEXICAL, "ngram_diversity"),
                 (LEXICAL, "self_repetition"), (LEXICAL, "self_bleu"),
                 (LEXICAL, "homogenization")]:
        assert want in stats, want
    assert main(["measure", path]) == 0
    text = capsys.readouterr().out
    assert "mean cross-set cosine" in text and "self_bleu" in text and "jsd" in text


def test_lexical_set_self_bleu_both_paths_equal_sacrebleu(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """`LexicalSet` counts Self-BLEU's clipped matches in dense (draws x n-grams) arrays, or by
    sorting when those would be large: both equal sacrebleu on every subset."""
    import numpy as np
    import sacrebleu

    from monoscope.core.analysis import metrics

    rng = np.random.default_rng(3)
    words = ["the", "film", "is", "a", "slog", "delight", "and", "the", "cast", "x"]
    texts = [" ".join(rng.choice(words, int(rng.integers(1, 25)))) for _ in range(14)]
    texts += ["the the the film", "the the the film", ""]
    idx = np.argsort(rng.random((12, len(texts))), axis=1)[:, :6]
    want = [np.mean([sacrebleu.sentence_bleu(texts[i], [texts[j] for j in row if j != i]).score
                     for i in row]) / 100 for row in idx.tolist()]
    dense = metrics.LexicalSet(texts).stats(idx)["self_bleu"]
    monkeypatch.setattr(metrics, "_DENSE_MAX", 0)
    sorted_ = metrics.LexicalSet(texts).stats(idx)["self_bleu"]
    assert np.allclose(dense, want, rtol=1e-12, atol=1e-12)
    assert np.allclose(sorted_, want, rtol=1e-12, atol=1e-12)


def test_schema_doc_and_json_carry_every_stored_measure(study: Study, state: TaskState,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    """Every statistic, attribute family, reference form and parameter that the stage stores
    on a study with every kind of attribute (categorical, numeric, set, embedding, code
    correctness for the gate, words for the lexical measures) is in `measure --json` and named
    in docs/measure-schema.md (so the schema page cannot fall behind the stage)."""
    import re

    doc = (Path(__file__).parents[2] / "docs" / "measure-schema.md").read_text()
    rows = []
    for i in range(8):
        rows.append(Row("a", f"people say thing {i} about the film", vector=[1.0, 0.2 * i, 0.1],
                        attrs={S: (0.9 if i % 2 else 0.1, "POSITIVE" if i % 2 else "NEGATIVE"),
                               T: (float(i % 3), f"t{i % 3}"), "text.words": (float(5 + i), None),
                               A: (2.0, "sort;dp" if i % 2 else "sort;graph"),
                               "code.correct": (1.0, "pass" if i % 3 else "fail")}))
    for r_name in ("r1", "r2"):
        for i in range(4):
            rows.append(Row("a", f"model {r_name} says thing {i}", run=r_name, ppl=1.0 + i,
                            vector=[1.0, 0.05 * i, 0.0],
                            attrs={S: (0.9, "POSITIVE"), T: (0.0, "t0"),
                                   "text.words": (6.0, None), A: (1.0, "sort"),
                                   "code.correct": (1.0, "pass" if i else "fail")}))
    build(study, rows)
    path = str(study.path)
    study.close()
    assert main(["measure", path, "--json", "--draws", "20"]) == 0
    out = json.loads(capsys.readouterr().out)
    with Study(path) as st:
        stored = st.query("SELECT DISTINCT attribute, stat, ref FROM measurements")
        n_rows = st.scalar("SELECT count(*) FROM measurements")
    assert len(out["rows"]) == n_rows  # the JSON carries every stored row
    assert {(r["attribute"], r["stat"], r["ref"]) for r in out["rows"]} == {
        (r["attribute"], r["stat"], r["ref"]) for r in stored}
    stats = {r["stat"] for r in stored}
    assert {"distinct_k", "vendi_q0.5", "vendi_qinf", "jsd", "missing_modes", "cross_cosine",
            "self_bleu", "homogenization", "accuracy", "jaccard", "wasserstein"} <= stats
    missing_doc = set()
    for stat in stats:
        name = "missing_mode:<topic id>" if stat.startswith("missing_mode:") else stat
        if f"`{name}`" not in doc:
            missing_doc.add(name)
    assert not missing_doc, f"stats not in docs/measure-schema.md: {sorted(missing_doc)}"
    families = {a for a in (r["attribute"] for r in stored)}
    assert {"embedding", "lexical", "wording", "embedding|pass", "topic|pass"} <= families
    for fam in ("`embedding`", "`lexical`", "`wording`", "`<name>\\|pass`"):
        assert fam in doc, fam
    refs = {re.sub(r"\d+", "<id>", r["ref"]) for r in stored}
    assert refs == {"", "run:<id>", "acc", "acc:run:<id>", "source"}
    for ref in ("`run:<id>`", "`acc`", "`acc:run:<id>`", "`''`", "`source`"):
        assert ref in doc, ref
    params = set(out["params"])
    listed = set(re.findall(r"`(\w+)`", doc[doc.index("`params_hash`, `params`"):
                                            doc.index("`fingerprint`")]))
    assert params <= listed, sorted(params - listed)
    for key in out:  # every top-level key of the JSON is in the documented example
        assert f'"{key}"' in doc, key


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # vendi_score's scipy.sparse.csr lookup
def test_stage_vendi_dual_equals_the_full_matrix_and_the_vendi_score_package(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The stage's Vendi (`Pool.stats`) takes the eigenvalues of the d×d dual UᵀU/m when a
    set has more texts than dimensions (m > d), of the m×m cosine matrix otherwise, once per
    draw for all four orders. Both routes give the same values as the other route and as the
    ``vendi-score`` package (its dual `score_dual` for n > d, its `score_K` on the n×n for
    n < d, each exact there) to 1e-9, on the whole set and on drawn subsets (chunked or not)."""
    import numpy as np

    from monoscope.core.analysis import measure as stage
    from monoscope.core.analysis import metrics

    vendi = pytest.importorskip("vendi_score.vendi")  # vendi-score==0.0.3 (dev extra)
    orders = {"vendi_q0.5": 0.5, "vendi": 1.0, "vendi_q2": 2.0, "vendi_qinf": math.inf}
    shapes: list[tuple[int, ...]] = []
    eigvalsh = np.linalg.eigvalsh

    def spy(a: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
        shapes.append(a.shape)
        return eigvalsh(a)  # type: ignore[no-any-return]

    monkeypatch.setattr(np.linalg, "eigvalsh", spy)
    rng = np.random.default_rng(3)
    for n, d in ((90, 16), (14, 40)):
        x = rng.normal(size=(n, d)) + 0.8 * rng.normal(size=d)  # a shared direction
        u = x / np.linalg.norm(x, axis=1, keepdims=True)
        pool = stage.Pool("embedding", stage.EMBEDDING, vectors=x)
        shapes.clear()
        whole = pool.stats(np.arange(n, dtype=np.int64)[None, :])
        assert shapes == [(1, min(n, d), min(n, d))]  # one decomposition, the smaller side
        full = eigvalsh(u @ u.T / n)  # the n×n route
        dual = eigvalsh(u.T @ u / n)  # the d×d route
        for stat, q in orders.items():
            got = float(whole[stat][0])
            q_pkg = "inf" if math.isinf(q) else q
            pkg = float(vendi.score_dual(x, q=q_pkg)) if n > d else float(
                vendi.score_K(x @ x.T, q=q_pkg, normalize=True))
            assert got == pytest.approx(pkg, rel=1e-9), (n, d, stat)
            assert got == pytest.approx(float(metrics.renyi_vendi(full, q)), rel=1e-9)
            assert got == pytest.approx(float(metrics.renyi_vendi(dual, q)), rel=1e-9)
            assert got == pytest.approx(metrics.vendi_score_q(x, q), rel=1e-9)
        # drawn subsets of m texts, m > d (dual) and m < d (m×m), against the m×m per draw
        for m in sorted({n - 3, min(n, d) - 4}):
            idx = np.argsort(rng.random((7, n)), axis=1)[:, :m].astype(np.int64)
            shapes.clear()
            drawn = pool.stats(idx)
            assert shapes == [(7, min(m, d), min(m, d))]
            for stat, q in orders.items():
                want = [float(metrics.renyi_vendi(eigvalsh(u[r] @ u[r].T / m), q)) for r in idx]
                np.testing.assert_allclose(drawn[stat], want, rtol=1e-9, err_msg=stat)
            monkeypatch.setattr(stage, "EMBED_CHUNK", 2 * m * max(m, d))  # 2 draws a chunk
            chunked = stage.Pool("embedding", stage.EMBEDDING, vectors=x).stats(idx)
            monkeypatch.setattr(stage, "EMBED_CHUNK", 1 << 22)
            assert chunked.keys() == drawn.keys()
            for stat in drawn:
                np.testing.assert_array_equal(chunked[stat], drawn[stat], err_msg=stat)
