"""A run's model is released when the run ends: the process's resident memory goes back down
(a real tiny SmolLM2 run through `run_chain`, as the window's runs panel starts it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monoscope.core.generation import RunRequest
from monoscope.core.importers import ColumnMap, import_table
from monoscope.core.pipeline import Generate, run_chain
from monoscope.core.store import Study
from monoscope.core.tasks import TaskState

pytestmark = pytest.mark.slow


def rss_mb() -> dict[str, float]:
    """Resident memory of this process (total, anonymous, file-backed) in MB."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) / 1024
    return out


class Sampled(TaskState):
    """Records the resident memory at every progress report of the run (model loaded)."""

    def __init__(self) -> None:
        super().__init__()
        self.during: list[dict[str, float]] = []

    def progress(self, *args: Any, **kwargs: Any) -> None:
        self.during.append(rss_mb())
        super().progress(*args, **kwargs)


def test_the_model_is_released_when_the_run_ends(study: Study, tmp_path: Path) -> None:
    csv = tmp_path / "films.csv"
    csv.write_text("film,review\n" + "".join(
        f"f{i},Review {j} of film {i}: a fine and moving story.\n"
        for i in range(2) for j in range(3)))
    import_table(study, csv, dataset="films", mapping=ColumnMap(key="film", text="review"))
    # a first tiny run warms up what stays loaded for good (the llama.cpp library, its
    # backends, the sampler code), so the second run's numbers are the model's own
    req = RunRequest(dataset="films", model="smollm2", n=2, max_tokens=16,
                     temperatures=(1.0,), top_ps=(0.95,), seed=1)
    run_chain(study, [Generate([req])], TaskState())
    before = rss_mb()
    state = Sampled()
    (step,) = run_chain(study, [Generate([RunRequest(
        dataset="films", model="smollm2", n=2, max_tokens=16, temperatures=(1.2,),
        top_ps=(0.95,), seed=2)])], state)
    after = rss_mb()
    assert [s.status for s in step.value] == ["finished"]
    assert study.scalar("SELECT count(*) FROM generations") == 8
    peak = max(s["VmRSS"] for s in state.during)
    print(f"\nRSS before {before['VmRSS']:.0f} MB, during the run {peak:.0f} MB, "
          f"after {after['VmRSS']:.0f} MB (file-backed {before['RssFile']:.0f} → "
          f"{max(s['RssFile'] for s in state.during):.0f} → {after['RssFile']:.0f} MB)")
    # SmolLM2-135M Q4_1 is ~ 90 MB of weights, mapped while the run generates ...
    assert peak - before["VmRSS"] > 60
    # ... unmapped when it ends, and the freed buffers go back to the system (malloc_trim):
    # the process is back where it was
    assert after["RssFile"] - before["RssFile"] < 10
    assert after["VmRSS"] - before["VmRSS"] < 10
