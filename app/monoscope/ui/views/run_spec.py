"""What the run dialog produces: a `RunSpec`, its validation helpers and the time estimate.

No Qt here, so the rules can be tested and reused (e.g. by a future sweep editor).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monoscope.core import assets
from monoscope.core.errors import MonoscopeError
from monoscope.core.generation.sampling import SamplingParams

# Aggregate tokens/s measured on this machine class (2 cores, 16 sequences batched).
MEASURED_TOKENS_PER_S = {"smollm2": 240.0, "gemma3-base": 205.0}
_SMOLLM2_PARAMS = 135e6
CHOOSE_FILE = "__choose__"
CUSTOM = "__custom__"


class RunInputError(MonoscopeError):
    """A field of the run dialog holds a value the generation stage cannot use."""


@dataclass(frozen=True)
class RunSpec:
    """What the user asked for: expands to one run per (temperature, top-p)."""

    dataset_id: int
    model: str  # bundled asset name or a .gguf path
    template: str  # preset name or template text with placeholders
    sampling: tuple[SamplingParams, ...]
    n_per_prompt: int
    seed: int
    prompt_keys: tuple[str, ...] | None = None  # None = all prompts
    label: str = ""
    n_prompts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # mitigations: verbalized sampling's answers per call (0 = off) and the system prompts to
    # vary over (names from presets.json or texts; empty = the template's own)
    verbalized_k: int = 0
    system_prompts: tuple[str, ...] = ()

    @property
    def n_runs(self) -> int:
        return len(self.sampling) * max(1, len(self.system_prompts))

    @property
    def n_samples(self) -> int:
        return self.n_runs * self.n_prompts * self.n_per_prompt

    def to_request(self, dataset: str) -> Any:
        """The generation stage's `RunRequest` for this spec (one run per grid point; the
        first system prompt of a variation, see `to_requests`)."""
        return self.to_requests(dataset)[0]

    def to_requests(self, dataset: str) -> list[Any]:
        """One `RunRequest` per system prompt of the variation (one when there is none), each
        planning one run per temperature × top-p × min-p."""
        from monoscope.core.generation.runs import RunRequest

        first = self.sampling[0]
        urls = [str(s["url"]) for s in self.extra.get("servers", [])]
        fleet: dict[str, Any] = {}
        if urls:  # generate on the dialog's servers; the local GGUF gives the chat template
            fleet = {"engine": "http", "base_url": urls[0], "base_urls": urls[1:],
                     "server_slots": {str(s["url"]): int(s["slots"])
                                      for s in self.extra["servers"] if s.get("slots")}}
        out = []
        for system in self.system_prompts or (None,):
            label = self.label or None
            if label and system is not None and len(self.system_prompts) > 1:
                label = f"{label} system={system}"
            out.append(RunRequest(
                dataset=dataset, model=self.model, template=self.template, n=self.n_per_prompt,
                temperatures=sorted({s.temperature for s in self.sampling}),
                top_ps=sorted({s.top_p for s in self.sampling}), top_ks=(first.top_k,),
                min_p=first.min_p, min_ps=sorted({s.min_p for s in self.sampling}),
                repeat_penalty=first.repeat_penalty, max_tokens=first.max_tokens,
                decay=first.decay, prompt_keys=list(self.prompt_keys) if self.prompt_keys else None,
                seed=self.seed, label=label, verbalized_k=self.verbalized_k,
                system_prompt=system, **fleet))
        return out


# Mitigation presets of the run dialog (issue 14): what each sets. Keys of `fields`:
# temperatures, top_ps, min_ps (comma-separated text), template (a preset name),
# verbalized_k, system_prompts (comma-separated names).
MITIGATIONS: dict[str, dict[str, Any]] = {
    "none": {"label": "none (one run per temperature × top-p)", "fields": {}},
    "min-p": {"label": "min-p sweep (Nguyen et al. 2025)",
              "fields": {"temperatures": "1.0, 1.5", "top_ps": "1.0",
                         "min_ps": "0, 0.05, 0.1, 0.2", "verbalized_k": 0,
                         "system_prompts": ""}},
    "verbalized": {"label": "verbalized sampling: k answers with probabilities (Zhang et al. 2025)",
                   "fields": {"temperatures": "1.0", "top_ps": "1.0", "min_ps": "0",
                              "verbalized_k": 5, "system_prompts": ""}},
    "personas": {"label": "personas (the paper's personation prompt)",
                 "fields": {"template": "personation", "verbalized_k": 0, "min_ps": "0",
                            "system_prompts": ""}},
    "system": {"label": "system-prompt variation",
               "fields": {"system_prompts": "none, assistant, creative, critic, diverse",
                          "verbalized_k": 0, "min_ps": "0"}},
}


def parse_names(text: str, known: dict[str, str]) -> tuple[str, ...]:
    """System prompt names separated by commas, each checked against `known`."""
    names = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise RunInputError(f"Unknown system prompt(s) {', '.join(unknown)}; use "
                            f"{', '.join(known)} (presets.json's system_prompts).")
    return names


def parse_floats(text: str, what: str, low: float, high: float, low_open: bool = False) -> list[float]:
    """Parse '0.5, 0.8 1.2' into floats within [low, high] (or (low, high]); explain failures."""
    parts = [p for p in text.replace(",", " ").replace(";", " ").split() if p]
    if not parts:
        raise RunInputError(f"Give at least one {what} value, e.g. 0.8 or 0.5, 1.0.")
    out = []
    for p in parts:
        try:
            v = float(p)
        except ValueError:
            raise RunInputError(f"{what}: {p!r} is not a number; write numbers separated by commas.") from None
        if math.isnan(v) or v > high or v < low or (low_open and v == low):
            interval = f"({low:g}, {high:g}]" if low_open else f"[{low:g}, {high:g}]"
            raise RunInputError(f"{what}: {v:g} is outside {interval}.")
        if v not in out:
            out.append(v)
    return out


def estimate_seconds(spec: RunSpec, tokens_per_s: float, mean_tokens: float | None = None) -> float:
    """Upper-bound time: every sample runs to max tokens unless a typical length is known."""
    total = 0.0
    for params in spec.sampling:
        per_sample = mean_tokens if mean_tokens else params.max_tokens
        total += spec.n_prompts * spec.n_per_prompt * per_sample
    return total / max(tokens_per_s, 1e-6)


def tokens_per_second(model: str, n_params: int | None) -> float:
    """Measured rate for bundled models; other files scaled from SmolLM2 by parameter count."""
    if model in MEASURED_TOKENS_PER_S:
        return MEASURED_TOKENS_PER_S[model]
    if n_params:
        return max(2.0, MEASURED_TOKENS_PER_S["smollm2"] * _SMOLLM2_PARAMS / n_params)
    return MEASURED_TOKENS_PER_S["smollm2"]


def model_facts(model: str) -> dict[str, Any]:
    """GGUF metadata of a bundled model or a file, for the info line; never loads weights."""
    from monoscope.core.generation.gguf import read_gguf

    if model in assets.ASSETS:
        a = assets.ASSETS[model]
        facts: dict[str, Any] = {"bundled": True, "description": a.description,
                                 "variant": a.extra.get("variant", ""),
                                 "family": a.extra.get("family", "")}
        if not assets.is_present(model):
            facts["missing"] = f"not downloaded yet ({a.size_mb:.0f} MB, fetched when the run starts)"
            facts["chat"] = a.extra.get("variant") == "instruct"
            return facts
        path = assets.asset_path(model)
    else:
        facts = {"bundled": False}
        path = Path(model)
    info = read_gguf(path)
    facts.update(
        name=info.name, architecture=info.architecture, n_params=info.n_params,
        quantization=info.quantization, context=info.context_length, chat=info.is_chat,
    )
    return facts


def preset_descriptions() -> dict[str, str]:
    """Preset name -> its one-line description from resources/templates/presets.json."""
    try:
        data = json.loads((assets.resources_dir() / "templates" / "presets.json").read_text("utf-8"))
        return {k: str(v.get("description", "")) for k, v in data["presets"].items()}
    except (OSError, ValueError, KeyError):
        return {}


def describe_facts(facts: dict[str, Any]) -> str:
    """One or two lines for the model info label."""
    if "missing" in facts:
        return f"{facts['description']}\n{facts['missing']}"
    params = facts.get("n_params") or 0
    size = f"{params / 1e9:.2f} B" if params >= 1e9 else f"{params / 1e6:.0f} M"
    mode = ("chat template present → chat prompts" if facts.get("chat")
            else "no chat template → completion prompts (base model)")
    fam = f" · {facts['family']} family" if facts.get("family") else ""
    return (f"{facts.get('name')} · {facts.get('architecture')} · {size} params · "
            f"{facts.get('quantization')} · context {facts.get('context')}{fam}\n{mode}")
