"""Code attributes: static tags and complexity (context-free) and sandboxed test runs (per prompt).

Static extractors read the program out of the text (`code_static.extract_code`) and depend on
the body alone, so the content-hash cache shares them between identical texts. The dynamic
extractor `code.correct` depends on the prompt's tests (`prompt_tests`), so it is not
context-free: it runs every text, source and generated, against its prompt's first
`MAX_TESTS` tests in the sandbox (`monoscope.core.sandbox`, never in this process) and writes
three attributes per text: ``code.correct`` (share passed; label pass/fail/error/timeout/memory),
``code.wall_ms`` and ``code.peak_kb`` (max over the tests). Texts of prompts without tests get
no rows (there is nothing to judge). Without the kernel sandbox nothing runs unless the request
opts in (``unsafe_no_sandbox``); rows computed that way carry the version
``<version>+unsafe-no-sandbox``, and a later run with the sandbox recomputes them.
"""

from __future__ import annotations

from collections import defaultdict

from monoscope.core.attributes.base import Context, Extractor, Outcome, TextItem, Value
from monoscope.core.attributes.code.judge import JudgeAlgorithms
from monoscope.core.attributes.code.static import (
    algorithm_tags,
    cyclomatic,
    data_structure_tags,
    extract_code,
    join_tags,
)
from monoscope.core.sandbox import (
    UNSAFE,
    Limits,
    RunResult,
    TestCase,
    isolation,
    run_tests,
)
from monoscope.core.store import attributes as attributes_repo

MAX_TESTS = 10  # the paper runs each solution on 10 tests
DEFAULT_LIMITS = Limits(timeout_s=4.0, memory_mb=512)


class _StaticExtractor(Extractor):
    """Shared shape of the static extractors: code block → value (None if no Python found)."""

    kinds = ("code",)
    context_free = True
    batch_size = 256

    def value_of(self, code: str) -> Value:
        raise NotImplementedError

    def compute(self, ctx: Context, items: list[TextItem]) -> list[Value]:
        out = []
        for it in items:
            code = extract_code(it.body)
            out.append(Value(None, None) if code is None else self.value_of(code))
        return out


class AlgorithmTags(_StaticExtractor):
    """``code.algorithms``: number of tags from the paper's algorithm list; label = the tags."""

    name = "code.algorithms"
    version = "static-1"

    def value_of(self, code: str) -> Value:
        tags = algorithm_tags(code)
        return Value(None, None) if tags is None else Value(float(len(tags)), join_tags(tags))


class DataStructureTags(_StaticExtractor):
    """``code.data_structures``: tags from the paper's data-structure list."""

    name = "code.data_structures"
    version = "static-1"

    def value_of(self, code: str) -> Value:
        tags = data_structure_tags(code)
        return Value(None, None) if tags is None else Value(float(len(tags)), join_tags(tags))


class Cyclomatic(_StaticExtractor):
    """``code.cyclomatic``: McCabe complexity of the whole program."""

    name = "code.cyclomatic"
    version = "1"

    def value_of(self, code: str) -> Value:
        n = cyclomatic(code)
        return Value(None if n is None else float(n))


def judge_run(
    body: str, tests: list[TestCase], limits: Limits | None = None, unsafe_no_sandbox: bool = False
) -> RunResult | None:
    """Run the program inside ``body`` against ``tests``; None when no Python code is found."""
    code = extract_code(body)
    if code is None:
        return None
    return run_tests(code, tests, limits or DEFAULT_LIMITS, parallelism=2,
                     unsafe_no_sandbox=unsafe_no_sandbox)


class Execution(Extractor):
    """``code.correct`` + ``code.wall_ms`` + ``code.peak_kb`` from sandboxed runs of the tests."""

    name = "code.correct"
    version = "1"
    kinds = ("code",)
    context_free = False
    batch_size = 8
    limits = DEFAULT_LIMITS

    def _tests(self, ctx: Context, prompt_id: int) -> list[TestCase]:
        return [TestCase(i, o) for i, o in attributes_repo.prompt_tests(ctx.study, prompt_id,
                                                                        MAX_TESTS)]

    def run(self, ctx: Context, dataset_id: int, dataset: str) -> Outcome:
        out = Outcome(self.name, dataset)
        unsafe_ok = ctx.request.unsafe_no_sandbox
        items = attributes_repo.pending(ctx.study, dataset_id, self.name, self.version)
        by_prompt: dict[int, list[TextItem]] = defaultdict(list)
        for it in items:
            by_prompt[it.prompt_id].append(it)
        tests = {pid: self._tests(ctx, pid) for pid in by_prompt}
        todo = [it for it in items if tests[it.prompt_id]]
        version = self.version
        if todo and isolation(unsafe_ok) == UNSAFE:  # raises without the sandbox or opt-in
            version = f"{self.version}+{UNSAFE}"
            again = {it.text_id
                     for it in attributes_repo.pending(ctx.study, dataset_id, self.name, version)}
            items = [it for it in items if it.text_id in again]
            todo = [it for it in todo if it.text_id in again]
        out.already = attributes_repo.count_texts(ctx.study, dataset_id) - len(items)
        ctx.state.begin(f"{self.name} ({dataset})", len(todo))
        done = 0
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start : start + self.batch_size]
            rows: dict[str, list[tuple[int, Value]]] = defaultdict(list)
            seen: dict[tuple[int, str], tuple[Value, Value, Value]] = {}
            for it in batch:
                ctx.state.check()
                key = (it.prompt_id, it.content_hash)
                if key not in seen:
                    res = judge_run(it.body, tests[it.prompt_id], self.limits, unsafe_ok)
                    seen[key] = self._values(res)
                    out.computed += 1
                correct, wall, peak = seen[key]
                rows["code.correct"].append((it.text_id, correct))
                rows["code.wall_ms"].append((it.text_id, wall))
                rows["code.peak_kb"].append((it.text_id, peak))
                done += 1
                ctx.state.progress(done, len(todo))
            for name, vals in rows.items():
                attributes_repo.write(ctx.study, name, version, vals)
        return out

    @staticmethod
    def _values(res: RunResult | None) -> tuple[Value, Value, Value]:
        if res is None:
            return Value(0.0, "error"), Value(None), Value(None)
        label = "pass" if res.status == "pass" else res.status
        return (
            Value(res.share_passed, label),
            Value(res.wall_ms),
            Value(float(res.peak_kb)),
        )


# The optional LLM judge registers here too (kinds=(): it runs only when named).
EXTRACTORS: list[Extractor] = [
    AlgorithmTags(),
    DataStructureTags(),
    Cyclomatic(),
    Execution(),
    JudgeAlgorithms(),
]
