"""What the explorer showed, saved with the study and restored when it is opened again.

A `ViewState` is the `ExplorerState` snapshot that matters across sessions (dataset, prompt,
ranking attribute, whole-dataset scope, map selection; not the histogram brush, which belongs
to the plot being looked at) plus the tab in front and the window's dock layout. It is stored as
one JSON document in the study (`view_state` table), so a copied study reopens where it was
left. Loading validates every field: a document written by another version, edited by hand or
naming a dataset, prompt or text that no longer exists restores what still fits and ignores
the rest (the window checks names and ids against what it loads).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from monoscope.core.explore.state import Snapshot, TextIds, text_ids
from monoscope.core.store import Study
from monoscope.core.store import view_state as repo
from monoscope.core.tasks import TaskState

NAME = "explorer"
MAX_SELECTION = 100_000  # a larger selection is not worth restoring (and bloats the file)


@dataclass(frozen=True)
class ViewState:
    dataset_id: int | None = None
    prompt: str | None = None
    attribute: str | None = None
    whole_dataset: bool = False
    selection: TextIds | None = None
    tab: int = 0
    layout: str | None = None  # base64 of QMainWindow.saveState()

    @classmethod
    def of(cls, snap: Snapshot, tab: int = 0, layout: str | None = None) -> ViewState:
        sel = snap.selection if snap.selection is None or len(snap.selection) <= MAX_SELECTION \
            else None
        return cls(snap.dataset_id, snap.prompt, snap.attribute, snap.whole_dataset, sel, tab,
                   layout)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["selection"] = None if self.selection is None else list(self.selection)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ViewState:
        """Every field that has the right type; the rest fall back to defaults."""
        def opt(key: str, kind: type) -> Any:
            v = d.get(key)
            if kind is bool:
                return v if isinstance(v, bool) else None
            return v if isinstance(v, kind) and not isinstance(v, bool) else None

        sel = d.get("selection")
        selection = None
        if isinstance(sel, list) and all(isinstance(i, int) and not isinstance(i, bool)
                                         for i in sel) and len(sel) <= MAX_SELECTION:
            selection = text_ids(sel)
        tab = opt("tab", int)
        return cls(dataset_id=opt("dataset_id", int), prompt=opt("prompt", str),
                   attribute=opt("attribute", str),
                   whole_dataset=bool(opt("whole_dataset", bool)), selection=selection,
                   tab=tab if tab is not None and tab >= 0 else 0, layout=opt("layout", str))


def save_view(request: tuple[Study, ViewState], state: TaskState) -> None:
    """Store the view in its study (a task: runs in a worker)."""
    study, view = request
    repo.save(study, NAME, view.to_dict())


def load_view(study: Study, state: TaskState) -> ViewState | None:
    """The view saved in the study, None when it has none (a task: runs in a worker)."""
    d = repo.load(study, NAME)
    return None if d is None else ViewState.from_dict(d)
