"""Repository of the model's own probabilities: `scorers`, `text_scores` and
`generation_tokens` (migration 006).

A scorer is (model, prompt template, scorer version). A text's row under a scorer holds its
teacher-forced log-probabilities after its exact rendered prompt; rows are only ever inserted
(a text already scored is never rewritten), so a killed scoring resumes where its last commit
ended. Identical (model, version, rendered prompt, body) pairs share their scores: a pending
text whose pair another scorer row already holds gets a copy instead of a model call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from monoscope.core.store.study import Study


# -- scorers ------------------------------------------------------------------------------------
def ensure_scorer(study: Study, model_id: int, template: str, template_hash: str,
                  template_json: dict[str, Any], version: str) -> int:
    """Id of the scorer for (model, template hash, version), created when missing."""
    with study.transaction() as cur:
        rows = cur.execute("SELECT id FROM scorers WHERE model_id = ? AND template_hash = ? "
                           "AND version = ?", [model_id, template_hash, version]).fetchall()
        if rows:
            return int(rows[0][0])
        got = cur.execute(
            "INSERT INTO scorers (model_id, template, template_hash, template_json, version) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            [model_id, template, template_hash, json.dumps(template_json, sort_keys=True),
             version]).fetchall()
        return int(got[0][0])


def find_scorer(study: Study, model_id: int, template_hash: str, version: str) -> int | None:
    row = study.scalar("SELECT id FROM scorers WHERE model_id = ? AND template_hash = ? AND "
                       "version = ?", [model_id, template_hash, version])
    return None if row is None else int(row)


@dataclass(frozen=True)
class ScorerRow:
    """A scorer with its model's name and how many texts of a dataset it has scored."""

    id: int
    model_id: int
    model: str
    template: str
    template_hash: str
    version: str
    n_texts: int


def dataset_scorers(study: Study, dataset_id: int) -> list[ScorerRow]:
    """The scorers that scored texts of this dataset, by id."""
    rows = study.query(
        "SELECT s.id, s.model_id, m.name AS model, s.template, s.template_hash, s.version, "
        "count(*) AS n FROM scorers s JOIN models m ON m.id = s.model_id "
        "JOIN text_scores x ON x.scorer_id = s.id JOIN texts t ON t.id = x.text_id "
        "JOIN prompts p ON p.id = t.prompt_id WHERE p.dataset_id = ? "
        "GROUP BY ALL ORDER BY s.id", [dataset_id])
    return [ScorerRow(int(r["id"]), int(r["model_id"]), str(r["model"]), str(r["template"]),
                      str(r["template_hash"]), str(r["version"]), int(r["n"])) for r in rows]


# -- what to score ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LlamaRun:
    """A llama.cpp run of a dataset with what its prompts were made from."""

    id: int
    model_id: int
    model_path: str
    model_name: str
    chat_template: str | None
    template: str
    meta: dict[str, Any]
    prompt_keys: list[str]


def llama_runs(study: Study, dataset_id: int) -> list[LlamaRun]:
    """The dataset's runs made in process by llama.cpp with a registered model, by id."""
    rows = study.query(
        "SELECT r.id, r.model_id, m.path, m.name, m.chat_template, r.template, r.meta, "
        "r.prompt_filter FROM runs r JOIN models m ON m.id = r.model_id "
        "WHERE r.dataset_id = ? AND r.engine = 'llama.cpp' ORDER BY r.id", [dataset_id])
    return [LlamaRun(int(r["id"]), int(r["model_id"]), str(r["path"]), str(r["name"]),
                     r["chat_template"], str(r["template"]), json.loads(r["meta"] or "{}"),
                     [str(k) for k in json.loads(r["prompt_filter"] or "{}").get("keys", [])])
            for r in rows]


@dataclass(frozen=True)
class PendingText:
    """A text without a row under the scorer, with what rendering its prompt needs."""

    text_id: int
    prompt_id: int
    origin: str
    sample_index: int
    body: str
    content_hash: str
    prompt_text: str | None  # a generated text's exact prompt (None for source texts)


def pending(study: Study, scorer_id: int, dataset_id: int, prompt_ids: Sequence[int],
            run_ids: Sequence[int]) -> list[PendingText]:
    """Source texts of the prompts and generated texts of the runs that the scorer has not
    scored, in text id order."""
    with study.reader() as cur:
        rows = cur.execute(
            """SELECT t.id, t.prompt_id, t.origin, t.sample_index, t.body, t.content_hash,
                      g.prompt_text
               FROM texts t JOIN prompts p ON p.id = t.prompt_id
               LEFT JOIN generations g ON g.text_id = t.id
               WHERE p.dataset_id = ?
                 AND ((t.origin = 'source' AND t.prompt_id IN (SELECT unnest(?)))
                      OR (t.origin = 'generated' AND t.run_id IN (SELECT unnest(?))))
                 AND NOT EXISTS (SELECT 1 FROM text_scores x
                                 WHERE x.scorer_id = ? AND x.text_id = t.id)
               ORDER BY t.id""",
            [dataset_id, list(prompt_ids), list(run_ids), scorer_id]).fetchall()
    return [PendingText(int(r[0]), int(r[1]), str(r[2]), int(r[3]), str(r[4]), str(r[5]), r[6])
            for r in rows]


# -- writing ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreRow:
    """One text's score under a scorer, arrays already packed (see `pack`)."""

    text_id: int
    context_hash: str
    content_hash: str
    n_context: int
    n_tokens: int
    truncated: bool
    total_logprob: float | None
    mean_logprob: float | None
    perplexity: float | None
    mean_entropy: float | None
    logprobs: bytes
    entropies: bytes
    ends: bytes | None


_COLS = ("text_id", "context_hash", "content_hash", "n_context", "n_tokens", "truncated",
         "total_logprob", "mean_logprob", "perplexity", "mean_entropy", "logprobs", "entropies",
         "ends")
_TYPES = (pa.int64(), pa.string(), pa.string(), pa.int32(), pa.int32(), pa.bool_(),
          pa.float64(), pa.float64(), pa.float64(), pa.float64(), pa.binary(), pa.binary(),
          pa.binary())


def pack_f16(values: npt.NDArray[Any]) -> bytes:
    return np.asarray(values, dtype="<f2").tobytes()


def pack_u32(values: Sequence[int]) -> bytes:
    return np.asarray(values, dtype="<u4").tobytes()


def unpack_f16(raw: bytes | None) -> npt.NDArray[np.float32]:
    return np.frombuffer(raw or b"", dtype="<f2").astype(np.float32)


def unpack_u32(raw: bytes | None) -> npt.NDArray[np.int64]:
    return np.frombuffer(raw or b"", dtype="<u4").astype(np.int64)


def unpack_i32(raw: bytes | None) -> npt.NDArray[np.int64]:
    return np.frombuffer(raw or b"", dtype="<i4").astype(np.int64)


def write_scores(study: Study, scorer_id: int, rows: Sequence[ScoreRow]) -> int:
    """Insert the rows in one transaction; a text the scorer already has is left as it is.
    Returns the rows inserted."""
    if not rows:
        return 0
    table = pa.table({c: pa.array([getattr(r, c) for r in rows], type=t)
                      for c, t in zip(_COLS, _TYPES, strict=True)})
    with study.transaction() as cur:
        before = cur.execute("SELECT count(*) FROM text_scores WHERE scorer_id = ?",
                             [scorer_id]).fetchall()[0]
        cur.register("_score_rows", table)
        cur.execute(f"INSERT INTO text_scores (scorer_id, {', '.join(_COLS)}) "
                    f"SELECT ?, {', '.join(_COLS)} FROM _score_rows r WHERE NOT EXISTS ("
                    "SELECT 1 FROM text_scores x WHERE x.scorer_id = ? AND x.text_id = r.text_id)",
                    [scorer_id, scorer_id])
        cur.unregister("_score_rows")
        after = cur.execute("SELECT count(*) FROM text_scores WHERE scorer_id = ?",
                            [scorer_id]).fetchall()[0]
    return int(after[0]) - int(before[0])


def copy_cached(study: Study, scorer_id: int, model_id: int, version: str,
                wanted: Sequence[tuple[int, str, str]]) -> set[int]:
    """Give each wanted (text id, context hash, content hash) the score another row of the same
    model and version holds for the same pair; the text ids that got one."""
    if not wanted:
        return set()
    table = pa.table({
        "text_id": pa.array([w[0] for w in wanted], type=pa.int64()),
        "context_hash": pa.array([w[1] for w in wanted], type=pa.string()),
        "content_hash": pa.array([w[2] for w in wanted], type=pa.string())})
    cols = [c for c in _COLS if c not in ("text_id", "context_hash", "content_hash")]
    with study.transaction() as cur:
        cur.register("_score_wanted", table)
        had = {int(r[0]) for r in cur.execute(
            "SELECT text_id FROM text_scores WHERE scorer_id = ? AND text_id IN "
            "(SELECT text_id FROM _score_wanted)", [scorer_id]).fetchall()}
        cur.execute(
            f"""INSERT INTO text_scores (scorer_id, text_id, context_hash, content_hash,
                                         {', '.join(cols)})
                SELECT ?, w.text_id, w.context_hash, w.content_hash,
                       {', '.join('c.' + c for c in cols)}
                FROM _score_wanted w JOIN (
                    SELECT DISTINCT ON (x.context_hash, x.content_hash) x.*
                    FROM text_scores x JOIN scorers s ON s.id = x.scorer_id
                    WHERE s.model_id = ? AND s.version = ?) c
                  ON c.context_hash = w.context_hash AND c.content_hash = w.content_hash
                WHERE NOT EXISTS (SELECT 1 FROM text_scores y
                                  WHERE y.scorer_id = ? AND y.text_id = w.text_id)""",
            [scorer_id, model_id, version, scorer_id])
        now = {int(r[0]) for r in cur.execute(
            "SELECT text_id FROM text_scores WHERE scorer_id = ? AND text_id IN "
            "(SELECT text_id FROM _score_wanted)", [scorer_id]).fetchall()}
        cur.unregister("_score_wanted")
    return now - had


# -- reading ------------------------------------------------------------------------------------
def count_rows(study: Study, scorer_id: int | None = None) -> int:
    if scorer_id is None:
        return int(study.scalar("SELECT count(*) FROM text_scores"))
    return int(study.scalar("SELECT count(*) FROM text_scores WHERE scorer_id = ?", [scorer_id]))


def row_stamps(study: Study) -> list[tuple[int, int, str]]:
    """(scorer, text, scored_at) of every row: a resumed scoring must leave these as they were."""
    rows = study.query("SELECT scorer_id, text_id, CAST(scored_at AS VARCHAR) AS at, "
                       "mean_logprob FROM text_scores ORDER BY scorer_id, text_id")
    return [(int(r["scorer_id"]), int(r["text_id"]), f"{r['at']}|{r['mean_logprob']}")
            for r in rows]


def score_frame(study: Study, scorer_id: int, dataset_id: int) -> pa.Table:
    """text_id, prompt_id, run_id (NULL: source), n_tokens, mean_logprob, total_logprob,
    mean_entropy of every text of the dataset the scorer has scored, by text id."""
    with study.reader() as cur:
        tab: pa.Table = cur.sql(
            "SELECT t.id AS text_id, t.prompt_id, t.run_id, x.n_tokens, x.mean_logprob, "
            "x.total_logprob, x.mean_entropy FROM text_scores x JOIN texts t ON t.id = x.text_id "
            "JOIN prompts p ON p.id = t.prompt_id WHERE x.scorer_id = ? AND p.dataset_id = ? "
            "ORDER BY t.id", params=[scorer_id, dataset_id]).to_arrow_table()
    return tab


def text_score(study: Study, scorer_id: int, text_id: int) -> dict[str, Any] | None:
    """One text's stored score with its arrays unpacked and its body; None if not scored."""
    rows = study.query(
        "SELECT x.*, t.body FROM text_scores x JOIN texts t ON t.id = x.text_id "
        "WHERE x.scorer_id = ? AND x.text_id = ?", [scorer_id, text_id])
    if not rows:
        return None
    r = dict(rows[0])
    r["logprobs"] = unpack_f16(r["logprobs"])
    r["entropies"] = unpack_f16(r["entropies"])
    r["ends"] = unpack_u32(r["ends"]) if r["ends"] is not None else None
    return r


def scorer_label(study: Study, scorer_id: int) -> str:
    """'<model name> <template>' of a scorer."""
    rows = study.query("SELECT m.name, s.template FROM scorers s JOIN models m "
                       "ON m.id = s.model_id WHERE s.id = ?", [scorer_id])
    return f"{rows[0]['name']} {rows[0]['template']}" if rows else ""


def text_scorers(study: Study, text_id: int) -> list[int]:
    """Scorers that scored this text, by id."""
    return [int(r["scorer_id"]) for r in study.query(
        "SELECT scorer_id FROM text_scores WHERE text_id = ? ORDER BY scorer_id", [text_id])]


# -- generation tokens ---------------------------------------------------------------------------
def insert_generation_tokens(cur: Any, text_id: int, tokens: Sequence[int],
                             logprobs: Sequence[float], entropies: Sequence[float],
                             pieces: Sequence[str]) -> None:
    """The per-token record of one sample, inside the transaction that commits the sample."""
    cur.execute(
        "INSERT INTO generation_tokens (text_id, tokens, logprobs, entropies, pieces) "
        "VALUES (?, ?, ?, ?, ?)",
        [text_id, np.asarray(tokens, dtype="<i4").tobytes(), pack_f16(np.asarray(logprobs)),
         pack_f16(np.asarray(entropies)), json.dumps(list(pieces))])


def prompt_generation_tokens(study: Study, prompt_id: int, run_id: int
                             ) -> list[dict[str, Any]]:
    """Per-token records of a run's samples of one prompt, by sample index: text_id,
    sample_index, prompt_text, tokens, logprobs, entropies, pieces, body (the stored text)."""
    rows = study.query(
        "SELECT g.text_id, g.sample_index, g.prompt_text, k.tokens, k.logprobs, k.entropies, "
        "k.pieces, t.body FROM generations g JOIN generation_tokens k ON k.text_id = g.text_id "
        "JOIN texts t ON t.id = g.text_id "
        "WHERE g.prompt_id = ? AND g.run_id = ? ORDER BY g.sample_index", [prompt_id, run_id])
    return [{"text_id": int(r["text_id"]), "sample_index": int(r["sample_index"]),
             "prompt_text": r["prompt_text"], "tokens": unpack_i32(r["tokens"]),
             "logprobs": unpack_f16(r["logprobs"]), "entropies": unpack_f16(r["entropies"]),
             "pieces": [str(p) for p in json.loads(r["pieces"])], "body": str(r["body"] or "")}
            for r in rows]
