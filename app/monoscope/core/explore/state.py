"""What the explorer shows, without Qt: dataset, prompt, ranking attribute, scope and the one
selection.

The window owns one `ExplorerState` and writes it as the user acts; views and the window's
actions read it, or `subscribe` to hear what changed. Setting fields to the values they already
hold notifies nobody; `update` sets several fields at once and notifies once with every field
that changed.

One selection filters everything (the map, the histograms, the text table, the inspector's
lists): a rectangle or lasso on the map, a histogram range, a bar click or a search's hits are
each a *selection gesture* that gives a set of text ids, combined with the current selection by
`select(ids, label, mode)`:

- ``replace`` (a plain gesture): the new set is the selection;
- ``add`` (Shift held): the union with the current selection;
- ``intersect`` (Ctrl held): the texts in both (e.g. long texts *and* positive ones).

A gesture that continues (a histogram range being dragged: the same ``gesture`` token) is
combined with the selection as it was before the gesture began and makes one undo step.
`undo` / `redo` walk the selections made by gestures and `clear_selection` (itself undoable);
changing the dataset, the prompt or the whole-dataset scope empties the selection and its
history (the texts differ from one map to the next).

    state = ExplorerState()
    state.subscribe(lambda change: print(sorted(change.fields)))
    state.update(dataset_id=1, prompt="film-001")   # prints ['dataset_id', 'prompt']
    state.prompt = "film-001"                       # unchanged: prints nothing
    state.select([3, 5], "lasso")                   # prints ['selection', 'selection_label']
    state.undo()                                    # the same fields, back to no selection
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

TextIds = tuple[int, ...]


def text_ids(values: Iterable[int] | None) -> TextIds | None:
    """A selection as the state holds it: sorted unique text ids (None stays None)."""
    if values is None:
        return None
    if isinstance(values, np.ndarray):
        return tuple(int(v) for v in np.unique(values).tolist())
    return tuple(sorted({int(v) for v in values}))


@dataclass(frozen=True)
class Snapshot:
    """The values of an `ExplorerState` at one moment."""

    dataset_id: int | None = None  # the dataset shown
    prompt: str | None = None  # key of the prompt chosen in the table
    attribute: str | None = None  # attribute whose dispersion ranks the prompts
    whole_dataset: bool = False  # the map shows every prompt's texts
    selection: TextIds | None = None  # the selected texts (None: no selection)
    selection_label: str = ""  # how it was made, e.g. "lasso", "Words 20–35", "search “dull”"


FIELDS = frozenset(f.name for f in fields(Snapshot))
SCOPE_FIELDS = frozenset({"dataset_id", "prompt", "whole_dataset"})
MODES = ("replace", "add", "intersect")
HISTORY_LIMIT = 100  # undo steps kept


def combine(current: TextIds | None, ids: TextIds, mode: str) -> TextIds:
    """The selection after a gesture that gave ``ids`` (see the module docstring)."""
    if mode not in MODES:
        raise ValueError(f"unknown selection mode {mode!r}: use one of {', '.join(MODES)}")
    if current is None or mode == "replace":
        return ids
    if mode == "add":
        return tuple(sorted(set(current) | set(ids)))
    return tuple(sorted(set(current) & set(ids)))


def combined_label(current: str, label: str, mode: str, had: bool) -> str:
    """The label of a combined selection: "a + b" (add), "a ∩ b" (intersect)."""
    if mode == "replace" or not had or not current:
        return label
    return f"{current} {'+' if mode == 'add' else '∩'} {label}"


@dataclass(frozen=True)
class Change:
    """What one update changed, and the state after it."""

    fields: frozenset[str]
    now: Snapshot

    def __contains__(self, name: object) -> bool:
        return name in self.fields


Observer = Callable[[Change], None]


class ExplorerState:
    """The explorer's shared state; see the module docstring."""

    def __init__(self) -> None:
        self._now = Snapshot()
        self._observers: list[Observer] = []
        self._queue: list[Change] = []  # changes made while observers are being told
        self._undo: list[tuple[TextIds | None, str]] = []  # earlier selections (and labels)
        self._redo: list[tuple[TextIds | None, str]] = []
        self._gesture: str | None = None  # the gesture that made the current selection
        self._gesture_base: tuple[TextIds | None, str] = (None, "")  # selection before it
        self._gesture_pushed = False  # its undo step is recorded

    # -- observers ---------------------------------------------------------------------------
    def subscribe(self, callback: Observer) -> Callable[[], None]:
        """Call ``callback(change)`` after every update that changes something; returns a
        function that unsubscribes."""
        self._observers.append(callback)

        def unsubscribe() -> None:
            if callback in self._observers:
                self._observers.remove(callback)

        return unsubscribe

    def update(self, **values: Any) -> frozenset[str]:
        """Set several fields at once; observers hear once, with the fields that changed."""
        unknown = set(values) - FIELDS
        if unknown:
            raise TypeError(f"ExplorerState has no field {', '.join(sorted(unknown))}")
        if "selection" in values:
            values["selection"] = text_ids(values["selection"])
            if values["selection"] is None:
                values.setdefault("selection_label", "")
        new = replace(self._now, **values)
        if any(getattr(new, n) != getattr(self._now, n) for n in SCOPE_FIELDS & set(values)):
            # another map: its texts differ, so no selection and no history of one
            self._forget()
            if "selection" not in values:
                values.update(selection=None, selection_label="")
                new = replace(new, selection=None, selection_label="")
        changed = frozenset(n for n in values if getattr(new, n) != getattr(self._now, n))
        self._now = new
        if changed:
            self._notify(Change(changed, new))
        return changed

    def _notify(self, change: Change) -> None:
        """Tell every observer, in order; an update made by an observer is told to everyone
        after the current change (so each observer hears the changes in the order made)."""
        self._queue.append(change)
        if len(self._queue) > 1:
            return  # an outer call is delivering
        while self._queue:
            try:
                for callback in list(self._observers):
                    callback(self._queue[0])
            except BaseException:
                self._queue.clear()
                raise
            self._queue.pop(0)

    def snapshot(self) -> Snapshot:
        return self._now

    # -- the one selection -------------------------------------------------------------------
    def select(self, ids: Iterable[int] | None, label: str = "", mode: str = "replace",
               gesture: str | None = None) -> frozenset[str]:
        """A selection gesture gave ``ids`` (None: a gesture that selects nothing, e.g. a
        cleared range): combine them with the selection by ``mode`` (see the module docstring)
        and remember the previous selection for `undo`. ``gesture``: a token shared by the
        updates of one continuing gesture (a range being dragged): they combine with the
        selection from before the gesture and make one undo step."""
        if mode not in MODES:
            raise ValueError(f"unknown selection mode {mode!r}: use one of {', '.join(MODES)}")
        continuing = gesture is not None and gesture == self._gesture
        if not continuing:
            self._gesture_base = (self._now.selection, self._now.selection_label)
            self._gesture_pushed = False
        self._gesture = gesture
        base, base_label = self._gesture_base
        new_ids = text_ids(ids)
        if new_ids is None:
            sel, lab = (base, base_label) if mode != "replace" else (None, "")
        else:
            sel = combine(base, new_ids, mode)
            lab = combined_label(base_label, label, mode, base is not None)
        lab = lab if sel is not None else ""
        if (sel, lab) == (self._now.selection, self._now.selection_label):
            return frozenset()
        if not self._gesture_pushed:  # one undo step per gesture, once it changes something
            self._push_entry(self._gesture_base)
            self._gesture_pushed = True
        return self.update(selection=sel, selection_label=lab)

    def clear_selection(self) -> frozenset[str]:
        """No selection (Esc, the Clear button); undoable."""
        if self._now.selection is None:
            return frozenset()
        self._gesture = None
        self._push_entry((self._now.selection, self._now.selection_label))
        return self.update(selection=None, selection_label="")

    def _push_entry(self, entry: tuple[TextIds | None, str]) -> None:
        self._undo.append(entry)
        del self._undo[:-HISTORY_LIMIT]
        self._redo.clear()

    def _forget(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self._gesture = None

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        """Back to the selection before the last gesture (or clear); False when none."""
        if not self._undo:
            return False
        self._redo.append((self._now.selection, self._now.selection_label))
        sel, label = self._undo.pop()
        self._gesture = None
        self.update(selection=sel, selection_label=label)
        return True

    def redo(self) -> bool:
        """Forward again to the selection an `undo` left; False when none."""
        if not self._redo:
            return False
        self._undo.append((self._now.selection, self._now.selection_label))
        sel, label = self._redo.pop()
        self._gesture = None
        self.update(selection=sel, selection_label=label)
        return True

    # -- fields ------------------------------------------------------------------------------
    @property
    def dataset_id(self) -> int | None:
        return self._now.dataset_id

    @dataset_id.setter
    def dataset_id(self, value: int | None) -> None:
        self.update(dataset_id=value)

    @property
    def prompt(self) -> str | None:
        return self._now.prompt

    @prompt.setter
    def prompt(self, value: str | None) -> None:
        self.update(prompt=value)

    @property
    def attribute(self) -> str | None:
        return self._now.attribute

    @attribute.setter
    def attribute(self, value: str | None) -> None:
        self.update(attribute=value)

    @property
    def whole_dataset(self) -> bool:
        return self._now.whole_dataset

    @whole_dataset.setter
    def whole_dataset(self, value: bool) -> None:
        self.update(whole_dataset=bool(value))

    @property
    def selection(self) -> TextIds | None:
        return self._now.selection

    @selection.setter
    def selection(self, value: Iterable[int] | None) -> None:
        self.update(selection=value)

    @property
    def selection_label(self) -> str:
        return self._now.selection_label

    def scope(self) -> str | None:
        """The prompt the map shows: None for the whole dataset (or before a prompt is chosen)."""
        return None if self._now.whole_dataset else self._now.prompt
