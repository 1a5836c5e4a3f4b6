"""Generation: local GGUF models through llama.cpp (batched), or an OpenAI-compatible server.

Public API: `plan_runs` + `run_generation` (runs and sweeps with resume), `RunRequest`,
`SamplingParams` / `Decay`, the `Engine` protocol with `LlamaCppEngine` and `OpenAIEngine`
(imported lazily from their modules), `read_gguf` and `register_model`.
"""

from __future__ import annotations

from monoscope.core.generation.engine import Engine, Job, SampleResult
from monoscope.core.generation.gguf import GGUFInfo, read_gguf
from monoscope.core.generation.registry import register_model, resolve_model
from monoscope.core.generation.runs import (
    RunError,
    RunRequest,
    RunSummary,
    plan_runs,
    run_generation,
    run_table,
)
from monoscope.core.generation.sampling import Decay, SamplingParams, derive_seed
from monoscope.core.generation.templates import PromptTemplate, resolve_template

__all__ = [
    "Decay",
    "Engine",
    "GGUFInfo",
    "Job",
    "PromptTemplate",
    "RunError",
    "RunRequest",
    "RunSummary",
    "SampleResult",
    "SamplingParams",
    "derive_seed",
    "plan_runs",
    "read_gguf",
    "register_model",
    "resolve_model",
    "resolve_template",
    "run_generation",
    "run_table",
]
