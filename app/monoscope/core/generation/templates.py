"""Prompt templates: the paper's presets (book, film and code variants) and user templates.

A template is resolved once per run into a `PromptTemplate` (the exact text is stored with the
run); rendering it for one (prompt, sample) gives the exact text the model sees, which is
stored per sample. Chat models get the chat template from their GGUF metadata, rendered with
Jinja2; base models get the completion variant as plain text (never llama-2 ``[INST]``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from monoscope.core.assets import resources_dir
from monoscope.core.errors import MonoscopeError

PLACEHOLDERS = ("title", "context", "person")
_FIELD_RE = re.compile(r"\{([A-Za-z_]+)\}")


class TemplateError(MonoscopeError):
    """A template name or text that cannot be used."""


@lru_cache(maxsize=1)
def _presets_file() -> dict[str, Any]:
    path = resources_dir() / "templates" / "presets.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def personas() -> list[str]:
    """The paper's 10 personas; sample i uses persona i mod 10."""
    return list(_presets_file()["personas"])


def system_prompts() -> dict[str, str]:
    """The named system prompts of the system-prompt variation ("none" = no system prompt)."""
    return {str(k): str(v) for k, v in _presets_file().get("system_prompts", {}).items()}


def preset_names() -> list[str]:
    return sorted(_presets_file()["presets"])


def dataset_domain(name: str, kind: str, meta: dict[str, Any] | None) -> str:
    """'code', 'films' or 'books': picks the preset variant that fits a dataset."""
    if kind == "code":
        return "code"
    meta = meta or {}
    hint = " ".join(str(meta.get(k, "")) for k in ("domain", "subject", "demo", "source"))
    hint = f"{hint} {name}".lower()
    if any(w in hint for w in ("film", "movie", "rotten", "imdb", "cinema")):
        return "films"
    return "books"


def default_preset(domain: str) -> str:
    return "code" if domain == "code" else "personalized"


@dataclass(frozen=True)
class PromptTemplate:
    """A resolved template: chat form (system + user) and base-model completion form."""

    name: str
    user: str
    system: str | None = None
    base: str | None = None

    @property
    def uses_person(self) -> bool:
        return "{person}" in (self.user + (self.base or "") + (self.system or ""))

    def text_for(self, chat: bool) -> str:
        """The template text recorded with the run (what the model's prompts are made from)."""
        if chat:
            return (f"[system] {self.system}\n[user] " if self.system else "") + self.user
        return self.base if self.base is not None else self.user

    def fields(self, title: str, context: str | None, sample_index: int) -> dict[str, str]:
        names = personas()
        return {
            "title": title,
            "context": context or "",
            "person": names[sample_index % len(names)],
        }

    def messages(self, title: str, context: str | None, sample_index: int) -> list[dict[str, str]]:
        f = self.fields(title, context, sample_index)
        msgs = []
        if self.system:
            msgs.append({"role": "system", "content": _fill(self.system, f)})
        msgs.append({"role": "user", "content": _fill(self.user, f)})
        return msgs

    def completion(self, title: str, context: str | None, sample_index: int) -> str:
        return _fill(self.base if self.base is not None else self.user, self.fields(title, context, sample_index))


def _fill(text: str, fields: dict[str, str]) -> str:
    # Only our three placeholders are replaced, so code with braces in a context stays intact.
    return _FIELD_RE.sub(lambda m: fields.get(m.group(1), m.group(0)), text)


def _check_user_template(text: str) -> None:
    unknown = sorted({m for m in _FIELD_RE.findall(text) if m not in PLACEHOLDERS})
    if unknown:
        raise TemplateError(
            f"Unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)} in the template; "
            "use {title}, {context} and {person}."
        )
    if "{title}" not in text and "{context}" not in text:
        raise TemplateError(
            "A template must contain {title} or {context}, or be a preset name: "
            + ", ".join(preset_names())
            + "."
        )


def resolve_template(spec: str, domain: str) -> PromptTemplate:
    """A preset name, a path to a .txt/.json template file, or template text with placeholders."""
    presets = _presets_file()["presets"]
    if spec in presets:
        variants = presets[spec]["variants"]
        key = domain if domain in variants else ("books" if "books" in variants else next(iter(variants)))
        v = variants[key]
        label = spec if key in ("books", "code") else f"{spec}-{key}"
        return PromptTemplate(label, v["chat"]["user"], v["chat"].get("system"), v.get("base"))
    path = Path(spec).expanduser()
    if "{" not in spec and path.suffix in (".txt", ".json") and path.is_file():
        if path.suffix == ".json":
            d = json.loads(path.read_text(encoding="utf-8"))
            for part in (d.get("user", ""), d.get("base") or d.get("user", "")):
                _check_user_template(part)
            return PromptTemplate(path.stem, d["user"], d.get("system"), d.get("base"))
        text = path.read_text(encoding="utf-8")
        _check_user_template(text)
        return PromptTemplate(path.stem, text)
    if "{" not in spec:
        raise TemplateError(
            f"No preset called {spec!r}. Presets: {', '.join(preset_names())}; or pass template "
            "text with {title}/{context}/{person}, or a .txt/.json file."
        )
    _check_user_template(spec)
    return PromptTemplate("custom", spec)


def render_chat(chat_template: str, messages: list[dict[str, str]], bos: str, eos: str) -> str:
    """Render a GGUF chat template (Jinja2, sandboxed) with the generation prompt appended."""
    from jinja2 import TemplateError as JinjaError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(f"The model's chat template refused the prompt: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    try:
        tpl = env.from_string(chat_template)
        try:
            return tpl.render(messages=messages, add_generation_prompt=True, bos_token=bos, eos_token=eos)
        except TemplateError:
            if messages[0]["role"] != "system":
                raise
            # Some templates reject a system role: fold it into the first user message.
            merged = [{"role": "user", "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}]
            return tpl.render(messages=merged + messages[2:], add_generation_prompt=True, bos_token=bos, eos_token=eos)
    except JinjaError as exc:
        raise TemplateError(f"The model's chat template cannot be rendered: {exc}") from None
