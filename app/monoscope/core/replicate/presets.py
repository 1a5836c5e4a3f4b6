"""The paper's protocols as data: presets, the sampling grid, decay schedules and run configs.

A replication is a list of `Config`s, one generation run each (model × template × sampling).
`expand(request)` turns a `ReplicateRequest` into that list; everything else (estimate,
pipeline, tables) works from the list, so a preset is a few numbers, not code.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

from monoscope.core.errors import MonoscopeError
from monoscope.core.generation.sampling import Decay, SamplingParams
from monoscope.core.generation.templates import personas

PROTOCOLS = ("reviews", "code")
PRESETS = ("quick", "paper", "mitigations")
REVIEW_TEMPERATURES = (0.5, 0.8, 1.0, 1.2, 1.5)
REVIEW_TOP_PS = (0.90, 0.95, 0.98, 1.00)
CODE_TEMPERATURES = (0.5, 1.0)
CODE_TOP_PS = (0.9, 1.0)
TOP_K = 50
PPL_MAX = 20.0
# The paper's two decay schedules: from T=10 down to the end temperature over L tokens.
DECAYS = {
    "linear": Decay("linear", 10.0, 1.0, 20),
    "exponential": Decay("exponential", 10.0, 1.2, 50),
}


class ReplicateError(MonoscopeError):
    """A replication request that cannot be run as asked."""


@dataclass(frozen=True)
class Protocol:
    """Sizes of one preset of one protocol (None = every prompt of the dataset)."""

    prompts: int | None
    n: int
    max_tokens: int
    grid: tuple[tuple[float, float], ...]  # (temperature, top-p) points
    templates: tuple[str, ...]  # templates run on every grid point
    extra: tuple[tuple[str, float, float], ...] = ()  # (template, T, top-p) single points
    decays: bool = False
    headline: tuple[float, float] = (0.8, 0.9)  # the paper's Figure 1 setting
    mitigations: tuple[Mitigation, ...] = ()  # single runs with a mitigation (issue 14)


@dataclass(frozen=True)
class Mitigation:
    """One run of the mitigations preset: template, T, top-p, min-p, verbalized sampling's
    answers per call (0 = off) and a system prompt (a presets.json name; None = the
    template's)."""

    template: str
    temperature: float
    top_p: float = 1.0
    min_p: float = 0.0
    verbalized_k: int = 0
    system_prompt: str | None = None


MIN_P_SWEEP = tuple(Mitigation("personalized", t, 1.0, mp)
                    for t in (1.0, 1.5) for mp in (0.0, 0.05, 0.1, 0.2))
VERBALIZED_K = 5


def _full(temps: tuple[float, ...], top_ps: tuple[float, ...]) -> tuple[tuple[float, float], ...]:
    return tuple(itertools.product(temps, top_ps))


PROTOCOL_PRESETS: dict[tuple[str, str], Protocol] = {
    # ~10 min on 2 cores for two small models: 4 temperatures at the paper's top-p 0.9 for the
    # personalized prompt plus one personation point; reviews of the films demo are short
    # (one or two sentences), so 64 new tokens cover them.
    ("reviews", "quick"): Protocol(
        prompts=20, n=10, max_tokens=64,
        grid=((0.5, 0.9), (0.8, 0.9), (1.2, 0.9), (1.5, 0.9)),
        templates=("personalized",), extra=(("personation", 1.0, 0.9),)),
    ("reviews", "paper"): Protocol(
        prompts=None, n=10, max_tokens=500,
        grid=_full(REVIEW_TEMPERATURES, REVIEW_TOP_PS),
        templates=("personalized", "personation"), decays=True),
    # The mitigations of issue 14 at the quick preset's sizes, each against the personalized
    # prompt at T 1.0, top-p 1.0 (the min-p sweep's first point): min-p ∈ {0, .05, .1, .2} at
    # T 1.0 / 1.5 (Nguyen et al. 2025), verbalized sampling with 5 answers per call (Zhang et
    # al. 2025; 2 calls per prompt, so 10 texts like the others), the paper's personas, and
    # three system prompts.
    ("reviews", "mitigations"): Protocol(
        prompts=20, n=10, max_tokens=64, grid=(), templates=(),
        mitigations=(*MIN_P_SWEEP, Mitigation("personalized", 1.0, verbalized_k=VERBALIZED_K),
                     Mitigation("personation", 1.0),
                     *(Mitigation("personalized", 1.0, system_prompt=name)
                       for name in ("creative", "critic", "diverse")))),
    ("code", "quick"): Protocol(
        prompts=None, n=5, max_tokens=192, grid=_full(CODE_TEMPERATURES, CODE_TOP_PS),
        templates=("code",), headline=(1.0, 1.0)),
    ("code", "paper"): Protocol(
        prompts=None, n=20, max_tokens=512, grid=_full(CODE_TEMPERATURES, CODE_TOP_PS),
        templates=("code",), headline=(1.0, 1.0)),
}


@dataclass(frozen=True)
class ReplicateRequest:
    """What `monoscope replicate` asks for; None fields take the preset's value."""

    protocol: str
    dataset: str
    models: tuple[str, ...] = ("smollm2", "gemma3-base")
    preset: str = "quick"
    prompts: int | None = None
    n: int | None = None
    max_tokens: int | None = None
    decays: bool | None = None
    ppl_max: float | None = PPL_MAX  # None = no perplexity filter
    seed: int = 0
    n_parallel: int = 16
    out: str | None = None  # report folder; None = <study>-replication/
    project: bool = True
    extra: dict[str, str] = field(default_factory=dict)
    unsafe_no_sandbox: bool = False  # code protocol: run programs without bubblewrap (marked)


@dataclass(frozen=True)
class Config:
    """One generation run of a replication."""

    model: str
    template: str
    temperature: float
    top_p: float
    top_k: int
    n: int
    max_tokens: int
    prompts: int | None
    decay: str | None = None  # key of DECAYS
    min_p: float = 0.0
    verbalized_k: int = 0  # verbalized sampling: answers per call (0 = off)
    system_prompt: str | None = None  # a presets.json system prompt name

    @property
    def label(self) -> str:
        if self.decay:
            d = DECAYS[self.decay]
            return (f"{self.model} {self.template} decay {self.decay} "
                    f"T {d.start:g}→{d.end:g} over {d.length}")
        out = f"{self.model} {self.template} T={self.temperature:g} p={self.top_p:g}"
        if self.min_p:
            out += f" min-p={self.min_p:g}"
        if self.verbalized_k:
            out += f" VS k={self.verbalized_k}"
        if self.system_prompt is not None:
            out += f" system={self.system_prompt}"
        return out

    def sampling(self) -> SamplingParams:
        return SamplingParams(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                              min_p=self.min_p, max_tokens=self.max_tokens,
                              decay=DECAYS[self.decay] if self.decay else None)


def protocol_for(request: ReplicateRequest) -> Protocol:
    """The preset's sizes with the request's overrides applied."""
    if request.protocol not in PROTOCOLS:
        raise ReplicateError(f"Unknown protocol {request.protocol!r}; use reviews or code.")
    if request.preset not in PRESETS:
        raise ReplicateError(f"Unknown preset {request.preset!r}; use quick or paper.")
    if (request.protocol, request.preset) not in PROTOCOL_PRESETS:
        raise ReplicateError(f"The {request.preset} preset is for the reviews protocol; use "
                             "--preset quick or paper for code.")
    base = PROTOCOL_PRESETS[(request.protocol, request.preset)]
    for name in ("prompts", "n", "max_tokens"):
        v = getattr(request, name)
        if v is not None and v < 1:
            raise ReplicateError(f"--{name.replace('_', '-')} must be at least 1.")
    if not request.models:
        raise ReplicateError("Name at least one model with --model (e.g. smollm2).")
    return replace(
        base,
        prompts=request.prompts if request.prompts is not None else base.prompts,
        n=request.n or base.n,
        max_tokens=request.max_tokens or base.max_tokens,
        decays=base.decays if request.decays is None else request.decays,
    )


def expand(request: ReplicateRequest) -> list[Config]:
    """Every run of the replication, model by model, in a stable order."""
    proto = protocol_for(request)
    out: list[Config] = []
    for model in dict.fromkeys(request.models):
        points: list[tuple[str, float, float, str | None]] = [
            (template, t, p, None) for template in proto.templates for t, p in proto.grid]
        points += [(template, t, p, None) for template, t, p in proto.extra]
        if proto.decays and request.protocol == "reviews":
            # The decayed temperature replaces T; top-k 50 bounds the hot start.
            points += [("personalized", d.end if d.end is not None else 1.0, 1.0, key)
                       for key, d in DECAYS.items()]
        out += [Config(model, template, t, p, TOP_K, proto.n, proto.max_tokens, proto.prompts,
                       decay) for template, t, p, decay in points]
        for m in proto.mitigations:
            k = m.verbalized_k
            # verbalized sampling: ⌈n / k⌉ calls of k answers (as many texts as the others),
            # each call with room for its k answers
            out.append(Config(model, m.template, m.temperature, m.top_p, TOP_K,
                              -(-proto.n // k) if k else proto.n,
                              min(1024, proto.max_tokens * k) if k else proto.max_tokens,
                              proto.prompts, None, m.min_p, k, m.system_prompt))
    return out


def decay_temperature(kind: str, i: int) -> float:
    """Temperature of the i-th new token under one of the paper's schedules."""
    return DECAYS[kind].temperature(i)


def persona_for(sample_index: int) -> str:
    """Sample i of a personation run writes as persona i (mod 10), like the paper."""
    names = personas()
    return names[sample_index % len(names)]
