"""Repository of generation: `models`, `runs`, `generations` and the generated `texts`.

Holds every query the generation, replication and runs views make: planning (the dataset's
prompts, identical earlier runs, new run rows with their model in one transaction), a run's
work (the run, its model, its prompts and the samples it has), the per-sample commit, and the
run's status and liveness bookkeeping (``meta.live``: owner, heartbeat and the session's tokens
and seconds; folded into ``gen_tokens``/``gen_seconds`` when a session ends or is found dead).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from monoscope.core.store.scores import insert_generation_tokens
from monoscope.core.store.study import Study, content_hash


# -- datasets and prompts, as generation sees them ---------------------------------------------
def generated_prompt_keys(study: Study, dataset_id: int) -> list[str]:
    """Keys of the dataset's prompts that have at least one generated text, in import order."""
    rows = study.query(
        "SELECT DISTINCT p.key, p.id FROM prompts p JOIN texts t ON t.prompt_id = p.id "
        "WHERE p.dataset_id = ? AND t.origin = 'generated' ORDER BY p.id", [dataset_id])
    return [str(r["key"]) for r in rows]


# -- models -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelRow:
    """A model file as stored in `models` (identified by its sha256)."""

    path: str
    sha256: str
    name: str
    architecture: str | None
    quantization: str | None
    n_params: int | None
    chat_template: str | None
    gguf_meta: dict[str, Any]


def model_id(study: Study, sha256: str) -> int | None:
    """Id of the model row with this file hash, if the study has one."""
    row = study.scalar("SELECT id FROM models WHERE sha256 = ?", [sha256])
    return None if row is None else int(row)


def _upsert_model(cur: Any, model: ModelRow) -> int:
    """Insert (or update the path of) the model's row inside the caller's transaction."""
    row = cur.execute("SELECT id FROM models WHERE sha256 = ?", [model.sha256]).fetchone()
    if row:
        cur.execute("UPDATE models SET path = ? WHERE id = ?", [model.path, row[0]])
        return int(row[0])
    got = cur.execute(
        "INSERT INTO models (path, sha256, name, architecture, quantization, n_params, "
        "chat_template, gguf_meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [model.path, model.sha256, model.name, model.architecture, model.quantization,
         model.n_params, model.chat_template, json.dumps(model.gguf_meta, default=str)],
    ).fetchone()
    assert got is not None
    return int(got[0])


def save_model(study: Study, model: ModelRow) -> int:
    """Insert the model's row, or update the path of the row with the same hash; its id."""
    with study.transaction() as cur:
        return _upsert_model(cur, model)


def model_rows(study: Study) -> list[dict[str, Any]]:
    """Every registered model with its metadata (for `monoscope models`)."""
    return study.query(
        "SELECT id, name, path, sha256, architecture, quantization, n_params, "
        "chat_template IS NOT NULL AS chat, gguf_meta->>'$.\"general.name\"' AS gguf_name "
        "FROM models ORDER BY id"
    )


def models_named(study: Study, name: str) -> list[tuple[int, bool]]:
    """(id, has a chat template) of the models registered under this name, newest first."""
    rows = study.query("SELECT id, chat_template IS NOT NULL AS chat FROM models "
                       "WHERE name = ? ORDER BY id DESC", [name])
    return [(int(r["id"]), bool(r["chat"])) for r in rows]


# -- planning runs ------------------------------------------------------------------------------
def prompt_filter(keys: Sequence[str], first: int | None) -> str:
    """The stored `runs.prompt_filter` of a run over these prompt keys."""
    return json.dumps({"keys": list(keys), "first": first})


def _filter_keys(raw: str | None) -> list[str]:
    return [str(k) for k in json.loads(raw or "{}").get("keys", [])]


@dataclass(frozen=True)
class RunKey:
    """The parameters that make two runs the same run (a plan reuses such a run)."""

    dataset_id: int
    model_id: int | None
    template_text: str
    sampling: str  # canonical JSON of the sampling parameters
    n_per_prompt: int
    seed: int
    prompt_filter: str
    engine: str | None = None  # None: any engine


def find_runs(study: Study, keys: Sequence[RunKey]) -> list[int | None]:
    """For each key, the newest run with exactly those parameters (None if there is none)."""
    out: list[int | None] = []
    with study.reader() as cur:
        for k in keys:
            engine = "AND engine = ? " if k.engine is not None else ""
            row = cur.execute(
                "SELECT id FROM runs WHERE dataset_id = ? AND model_id IS NOT DISTINCT FROM ? "
                f"{engine}AND template_text = ? AND sampling = ? AND n_per_prompt = ? AND "
                "seed = ? AND prompt_filter = ? ORDER BY id DESC LIMIT 1",
                [k.dataset_id, k.model_id, *([k.engine] if k.engine is not None else []),
                 k.template_text, k.sampling, k.n_per_prompt, k.seed, k.prompt_filter],
            ).fetchone()
            out.append(None if row is None else int(row[0]))
    return out


@dataclass(frozen=True)
class NewRun:
    """A run to create in state 'planned' (its model comes from `create_runs`)."""

    dataset_id: int
    label: str
    engine: str
    template: str
    template_text: str
    sampling: str
    n_per_prompt: int
    seed: int
    prompt_filter: str
    sweep: str | None
    meta: dict[str, Any]


def create_runs(study: Study, model: ModelRow | None, runs: Sequence[NewRun]) -> list[int]:
    """Record the model (if any) and insert the runs in one transaction; the new run ids."""
    ids: list[int] = []
    with study.transaction() as cur:
        mid = _upsert_model(cur, model) if model is not None else None
        for r in runs:
            row = cur.execute(
                "INSERT INTO runs (dataset_id, model_id, label, engine, template, template_text, "
                "sampling, n_per_prompt, seed, prompt_filter, sweep, status, meta) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'planned', ?) RETURNING id",
                [r.dataset_id, mid, r.label, r.engine, r.template, r.template_text, r.sampling,
                 r.n_per_prompt, r.seed, r.prompt_filter, r.sweep, json.dumps(r.meta)],
            ).fetchone()
            assert row is not None
            ids.append(int(row[0]))
    return ids


# -- a run's work and its sessions --------------------------------------------------------------
@dataclass
class RunWork:
    """What running a run needs: its row, its model row, its prompts and the samples it has."""

    run: dict[str, Any]
    model: dict[str, Any] | None
    prompts: list[dict[str, Any]]  # the run's prompts (id, key, title, context), import order
    done: set[tuple[int, int]]  # (prompt id, sample index) already generated


def run_work(study: Study, run_id: int) -> RunWork | None:
    """The run, its model, its prompts and its finished samples, read at once (None: no run)."""
    with study.reader() as cur:
        rel = cur.execute("SELECT * FROM runs WHERE id = ?", [run_id])
        cols = [d[0] for d in rel.description or []]
        found = rel.fetchone()
        if found is None:
            return None
        run = dict(zip(cols, found, strict=True))
        rel = cur.execute("SELECT * FROM models WHERE id = ?", [run["model_id"]])
        cols = [d[0] for d in rel.description or []]
        mrow = rel.fetchone()
        model = dict(zip(cols, mrow, strict=True)) if mrow is not None else None
        wanted = set(_filter_keys(run["prompt_filter"]))
        rows = cur.execute(
            "SELECT id, key, title, context FROM prompts WHERE dataset_id = ? ORDER BY id",
            [run["dataset_id"]]).fetchall()
        chosen = [{"id": r[0], "key": r[1], "title": r[2], "context": r[3]} for r in rows
                  if r[1] in wanted]
        done = {(int(p), int(i)) for p, i in cur.execute(
            "SELECT prompt_id, sample_index FROM generations WHERE run_id = ?", [run_id]
        ).fetchall()}
    return RunWork(run, model, chosen, done)


def run_progress(study: Study, run_id: int) -> tuple[int, int]:
    """(samples generated, samples the run asks for)."""
    with study.reader() as cur:
        row = cur.execute("SELECT prompt_filter, n_per_prompt FROM runs WHERE id = ?",
                          [run_id]).fetchone()
        done = cur.execute("SELECT count(*) FROM generations WHERE run_id = ?",
                           [run_id]).fetchone()
    expected = len(_filter_keys(row[0])) * int(row[1]) if row else 0
    return (int(done[0]) if done else 0), expected


def sample_count(study: Study, run_id: int, per_call: int = 1) -> int:
    """Samples the run has generated so far (model calls, for a verbalized-sampling run whose
    call i stored its answers as sample indices i·per_call …)."""
    return int(study.scalar("SELECT count(*) FROM generations WHERE run_id = ? "
                            "AND sample_index % ? = 0", [run_id, max(1, per_call)]))


def _add_session(meta: dict[str, Any], tokens: int, seconds: float) -> dict[str, Any]:
    """Meta with a session's tokens and seconds added to the run's totals, ``live`` removed."""
    live = meta.pop("live", None) or {}
    totals = meta.setdefault("server_totals", {}) if live.get("servers") else None
    for url, per in (live.get("servers") or {}).items():  # a fleet run's per-server numbers
        assert totals is not None
        cur = totals.setdefault(url, {"samples": 0, "tokens": 0, "seconds": 0.0})
        cur["samples"] += int(per.get("samples", 0))
        cur["tokens"] += int(per.get("tokens", 0))
        cur["seconds"] += seconds
    meta["gen_tokens"] = int(meta.get("gen_tokens", 0)) + tokens
    meta["gen_seconds"] = float(meta.get("gen_seconds", 0.0)) + seconds
    return meta


def start_session(study: Study, run_id: int, engine_version: str, live: dict[str, Any]
                  ) -> dict[str, Any]:
    """Mark the run running for the process in ``live`` (one transaction); its new meta.

    A session that died without a word left its tokens and seconds in the stored ``live``:
    they are folded into the totals first.
    """
    with study.transaction() as cur:
        row = cur.execute("SELECT meta FROM runs WHERE id = ?", [run_id]).fetchone()
        meta = json.loads(row[0]) if row and row[0] else {}
        dead = meta.get("live") or {}
        meta = _add_session(meta, int(dead.get("tokens", 0)), float(dead.get("seconds", 0.0)))
        meta["live"] = live
        meta.pop("interrupted", None)  # a fleet run whose servers were gone resumes
        cur.execute(
            "UPDATE runs SET status='running', started_at=coalesce(started_at, now()), "
            "engine_version=?, meta=? WHERE id=?",
            [engine_version, json.dumps(meta), run_id],
        )
    return meta


@dataclass(frozen=True)
class NewSample:
    """One finished sample with its provenance, as committed."""

    prompt_id: int
    sample_index: int
    seed: int
    params: dict[str, Any]
    prompt_text: str
    text: str
    n_prompt_tokens: int
    n_tokens: int
    finish_reason: str
    mean_logprob: float | None
    perplexity: float | None
    wall_ms: float
    text_meta: dict[str, Any] | None = None  # texts.meta (verbalized sampling: the answer's)
    # per-token record (tokens, raw log-probabilities, sampling entropies, pieces), if any
    token_record: tuple[tuple[int, ...], tuple[float, ...], tuple[float, ...],
                        tuple[str, ...]] | None = None


def commit_sample(study: Study, run_id: int, sample: NewSample, meta: dict[str, Any]) -> int:
    """The text, its generation record and the run's meta (heartbeat) in one transaction, so
    a sample survives a kill the moment it is committed; the new text id."""
    return commit_samples(study, run_id, [sample], meta)[0]


def commit_samples(study: Study, run_id: int, samples: Sequence[NewSample],
                   meta: dict[str, Any]) -> list[int]:
    """Several texts of one model call (verbalized sampling's answers) and the run's meta in
    one transaction. A sample whose `text_meta` has a ``verbalized`` entry gets ``parent`` =
    the text id of the call's first sample there and in its generation's params."""
    ids: list[int] = []
    with study.transaction() as cur:
        for s in samples:
            text_meta, params = s.text_meta, s.params
            if ids and text_meta is not None and "verbalized" in text_meta:
                text_meta = {**text_meta, "verbalized": {**text_meta["verbalized"],
                                                         "parent": ids[0]}}
                params = {**params, "verbalized": text_meta["verbalized"]}
            got = cur.execute(
                "INSERT INTO texts (prompt_id, origin, run_id, sample_index, body, content_hash, "
                "meta) VALUES (?, 'generated', ?, ?, ?, ?, ?) RETURNING id",
                [s.prompt_id, run_id, s.sample_index, s.text, content_hash(s.text),
                 None if text_meta is None else json.dumps(text_meta)],
            ).fetchone()
            assert got is not None
            if not ids and text_meta is not None and "verbalized" in text_meta:
                # the first sample of the call is its own parent
                text_meta = {**text_meta, "verbalized": {**text_meta["verbalized"],
                                                         "parent": int(got[0])}}
                params = {**params, "verbalized": {
                    k: v for k, v in text_meta["verbalized"].items() if k != "raw"}}
                cur.execute("UPDATE texts SET meta = ? WHERE id = ?",
                            [json.dumps(text_meta), got[0]])
            cur.execute(
                "INSERT INTO generations (text_id, run_id, prompt_id, sample_index, seed, params, "
                "prompt_text, n_prompt_tokens, n_tokens, finish_reason, mean_logprob, perplexity, "
                "wall_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [got[0], run_id, s.prompt_id, s.sample_index, s.seed, json.dumps(params),
                 s.prompt_text, s.n_prompt_tokens, s.n_tokens, s.finish_reason, s.mean_logprob,
                 s.perplexity, s.wall_ms],
            )
            if s.token_record is not None:
                insert_generation_tokens(cur, int(got[0]), *s.token_record)
            ids.append(int(got[0]))
        cur.execute("UPDATE runs SET meta=? WHERE id=?", [json.dumps(meta), run_id])
    return ids


def end_session(study: Study, run_id: int, status: str, tokens: int, seconds: float) -> None:
    """Fold this session's tokens and wall seconds into the run's totals; set the final status."""
    with study.transaction() as cur:
        row = cur.execute("SELECT meta FROM runs WHERE id=?", [run_id]).fetchone()
        meta = _add_session(json.loads(row[0]) if row and row[0] else {}, tokens, seconds)
        cur.execute(
            "UPDATE runs SET meta=?, status=?, finished_at=CASE WHEN ? THEN now() ELSE "
            "finished_at END WHERE id=?",
            [json.dumps(meta), status, status == "finished", run_id],
        )


def merge_meta(study: Study, run_id: int, patch: dict[str, Any]) -> dict[str, Any]:
    """Update keys of a run's meta (e.g. the servers a resumed http run uses); the new meta."""
    with study.transaction() as cur:
        row = cur.execute("SELECT meta FROM runs WHERE id=?", [run_id]).fetchone()
        meta = json.loads(row[0]) if row and row[0] else {}
        meta.update(patch)
        cur.execute("UPDATE runs SET meta=? WHERE id=?", [json.dumps(meta), run_id])
    return meta


def set_status(study: Study, run_id: int, status: str, finished: bool = False) -> None:
    """Set a run's status (and its finish time when ``finished``)."""
    with study.transaction() as cur:
        cur.execute(
            "UPDATE runs SET status=?, finished_at=CASE WHEN ? THEN now() ELSE finished_at END "
            "WHERE id=?",
            [status, finished, run_id],
        )


# -- reading runs -------------------------------------------------------------------------------
def run_rows(study: Study) -> list[dict[str, Any]]:
    """Every run with dataset, model, prompt count, samples, tokens and its raw meta."""
    return study.query(
        """SELECT r.id, r.label, r.status, d.name AS dataset, m.name AS model, r.engine,
                  r.template, r.n_per_prompt, r.sweep,
                  json_array_length(json_extract(r.prompt_filter, '$.keys')) AS n_prompts,
                  count(g.text_id) AS samples, sum(g.n_tokens) AS tokens, any_value(r.meta) AS meta
           FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id
           LEFT JOIN models m ON m.id = r.model_id LEFT JOIN generations g ON g.run_id = r.id
           GROUP BY ALL ORDER BY r.id"""
    )


def sampling_by_run(study: Study) -> dict[int, str]:
    """Each run's stored sampling parameters (JSON text)."""
    return {int(r["id"]): str(r["sampling"])
            for r in study.query("SELECT id, sampling FROM runs")}


def runs_scope(study: Study, run_ids: Sequence[int]) -> dict[str, list[str]]:
    """The datasets and prompt keys these runs cover: dataset name -> keys in import order."""
    if not run_ids:
        return {}
    with study.reader() as cur:
        runs = cur.execute(
            "SELECT r.dataset_id, d.name, r.prompt_filter FROM runs r JOIN datasets d "
            "ON d.id = r.dataset_id WHERE r.id IN (SELECT unnest(?)) ORDER BY r.id",
            [list(run_ids)]).fetchall()
        out: dict[str, list[str]] = {}
        for ds_id in dict.fromkeys(int(r[0]) for r in runs):
            wanted = {k for r in runs if int(r[0]) == ds_id for k in _filter_keys(r[2])}
            name = next(str(r[1]) for r in runs if int(r[0]) == ds_id)
            keys = cur.execute("SELECT key FROM prompts WHERE dataset_id = ? ORDER BY id",
                               [ds_id]).fetchall()
            out[name] = [str(k) for (k,) in keys if k in wanted]
    return out


# -- what a replication needs to know -----------------------------------------------------------
def model_speed(study: Study, model: str) -> tuple[float, float]:
    """(tokens, seconds) generated by this model's runs over every finished session."""
    row = study.query(
        "SELECT sum(CAST(r.meta->>'$.gen_tokens' AS DOUBLE)) AS tok, "
        "sum(CAST(r.meta->>'$.gen_seconds' AS DOUBLE)) AS sec FROM runs r "
        "JOIN models m ON m.id = r.model_id WHERE m.name = ?", [model])[0]
    return float(row["tok"] or 0.0), float(row["sec"] or 0.0)


def token_fill(study: Study, model: str, max_tokens: int) -> tuple[int, float | None]:
    """(samples, mean share of max_tokens used) of this model's runs at this max_tokens."""
    row = study.query(
        "SELECT count(*) AS n, avg(least(g.n_tokens * 1.0 / ?, 1.0)) AS f FROM generations g "
        "JOIN runs r ON r.id = g.run_id JOIN models m ON m.id = r.model_id "
        "WHERE m.name = ? AND CAST(r.sampling->>'$.max_tokens' AS INTEGER) = ?",
        [max_tokens, model, max_tokens])[0]
    return int(row["n"] or 0), (float(row["f"]) if row["f"] is not None else None)


def unembedded_texts(study: Study, dataset_id: int) -> int:
    """Distinct texts of the dataset with no embedding under any model."""
    return int(study.scalar(
        "SELECT count(DISTINCT t.content_hash) FROM texts t JOIN prompts p ON p.id = t.prompt_id "
        "WHERE p.dataset_id = ? AND NOT EXISTS (SELECT 1 FROM embeddings e "
        "WHERE e.content_hash = t.content_hash)", [dataset_id]))


def tests_per_prompt(study: Study, dataset_id: int) -> float:
    """Mean number of stored tests per prompt that has tests (0 when none has)."""
    row: Any = study.scalar(
        "SELECT count(*) * 1.0 / nullif(count(DISTINCT pt.prompt_id), 0) FROM prompt_tests pt "
        "JOIN prompts p ON p.id = pt.prompt_id WHERE p.dataset_id = ?", [dataset_id])
    return float(row) if row else 0.0


def replication_inputs(study: Study, dataset_id: int, run_ids: Sequence[int]) -> list[Any]:
    """What a replication's tables depend on, for its fingerprint: per-run sample hashes,
    attribute hashes, the embedding count and the source text count."""
    with study.reader() as cur:
        rel = cur.execute(
            "SELECT run_id, count(*) AS n, sum(hash(text_id, perplexity)) AS h FROM generations "
            "WHERE run_id IN (SELECT unnest(?)) GROUP BY run_id ORDER BY run_id", [list(run_ids)])
        gen = [dict(zip(("run_id", "n", "h"), r, strict=True)) for r in rel.fetchall()]
        rel = cur.execute(
            "SELECT count(*) AS n, sum(hash(a.text_id, a.name, a.value, a.label, a.version)) AS h "
            "FROM attributes a JOIN texts t ON t.id = a.text_id JOIN prompts p "
            "ON p.id = t.prompt_id WHERE p.dataset_id = ?", [dataset_id])
        att = [dict(zip(("n", "h"), r, strict=True)) for r in rel.fetchall()]
        emb = cur.execute(
            "SELECT count(*) FROM embeddings e WHERE e.content_hash IN (SELECT t.content_hash "
            "FROM texts t JOIN prompts p ON p.id = t.prompt_id WHERE p.dataset_id = ?)",
            [dataset_id]).fetchone()
        src = cur.execute(
            "SELECT count(*) FROM texts t JOIN prompts p ON p.id = t.prompt_id "
            "WHERE p.dataset_id = ? AND t.run_id IS NULL", [dataset_id]).fetchone()
    return [gen, att, emb[0] if emb else None, src[0] if src else None]


# -- runs of a dataset (views, measure) ---------------------------------------------
@dataclass(frozen=True)
class RunRow:
    """A run of a dataset: its model's name (None without a registered model), engine,
    status, sampling parameters and number of generated texts."""

    id: int
    label: str
    model: str | None
    engine: str
    status: str
    sampling: dict[str, Any] = field(default_factory=dict)
    n_texts: int = 0
    # run parameters beyond sampling: the template's name and `meta.params` (mitigations:
    # verbalized_k, system_prompt)
    params: dict[str, Any] = field(default_factory=dict)


def dataset_run_labels(study: Study, dataset_id: int) -> list[tuple[int, str]]:
    """(id, label) of a dataset's runs, by id: what a view needs to name its groups, without
    counting texts (a prompt switch reads this, so it stays an index lookup)."""
    return [(int(r["id"]), str(r["label"])) for r in study.query(
        "SELECT id, label FROM runs WHERE dataset_id = ? ORDER BY id", [dataset_id])]


def dataset_runs(study: Study, dataset_id: int) -> list[RunRow]:
    """Runs of a dataset with model name and number of generated texts, by id."""
    rows = study.query(
        "SELECT r.id, r.label, m.name AS model, r.engine, r.status, r.sampling, r.template, "
        "r.meta, (SELECT count(*) FROM texts t WHERE t.run_id = r.id) AS n FROM runs r "
        "LEFT JOIN models m ON m.id = r.model_id WHERE r.dataset_id = ? ORDER BY r.id",
        [dataset_id],
    )
    return [RunRow(int(r["id"]), str(r["label"]), None if r["model"] is None else str(r["model"]),
                   str(r["engine"]), str(r["status"]),
                   json.loads(r["sampling"]) if r["sampling"] else {}, int(r["n"]),
                   {"template": r["template"],
                    **(json.loads(r["meta"] or "{}").get("params") or {})})
            for r in rows]
