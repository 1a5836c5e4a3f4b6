"""Read models of the model's own probabilities (scoring stage) for the window and the report.

Stored per-text scores (`store.scores`) and the measure stage's stored `logprob` rows only:
nothing here computes a statistic. Which run: a run whose model and template have a scorer
(`scoring.run_scorers`); its human texts are scored under the same model and template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from monoscope.core.analysis.measure import LOGPROB, MeasureResult
from monoscope.core.explore import queries
from monoscope.core.store import Study, reads
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store import scores as scores_repo

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ScoredRun:
    run_id: int
    label: str
    model: str
    scorer_id: int


def scored_runs(study: Study, dataset_id: int) -> list[ScoredRun]:
    """Runs of the dataset whose model and template scored texts, by run id."""
    from monoscope.core.scoring import run_scorers

    have = {s.id for s in scores_repo.dataset_scorers(study, dataset_id)}
    sid_of = run_scorers(study, dataset_id)
    out = []
    for r in queries.runs(study, dataset_id):
        sid = sid_of.get(r.id)
        if sid is not None and sid in have:
            out.append(ScoredRun(r.id, r.label, r.model, sid))
    return out


def _values(study: Study, scorer_id: int, dataset_id: int) -> dict[str, Any]:
    tab = scores_repo.score_frame(study, scorer_id, dataset_id)
    return {c: tab.column(c).to_numpy(zero_copy_only=False) for c in tab.column_names}


@dataclass
class PromptLikelihood:
    """One prompt under one scored run: per-text mean log-probabilities of the human texts and
    of the run's samples, the least likely human texts, and the stored measure rows."""

    run: ScoredRun
    prompt_key: str
    human_ids: I64
    human: F64  # mean per-token log-probability of each human text (nats)
    sample_ids: I64
    samples: F64
    least_likely: list[dict[str, Any]] = field(default_factory=list)
    measures: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<grp>:<stat>" -> row


def prompt_likelihood(study: Study, dataset_id: int, prompt_key: str, run: ScoredRun,
                      result: MeasureResult | None = None, limit: int = 25
                      ) -> PromptLikelihood | None:
    pid = datasets_repo.prompt_id(study, dataset_id, prompt_key)
    if pid is None:
        return None
    v = _values(study, run.scorer_id, dataset_id)
    ids = np.asarray(v["text_id"], dtype=np.int64)
    lp = np.asarray(v["mean_logprob"], dtype=np.float64)
    here = (np.asarray(v["prompt_id"], dtype=np.int64) == pid) & np.isfinite(lp)
    rid = np.asarray(v["run_id"], dtype=np.float64)  # NaN for source
    src = here & np.isnan(rid)
    gen = here & (rid == run.run_id)
    order = np.argsort(lp[src], kind="stable")
    least = []
    ntok = np.asarray(v["n_tokens"], dtype=np.int64)[src]
    for i in order[:limit]:
        tid = int(ids[src][i])
        least.append({"text_id": tid, "mean_logprob": float(lp[src][i]),
                      "n_tokens": int(ntok[i]), "snippet": queries.snippet(study, tid, 200)})
    out = PromptLikelihood(run, prompt_key, ids[src], lp[src], ids[gen], lp[gen], least)
    if result is not None:
        key = f"run:{run.run_id}"
        for grp in ("source", key):
            for stat in ("mean_logprob", "gap", "share_below_p5", "p5"):
                c = result.cell(grp, LOGPROB, stat, ref=key, prompt=prompt_key)
                if c is not None:
                    out.measures[f"{'source' if grp == 'source' else 'run'}:{stat}"] = c
    return out


def prompt_ranking(result: MeasureResult, run: ScoredRun) -> list[dict[str, Any]]:
    """The run's prompts by how improbable the people's texts are to the model (lowest human
    mean log-probability first), with the samples' mean, the gap and the share below the
    samples' 5th percentile, from the stored rows."""
    key = f"run:{run.run_id}"
    human = result.per_prompt("source", LOGPROB, "mean_logprob", key)
    own = result.per_prompt(key, LOGPROB, "mean_logprob", key)
    gap = result.per_prompt(key, LOGPROB, "gap", key)
    share = result.per_prompt(key, LOGPROB, "share_below_p5", key)
    titles = {p["key"]: p["title"] for p in result.prompts}
    rows = []
    for p, v in human.items():
        base = result.cell("source", LOGPROB, "share_below_p5", ref=key, prompt=p)
        rows.append({"prompt": p, "title": titles.get(p, p), "human": v,
                     "samples": own.get(p), "gap": gap.get(p), "share": share.get(p),
                     "people_lo": base["lo"] if base else None,
                     "people_hi": base["hi"] if base else None,
                     "n": (result.cell("source", LOGPROB, "mean_logprob", key, p) or {}).get("n")})
    rows.sort(key=lambda r: (r["human"] if r["human"] is not None else np.inf))
    return rows


@dataclass
class LogprobPoints:
    """A prompt's map points with the model's mean log-probability of each text (NaN: not
    scored under this run's scorer)."""

    points: queries.Points
    logprob: F64


def map_logprob(study: Study, dataset_id: int, prompt_key: str, run: ScoredRun
                ) -> LogprobPoints | None:
    pts = queries.points(study, dataset_id, prompt_key)
    if pts is None:
        return None
    return LogprobPoints(pts, logprob_values(study, dataset_id, run.scorer_id, pts.text_id))


@dataclass(frozen=True)
class ScorerChoice:
    """A scorer that scored texts of a dataset, as the map's "Colour by" offers it."""

    scorer_id: int
    label: str  # '<model name> <template>'
    n_texts: int


def scorer_choices(study: Study, dataset_id: int) -> list[ScorerChoice]:
    """The dataset's scorers, by id."""
    return [ScorerChoice(s.id, f"{s.model} {s.template}", s.n_texts)
            for s in scores_repo.dataset_scorers(study, dataset_id)]


def logprob_values(study: Study, dataset_id: int, scorer_id: int,
                   text_ids: npt.NDArray[np.int64]) -> F64:
    """The scorer's mean per-token log-probability of each text (aligned with ``text_ids``;
    NaN: not scored by it)."""
    v = _values(study, scorer_id, dataset_id)
    ids = np.asarray(v["text_id"], dtype=np.int64)
    lp = np.asarray(v["mean_logprob"], dtype=np.float64)
    want = np.asarray(text_ids, dtype=np.int64)
    out = np.full(want.size, np.nan)
    if ids.size and want.size:
        order = np.argsort(ids, kind="stable")
        ids, lp = ids[order], lp[order]
        pos = np.minimum(np.searchsorted(ids, want), ids.size - 1)
        hit = ids[pos] == want
        out[hit] = lp[pos[hit]]
    return out


@dataclass
class TokenSurprisal:
    """A text cut into its tokens with each token's surprisal (−log p, nats) and the entropy
    of the model's distribution there, under one scorer."""

    scorer: str
    pieces: list[str]
    surprisal: list[float]
    entropy: list[float]
    mean_logprob: float | None
    truncated: bool
    scorer_id: int = 0
    why: str = ""  # why this scorer ("its run's own model and template", ...)


def token_surprisal(study: Study, text_id: int, preferred: int | None = None
                    ) -> TokenSurprisal | None:
    """The text's tokens under the scorer that fits it (None: not scored, or its tokens do
    not spell the body): a generated text's own run's model and template; else the
    ``preferred`` scorer (the one the Likelihood tab shows); else the first that scored it."""
    sids = scores_repo.text_scorers(study, text_id)
    if not sids:
        return None
    sid, why = sids[0], ("the first of {n} scorers of this text" if len(sids) > 1 else "")
    d = reads.text_row(study, text_id)
    own = None
    if d is not None and d.get("run_id") is not None:
        from monoscope.core.scoring import run_scorers

        own = run_scorers(study, int(d["dataset_id"])).get(int(d["run_id"]))
    if own is not None and own in sids:
        sid, why = own, "its run's own model and template"
    elif preferred is not None and preferred in sids:
        sid, why = preferred, "the scorer shown in the Likelihood tab"
    row = scores_repo.text_score(study, sid, text_id)
    if row is None or row["ends"] is None:
        return None
    raw = str(row["body"]).encode("utf-8")
    pieces, start = [], 0
    for end in row["ends"].tolist():
        pieces.append(raw[start:end].decode("utf-8", "replace"))
        start = end
    if start < len(raw):  # a truncated text: the rest unscored
        pieces.append(raw[start:].decode("utf-8", "replace"))
    label = scores_repo.scorer_label(study, sid)
    lp = [float(x) for x in row["logprobs"]]
    return TokenSurprisal(label, pieces, [-x for x in lp], [float(x) for x in row["entropies"]],
                          row["mean_logprob"], bool(row["truncated"]), sid,
                          why.format(n=len(sids)))
