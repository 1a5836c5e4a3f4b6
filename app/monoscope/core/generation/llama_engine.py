"""In-process llama.cpp engine: many sequences per decode step over one shared prompt cache.

Through llama-cpp-python's low-level API: a prompt is evaluated once into a prompt sequence,
its KV cells are shared with every sample slot by `llama_memory_seq_cp`, and all active slots
decode one token each in a single `llama_decode` per step. A finished slot is refilled at once
from the job queue (continuous batching). Sampling runs in numpy on the logits
(`sampling.sample_batch`). One context belongs to the thread that first generates with it.
"""

from __future__ import annotations

import codecs
import ctypes
import math
import os
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monoscope.core.errors import ModelLoadError, MonoscopeError
from monoscope.core.generation.engine import Job, ResultCallback, SampleResult, StepCallback
from monoscope.core.generation.gguf import GGUFInfo, read_gguf
from monoscope.core.generation.sampling import FloatArray, SamplingParams, sample_batch

# Vendored llama.cpp commit per llama-cpp-python release (llama_version() gives no commit).
_VENDORED_COMMITS = {"0.3.36": "0c1e570"}
_FLASH = {"auto": -1, "off": 0, "on": 1}
_backend_lock = threading.Lock()
_backend_ready = False


def release_freed_memory() -> None:
    """Give the heap that freed model buffers leave behind back to the system (glibc keeps
    freed memory in its arenas: a run's ~35 MB of llama.cpp buffers would otherwise stay
    resident after the model is freed). No-op where glibc's ``malloc_trim`` is absent."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def default_threads() -> int:
    """Threads for llama.cpp: ``MONOSCOPE_THREADS``, else the cores this process may use (≤ 8)."""
    env = os.environ.get("MONOSCOPE_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 2
    return max(1, min(n, 8))


def quiet_openmp() -> None:
    """Let idle llama.cpp (OpenMP) threads sleep instead of spin.

    With the default active wait, 2 threads on 2 shared cores slowed ~10x as soon as another
    process was busy (16 sequences: 8 tok/s vs 90 with passive wait, same load). libgomp reads
    the setting when it loads, so this must run before llama_cpp is first imported; a value the
    user set wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def llama_cpp_version() -> str:
    """``llama-cpp-python X (llama.cpp V, commit C)`` for run provenance."""
    quiet_openmp()
    import llama_cpp as lc

    ver = getattr(lc, "__version__", "?")
    core = lc.llama_version().decode() if hasattr(lc, "llama_version") else "?"
    commit = _VENDORED_COMMITS.get(ver)
    return f"llama-cpp-python {ver} (llama.cpp {core}" + (f", commit {commit})" if commit else ")")


_log_callback: Any = None  # keeps the ctypes callback alive


def _errors_only(level: int, text: bytes, _user: Any) -> None:
    """llama.cpp log sink: errors (GGML_LOG_LEVEL_ERROR = 4) to stderr, the loading chatter dropped."""
    if level == 4:
        sys.stderr.write(text.decode("utf-8", "replace"))


def _init_backend() -> Any:
    global _backend_ready
    quiet_openmp()
    import llama_cpp as lc

    with _backend_lock:
        if not _backend_ready:
            if not os.environ.get("MONOSCOPE_LLAMA_VERBOSE"):
                global _log_callback
                _log_callback = lc.llama_log_callback(_errors_only)
                lc.llama_log_set(_log_callback, ctypes.c_void_p(0))
            lc.llama_backend_init()
            _backend_ready = True
    return lc


@dataclass
class _Prompt:
    seq: int
    n_tokens: int
    logits: FloatArray  # copy of the last prompt token's logits


@dataclass
class _Slot:
    job: Job
    n_prompt: int
    rng: np.random.Generator
    t0: float
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    entropies: list[float] = field(default_factory=list)
    end_token: int | None = None  # the end-of-generation token that finished it


# -- teacher-forced scoring -------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreItem:
    """A text to score after a context (the exact rendered prompt); ``key`` comes back as is."""

    key: Any
    context: str
    text: str


@dataclass
class ScoreOutput:
    """Per-token log p(token | context, earlier tokens) and the entropy (nats) of the model's
    full next-token distribution at each token, raw logits (temperature 1)."""

    key: Any
    n_context: int
    tokens: list[int]
    logprobs: npt.NDArray[np.float32]
    entropies: npt.NDArray[np.float32]
    truncated: bool


def score_batch_tokens(n_vocab: int) -> int:
    """Tokens per scoring decode: 512, fewer for a large vocabulary (the logits of every token
    come back: at most ~128 MB of them per decode)."""
    rows = (32 * 1024 * 1024) // max(1, n_vocab)
    return int(max(32, min(512, 1 << max(0, rows.bit_length() - 1))))


def row_stats(x: FloatArray, work: FloatArray) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(log Z, entropy) of each row of logits ``x`` after ``x`` -= its row max (in place).

    log p(t) = x[t] - log Z afterwards; entropy = log Z - Σ e·x / Z with e = exp(x).
    ``work`` is a buffer at least x's shape.
    """
    r = x.shape[0]
    np.subtract(x, x.max(axis=1)[:, None], out=x)
    e = work[:r]
    np.exp(x, out=e)
    z = e.sum(axis=1).astype(np.float64)  # float32 sums: ~1e-6 relative, 1.4x faster
    s = np.einsum("ij,ij->i", e, x).astype(np.float64)
    logz = np.log(z)
    return logz, logz - s / z


def score_lanes(n_threads: int, n_items: int) -> tuple[int, int]:
    """(lanes, threads per lane) for scoring: a single-threaded llama.cpp context per core —
    a one-text decode keeps one core busier than two — at most 4 (each holds a decode's
    logits, up to 128 MB) and at most one per 8 texts."""
    lanes = max(1, min(n_threads, 4, n_items // 8))
    return lanes, max(1, n_threads // lanes)


class _Stop(Exception):
    """A scoring lane was told to stop."""


class _Lane:
    """A llama.cpp context of the engine's model for scoring: a prompt sequence (1), a text
    sequence (0), and the last context's tokens and first-token distribution kept, so that the
    next context decodes only from where it differs."""

    PROMPT, TEXT = 1, 0

    def __init__(self, eng: LlamaCppEngine, cells: int, n_batch: int, threads: int) -> None:
        self.lc = lc = eng._lc
        self.n_vocab = eng.n_vocab
        cp = lc.llama_context_default_params()
        cp.n_ctx = cells
        cp.n_batch = cp.n_ubatch = n_batch
        cp.n_seq_max = 2
        cp.n_threads = cp.n_threads_batch = threads
        cp.flash_attn_type = _FLASH[eng.flash_attn]
        cp.kv_unified = True  # the text's copy of the prompt shares its cells
        cp.no_perf = True
        self.ctx = lc.llama_init_from_model(eng._model, cp)
        if not self.ctx:
            raise ModelLoadError(f"llama.cpp could not create a context of {cells} tokens for "
                                 f"{eng.path.name}; lower --max-tokens.")
        self.n_batch = n_batch
        self.batch = lc.llama_batch_init(n_batch, 0, 1)
        b = self.batch
        self.tok = np.ctypeslib.as_array(b.token, shape=(n_batch,))
        self.pos = np.ctypeslib.as_array(b.pos, shape=(n_batch,))
        self.want = np.ctypeslib.as_array(b.logits, shape=(n_batch,))
        np.ctypeslib.as_array(b.n_seq_id, shape=(n_batch,))[:] = 1
        self.seqs = np.full(n_batch, -1, dtype=np.int64)  # the sequence id each row holds
        self.mem = lc.llama_get_memory(self.ctx)
        self.work = np.empty((min(n_batch, 64), self.n_vocab), dtype=np.float32)
        self.prompt: list[int] = []
        self.first = np.empty((1, self.n_vocab), dtype=np.float32)
        self.first_stats = (np.zeros(1), np.zeros(1))

    def close(self) -> None:
        if self.batch is not None:
            self.lc.llama_batch_free(self.batch)
            self.batch = None
        if self.ctx is not None:
            self.lc.llama_free(self.ctx)
            self.ctx = None

    def decode(self, tokens: Sequence[int], start: int, seq: int, every: bool) -> None:
        """Decode tokens at positions start.. of one sequence; logits of every row or the last."""
        n = len(tokens)
        self.tok[:n] = tokens
        self.pos[:n] = np.arange(start, start + n)
        self.want[:n] = 1 if every else 0
        self.want[n - 1] = 1
        for i in np.flatnonzero(self.seqs[:n] != seq):
            self.batch.seq_id[i][0] = seq
        self.seqs[:n] = seq
        self.batch.n_tokens = n
        rc = self.lc.llama_decode(self.ctx, self.batch)
        if rc != 0:
            raise MonoscopeError(f"llama_decode failed (code {rc}) while scoring: the context is "
                                 "full. Lower --max-tokens.")

    def set_prompt(self, tokens: list[int]) -> None:
        """Make the prompt sequence hold ``tokens``: keep the cells of the prefix it shares with
        the previous prompt, decode the rest; the first-token distribution and its stats."""
        lc, mem = self.lc, self.mem
        if tokens == self.prompt:
            return
        lc.llama_memory_seq_rm(mem, self.TEXT, -1, -1)
        old, self.prompt = self.prompt, []
        common = 0
        most = min(len(tokens) - 1, len(old))  # the last token is decoded for its logits
        while common < most and tokens[common] == old[common]:
            common += 1
        lc.llama_memory_seq_rm(mem, self.PROMPT, common, -1)
        for a in range(common, len(tokens), self.n_batch):
            self.decode(tokens[a : a + self.n_batch], a, self.PROMPT, False)
        ptr = lc.llama_get_logits_ith(self.ctx, -1)
        self.first[0] = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))
        self.first_stats = row_stats(self.first, self.work)
        self.prompt = list(tokens)

    def run(self, take: Callable[[], tuple[list[int], list[tuple[ScoreItem, list[int]]]] | None],
            per_text: int, check: Callable[[], None]) -> Iterator[ScoreOutput]:
        """Score the groups ``take`` hands out until it returns None."""
        lc, mem, n_vocab = self.lc, self.mem, self.n_vocab
        while True:
            check()
            got = take()
            if got is None:
                return
            ctoks, group = got
            self.set_prompt(ctoks)
            lz0, h0 = self.first_stats
            n_ctx = len(ctoks)
            for it, all_toks in group:
                check()
                cut = len(all_toks) > per_text
                toks = all_toks[:per_text]
                logprobs = np.zeros(len(toks), np.float32)
                entropies = np.zeros(len(toks), np.float32)
                if toks:
                    logprobs[0] = self.first[0, toks[0]] - lz0[0]
                    entropies[0] = h0[0]
                need = len(toks) - 1  # the last token predicts nothing we score
                if need > 0:
                    lc.llama_memory_seq_rm(mem, self.TEXT, -1, -1)
                    lc.llama_memory_seq_cp(mem, self.PROMPT, self.TEXT, -1, -1)
                for a in range(0, need, self.n_batch):
                    b = min(need, a + self.n_batch)
                    self.decode(toks[a:b], n_ctx + a, self.TEXT, True)
                    out = np.ctypeslib.as_array(lc.llama_get_logits(self.ctx), shape=(b - a, n_vocab))
                    for c in range(0, b - a, self.work.shape[0]):
                        chunk = out[c : c + self.work.shape[0]]
                        lz, h = row_stats(chunk, self.work)
                        at = slice(a + c + 1, a + c + 1 + len(chunk))
                        nxt = np.asarray(toks[at])
                        logprobs[at] = chunk[np.arange(len(chunk)), nxt] - lz
                        entropies[at] = h
                yield ScoreOutput(it.key, n_ctx, toks, logprobs, entropies, cut)


class LlamaCppEngine:
    """llama.cpp in process; `n_parallel` sequences decoded per step."""

    name = "llama.cpp"

    def __init__(
        self,
        model_path: str | Path,
        *,
        n_parallel: int = 16,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        flash_attn: str = "auto",
        prompt_slots: int = 4,
    ) -> None:
        self.path = Path(model_path).expanduser()
        self.info: GGUFInfo = read_gguf(self.path)  # clear error before llama.cpp sees the file
        if flash_attn not in _FLASH:
            raise MonoscopeError("flash attention must be 'auto', 'on' or 'off'.")
        self.n_parallel = max(1, int(n_parallel))
        self.prompt_slots = max(1, int(prompt_slots))
        self.n_threads = n_threads or default_threads()
        self.flash_attn = flash_attn
        self._lc = lc = _init_backend()
        mparams = lc.llama_model_default_params()
        mparams.n_gpu_layers = int(n_gpu_layers)
        self._model = lc.llama_model_load_from_file(str(self.path).encode(), mparams)
        if not self._model:
            raise ModelLoadError(
                f"llama.cpp could not load {self.path} ({self.info.architecture}, "
                f"{self.info.quantization}). The file may be damaged or need a newer llama.cpp; "
                "set MONOSCOPE_LLAMA_VERBOSE=1 to see llama.cpp's reason."
            )
        self._vocab = lc.llama_model_get_vocab(self._model)
        self.n_vocab = int(lc.llama_vocab_n_tokens(self._vocab))
        self.n_ctx_train = int(lc.llama_model_n_ctx_train(self._model))
        self._n_ctx_user = n_ctx
        self._add_bos = bool(lc.llama_vocab_get_add_bos(self._vocab))
        self.bos_text = self.piece(int(lc.llama_vocab_bos(self._vocab)), special=True).decode(
            "utf-8", "replace"
        )
        self.eos_text = self.piece(int(lc.llama_vocab_eos(self._vocab)), special=True).decode(
            "utf-8", "replace"
        )
        self._pieces: dict[int, bytes] = {}
        self._eog = np.zeros(self.n_vocab, dtype=bool)
        for t in range(self.n_vocab):
            self._eog[t] = bool(lc.llama_vocab_is_eog(self._vocab, t))
        self._ctx: Any = None
        self._ctx_cells = 0
        self._batch: Any = None
        self._batch_cap = 0
        self._n_batch = 0
        self._owner: int | None = None
        self._lanes: list[_Lane] = []
        self._lanes_key: tuple[int, ...] = ()

    # -- protocol ---------------------------------------------------------------------------
    def version(self) -> str:
        return llama_cpp_version()

    def context_limit(self) -> int:
        return int(self._n_ctx_user or self.n_ctx_train)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def close(self) -> None:
        lc = self._lc
        for lane in self._lanes:
            lane.close()
        self._lanes = []
        self._lanes_key = ()
        if self._batch is not None:
            lc.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            lc.llama_free(self._ctx)
            self._ctx = None
        if self._model is not None:
            lc.llama_model_free(self._model)
            self._model = None
            release_freed_memory()  # the weights are unmapped; return the freed heap too

    def __enter__(self) -> LlamaCppEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tokens -----------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        """Tokens of a rendered prompt; BOS added when the model wants one and it is absent."""
        lc = self._lc
        raw = text.encode("utf-8")
        add = self._add_bos and not (self.bos_text and text.startswith(self.bos_text))
        cap = len(raw) + 8
        buf = (lc.llama_token * cap)()
        n = lc.llama_tokenize(self._vocab, raw, len(raw), buf, cap, add, True)
        if n < 0:
            cap = -n
            buf = (lc.llama_token * cap)()
            n = lc.llama_tokenize(self._vocab, raw, len(raw), buf, cap, add, True)
        return list(buf[:n])

    def tokenize_text(self, text: str) -> list[int]:
        """Tokens of a text that follows a prompt: no BOS, special-token text kept literal."""
        lc = self._lc
        raw = text.encode("utf-8")
        cap = len(raw) + 8
        buf = (lc.llama_token * cap)()
        n = lc.llama_tokenize(self._vocab, raw, len(raw), buf, cap, False, False)
        if n < 0:
            cap = -n
            buf = (lc.llama_token * cap)()
            n = lc.llama_tokenize(self._vocab, raw, len(raw), buf, cap, False, False)
        return list(buf[:n])

    def piece(self, token: int, special: bool = False) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = self._lc.llama_token_to_piece(self._vocab, token, buf, 64, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self._lc.llama_token_to_piece(self._vocab, token, buf, -n, 0, special)
        return bytes(buf.raw[:n])

    def _piece(self, token: int) -> bytes:
        p = self._pieces.get(token)
        if p is None:
            p = self._pieces[token] = self.piece(token)
        return p

    # -- context ----------------------------------------------------------------------------
    def _ensure_context(self, cells: int, n_batch: int, exact_batch: bool = False) -> None:
        lc = self._lc
        cells = int(math.ceil(cells / 256) * 256)
        n_seq = self.n_parallel + self.prompt_slots
        want = n_batch if exact_batch else max(64, self.n_parallel, min(n_batch, 512))
        if self._ctx is None or cells > self._ctx_cells or (exact_batch and want != self._n_batch):
            if self._ctx is not None:
                lc.llama_free(self._ctx)
            cp = lc.llama_context_default_params()
            cp.n_ctx = cells
            cp.n_batch = cp.n_ubatch = want
            cp.n_seq_max = n_seq
            cp.n_threads = cp.n_threads_batch = self.n_threads
            cp.flash_attn_type = _FLASH[self.flash_attn]
            cp.kv_unified = True  # prompt cells are shared by copies, not duplicated
            cp.no_perf = True
            self._ctx = lc.llama_init_from_model(self._model, cp)
            if not self._ctx:
                self._ctx = None
                raise ModelLoadError(
                    f"llama.cpp could not create a context of {cells} tokens for {self.path.name}; "
                    "lower --n-parallel or --max-tokens."
                )
            self._ctx_cells = cells
            self._n_batch = int(cp.n_batch)
        if self._batch is None or self._batch_cap < max(self._n_batch, self.n_parallel):
            if self._batch is not None:
                lc.llama_batch_free(self._batch)
            self._batch_cap = max(self._n_batch, self.n_parallel)
            self._batch = lc.llama_batch_init(self._batch_cap, 0, 1)

    def _decode(self, items: Sequence[tuple[int, int, int, bool]]) -> None:
        """Decode (token, pos, seq, want_logits) items in one llama_decode call."""
        b = self._batch
        for i, (tok, pos, seq, want) in enumerate(items):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = want
        b.n_tokens = len(items)
        rc = self._lc.llama_decode(self._ctx, b)
        if rc != 0:
            raise MonoscopeError(
                f"llama_decode failed (code {rc}): the context is full. Lower --n-parallel or "
                "--max-tokens."
            )

    def _eval_prompt(self, tokens: list[int], seq: int) -> FloatArray:
        mem = self._lc.llama_get_memory(self._ctx)
        self._lc.llama_memory_seq_rm(mem, seq, -1, -1)
        for start in range(0, len(tokens), self._n_batch):
            chunk = tokens[start : start + self._n_batch]
            last = start + len(chunk) == len(tokens)
            self._decode([(t, start + j, seq, last and j == len(chunk) - 1) for j, t in enumerate(chunk)])
        ptr = self._lc.llama_get_logits_ith(self._ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    # -- generation -------------------------------------------------------------------------
    def generate(
        self,
        jobs: Sequence[Job],
        params: SamplingParams,
        on_result: ResultCallback,
        check: Callable[[], None] = lambda: None,
        on_step: StepCallback | None = None,
    ) -> None:
        """Generate all jobs; identical prompt texts share one evaluated prompt."""
        if not jobs:
            return
        me = threading.get_ident()
        if self._owner is None:
            self._owner = me
        elif self._owner != me:
            raise RuntimeError("a llama.cpp context is used by one thread only")
        lc = self._lc
        toks = {text: self.tokenize(text) for text in dict.fromkeys(j.prompt_text for j in jobs)}
        longest = max(len(t) for t in toks.values())
        limit = self.context_limit()
        budget = (self.n_parallel + self.prompt_slots) * longest + self.n_parallel * params.max_tokens
        self._ensure_context(min(budget, (self.n_parallel + self.prompt_slots) * limit), longest)
        mem = lc.llama_get_memory(self._ctx)
        lc.llama_memory_clear(mem, True)
        first_seen = {text: i for i, text in enumerate(toks)}
        queue = deque(sorted(jobs, key=lambda j: (first_seen[j.prompt_text], j.sample_index)))
        prompts: OrderedDict[str, _Prompt] = OrderedDict()
        slots: list[_Slot | None] = [None] * self.n_parallel
        stops = tuple(s for s in params.stop if s)
        decoded: FloatArray | None = None  # logits of the slots decoded last step, in order
        decoded_slots: list[int] = []

        while True:
            check()
            rows: list[FloatArray] = []  # first-token logits of slots filled now
            order: list[int] = list(decoded_slots) if decoded is not None else []
            for s in range(self.n_parallel):
                if slots[s] is not None or not queue:
                    continue
                job = queue.popleft()
                if decoded is not None and job.prompt_text not in prompts and not decoded.flags.owndata:
                    decoded = decoded.copy()  # evaluating a prompt overwrites llama.cpp's buffer
                pr = self._prompt_for(job.prompt_text, toks[job.prompt_text], prompts)
                lc.llama_memory_seq_rm(mem, s, -1, -1)
                lc.llama_memory_seq_cp(mem, pr.seq, s, -1, -1)
                slots[s] = _Slot(job, pr.n_tokens, np.random.default_rng(job.seed), time.perf_counter())
                rows.append(pr.logits)
                order.append(s)
            if not order:
                break
            if not rows:
                assert decoded is not None
                logits = decoded  # zero-copy view of llama.cpp's output buffer
            elif decoded is not None:
                logits = np.concatenate([decoded, np.stack(rows)])
            else:
                logits = np.stack(rows)
            active = [slots[s] for s in order]
            temps = [params.temperature_at(len(a.tokens)) for a in active if a]
            ents: list[float] = []
            chosen, logps = sample_batch(
                logits, temps, params, [a.rng for a in active if a], [a.tokens for a in active if a],
                ents,
            )
            batch: list[tuple[int, int, int, bool]] = []
            decoded_slots = []
            for k, s in enumerate(order):
                slot = slots[s]
                assert slot is not None
                tok = int(chosen[k])
                slot.entropies.append(ents[k])
                reason = self._advance(slot, tok, float(logps[k]), params, stops, limit)
                if reason is None:
                    batch.append((tok, slot.n_prompt + len(slot.tokens) - 1, s, True))
                    decoded_slots.append(s)
                else:
                    on_result(self._finish(slot, reason, stops))
                    lc.llama_memory_seq_rm(mem, s, -1, -1)
                    slots[s] = None
            decoded = None
            if batch:
                self._decode(batch)
                ptr = lc.llama_get_logits(self._ctx)
                decoded = np.ctypeslib.as_array(ptr, shape=(len(batch), self.n_vocab))
                if on_step is not None:
                    on_step(len(batch))

    def _prompt_for(self, text: str, tokens: list[int], cache: OrderedDict[str, _Prompt]) -> _Prompt:
        hit = cache.get(text)
        if hit is not None:
            cache.move_to_end(text)
            return hit
        if len(cache) >= self.prompt_slots:
            _, old = cache.popitem(last=False)
            seq = old.seq
        else:
            seq = self.n_parallel + len(cache)
        pr = _Prompt(seq, len(tokens), self._eval_prompt(tokens, seq))
        cache[text] = pr
        return pr

    def _advance(
        self, slot: _Slot, tok: int, logp: float, params: SamplingParams, stops: tuple[str, ...], limit: int
    ) -> str | None:
        """Record a sampled token; return a finish reason or None to continue."""
        if self._eog[tok] and not params.ignore_eos:
            slot.logprobs.append(logp)
            slot.end_token = tok
            return "eos"
        slot.tokens.append(tok)
        slot.logprobs.append(logp)
        if stops:
            before = len(slot.data)
            slot.data.extend(self._piece(tok))
            tail = slot.data[max(0, before - 64) :].decode("utf-8", "ignore")
            if any(s in tail for s in stops):
                return "stop"
        else:
            slot.data.extend(self._piece(tok))
        if len(slot.tokens) >= params.max_tokens:
            return "length"
        if slot.n_prompt + len(slot.tokens) >= limit:
            return "context"
        return None

    def _finish(self, slot: _Slot, reason: str, stops: tuple[str, ...]) -> SampleResult:
        text = bytes(slot.data).decode("utf-8", "replace")
        if reason == "stop":
            cuts = [i for i in (text.find(s) for s in stops) if i >= 0]
            if cuts:
                text = text[: min(cuts)]
        mean = float(np.mean(slot.logprobs)) if slot.logprobs else None
        ppl = math.exp(-mean) if mean is not None else None
        tokens = list(slot.tokens)
        utf8 = codecs.getincrementaldecoder("utf-8")("replace")  # a character split over
        pieces = [utf8.decode(self._piece(t)) for t in tokens]  # tokens goes to its last one
        if pieces:
            pieces[-1] += utf8.decode(b"", final=True)
        if slot.end_token is not None:
            tokens.append(slot.end_token)
            pieces.append(self.piece(slot.end_token, special=True).decode("utf-8", "replace"))
        return SampleResult(
            slot.job, text, slot.n_prompt, len(slot.tokens), reason, mean, ppl,
            (time.perf_counter() - slot.t0) * 1000.0, tokens=tuple(tokens),
            token_logprobs=tuple(slot.logprobs),
            token_entropies=tuple(slot.entropies[: len(tokens)]), pieces=tuple(pieces),
        )

    def score(
        self,
        items: Sequence[ScoreItem],
        on_result: Callable[[ScoreOutput], None],
        check: Callable[[], None] = lambda: None,
        max_tokens: int = 1024,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        """Teacher-force every item's text after its context; each context evaluated once per lane.

        Texts are grouped by context, contexts sorted so that neighbours share their longest
        token prefix. The work runs in *lanes*: llama.cpp contexts of the same model, each with
        its share of the threads (``score_lanes``), each in its own thread taking groups from a
        common queue; ``on_result``, ``check`` and ``on_batch`` run in the calling thread. In a
        lane a context is evaluated into a prompt sequence from where it first differs from the
        lane's previous context (the shared prefix's cells are kept); each text gets a sequence
        whose KV starts as a copy of the context's cells (``llama_memory_seq_cp``: shared, not
        duplicated) and is decoded in one ``llama_decode`` (batch-sized parts for a long text),
        logits returned for every token that predicts a next one; the first token's
        distribution is the context's last logits, computed once. A text longer than
        ``max_tokens`` (or than the context window leaves) is cut (``truncated``).
        ``on_result`` is called per finished text, ``on_batch(tokens)`` about every
        ``score_batch_tokens`` scored tokens.

        One text per decode, not many: llama.cpp 0.3.36 on CPU returns wrong logits — up to
        ~1 nat off — for the tokens of several sequences decoded in one batch, whether the KV
        cache is unified (copied or separately evaluated prompts alike) or split into streams
        (measured 2026-11-29: benchmarks/README.md). Several single-threaded lanes keep the cores
        busy instead: a small decode parallelises poorly over threads. One text per decode
        matches ``Llama.eval`` to 1e-6 (tests/core/test_scoring.py).
        """
        if not items:
            return
        me = threading.get_ident()
        if self._owner is None:
            self._owner = me
        elif self._owner != me:
            raise RuntimeError("a llama.cpp context is used by one thread only")
        n_batch = score_batch_tokens(self.n_vocab)
        ctx_tokens = {c: self.tokenize(c) for c in dict.fromkeys(i.context for i in items)}
        longest = max(len(t) for t in ctx_tokens.values())
        limit = self.context_limit()
        if longest >= limit:
            raise MonoscopeError(f"A prompt is {longest} tokens, the model's context holds "
                                 f"{limit}: shorten the template.")
        per_text = max(1, min(max_tokens, limit - longest))
        by_ctx: dict[str, list[ScoreItem]] = {c: [] for c in ctx_tokens}
        for it in items:
            by_ctx[it.context].append(it)
        order = sorted(by_ctx, key=lambda c: ctx_tokens[c])  # neighbours share prefixes
        n_lanes, lane_threads = score_lanes(self.n_threads, len(items))
        # chunks small enough to keep every lane busy to the end, large enough to be rare
        size = max(8, -(-len(items) // (4 * n_lanes)))
        tokens = {id(it): self.tokenize_text(it.text) for it in items}
        work: deque[tuple[list[int], list[tuple[ScoreItem, list[int]]]]] = deque(
            (ctx_tokens[c], [(it, tokens[id(it)]) for it in by_ctx[c][a : a + size]])
            for c in order for a in range(0, len(by_ctx[c]), size))
        cells = int(math.ceil((longest + per_text + 256) / 256) * 256)
        lanes = self._score_lanes(n_lanes, lane_threads, cells, n_batch)
        take_lock = threading.Lock()

        def take() -> tuple[list[int], list[tuple[ScoreItem, list[int]]]] | None:
            with take_lock:
                return work.popleft() if work else None

        pending = 0

        def deliver(out: ScoreOutput) -> None:
            nonlocal pending
            on_result(out)
            pending += len(out.tokens)
            if on_batch is not None and pending >= n_batch:
                on_batch(pending)
                pending = 0

        if len(lanes) == 1:  # in this thread
            for out in lanes[0].run(take, per_text, check):
                deliver(out)
        else:
            self._score_threaded(lanes, take, per_text, check, deliver)
        if on_batch is not None and pending:
            on_batch(pending)

    def _score_threaded(self, lanes: list[_Lane], take: Callable[[], Any], per_text: int,
                        check: Callable[[], None], deliver: Callable[[ScoreOutput], None]) -> None:
        import queue

        results: queue.Queue[ScoreOutput | BaseException | None] = queue.Queue(maxsize=256)
        stop = threading.Event()

        def stopped() -> None:
            if stop.is_set():
                raise _Stop

        def work(lane: _Lane) -> None:
            try:
                for out in lane.run(take, per_text, stopped):
                    while not stop.is_set():
                        try:
                            results.put(out, timeout=0.1)
                            break
                        except queue.Full:
                            continue
            except _Stop:
                pass
            except BaseException as exc:  # handed to the calling thread
                results.put(exc)
            finally:
                results.put(None)

        threads = [threading.Thread(target=work, args=(lane,), daemon=True, name=f"score-lane-{i}")
                   for i, lane in enumerate(lanes)]
        for t in threads:
            t.start()
        try:
            running = len(threads)
            while running:
                check()
                try:
                    got = results.get(timeout=0.1)
                except queue.Empty:
                    continue
                if got is None:
                    running -= 1
                elif isinstance(got, BaseException):
                    raise got
                else:
                    deliver(got)
        finally:
            stop.set()
            for t in threads:
                t.join()

    def _score_lanes(self, n: int, threads: int, cells: int, n_batch: int) -> list[_Lane]:
        key = (n, threads, cells, n_batch)
        if self._lanes_key != key:
            for lane in self._lanes:
                lane.close()
            self._lanes = []
            self._lanes_key = key
            for _ in range(n):
                self._lanes.append(_Lane(self, cells, n_batch, threads))
        return self._lanes
