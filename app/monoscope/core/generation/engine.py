"""The engine protocol every generator implements, and the records it exchanges with runs.

A run hands an engine a list of `Job`s (one per missing sample, already rendered to the exact
prompt text) and gets one `SampleResult` per job through a callback as soon as it finishes,
so the runner can commit it at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from monoscope.core.generation.sampling import SamplingParams

FINISH_REASONS = ("eos", "stop", "length", "context")


@dataclass(frozen=True)
class Job:
    """One sample to generate: which prompt, which sample index, its seed and its exact text."""

    prompt_id: int
    sample_index: int
    seed: int
    prompt_text: str


@dataclass(frozen=True)
class SampleResult:
    """A finished sample with its provenance.

    finish_reason: 'eos' (end-of-generation token), 'stop' (a stop string), 'length'
    (max tokens), 'context' (context full). mean_logprob is the mean raw (untempered)
    log-probability of the generated tokens, perplexity = exp(−mean_logprob). ``provenance``
    (server engines) is merged into the sample's stored ``params``: the server, its request
    seed, the sampling fields sent / applied / ignored (`monoscope.core.generation.fleet`).
    """

    job: Job
    text: str
    n_prompt_tokens: int
    n_tokens: int
    finish_reason: str
    mean_logprob: float | None
    perplexity: float | None
    wall_ms: float
    provenance: dict[str, Any] | None = None
    # per token, when the engine records them (llama.cpp): ids as sampled (incl. a final end
    # token), raw log-probabilities, entropy (nats) of the sampling distribution, token texts
    tokens: tuple[int, ...] | None = None
    token_logprobs: tuple[float, ...] | None = None
    token_entropies: tuple[float, ...] | None = None
    pieces: tuple[str, ...] | None = None


ResultCallback = Callable[[SampleResult], None]
StepCallback = Callable[[int], None]  # tokens decoded in the last step


class Engine(Protocol):
    """A text generator; one instance is used by one thread."""

    name: str

    def version(self) -> str:
        """Engine + backend version string recorded with every run."""
        ...

    def context_limit(self) -> int | None:
        """Tokens one sequence may hold (prompt + generated), or None if unknown."""
        ...

    def count_tokens(self, text: str) -> int | None:
        """Prompt length in tokens as the engine will see it, or None if it cannot tell."""
        ...

    def generate(
        self,
        jobs: Sequence[Job],
        params: SamplingParams,
        on_result: ResultCallback,
        check: Callable[[], None] = lambda: None,
        on_step: StepCallback | None = None,
    ) -> None:
        """Generate every job, calling `on_result` per finished sample and `check()` between
        decode steps (it raises to cancel)."""
        ...

    def close(self) -> None: ...
