"""What the explorer shows, without Qt: dataset, prompt, ranking attribute, scope, selection and
brush.

The window owns one `ExplorerState` and writes it as the user acts; views and the window's
actions read it, or `subscribe` to hear what changed. Setting fields to the values they already
hold notifies nobody; `update` sets several fields at once and notifies once with every field
that changed.

    state = ExplorerState()
    state.subscribe(lambda change: print(sorted(change.fields)))
    state.update(dataset_id=1, prompt="film-001")   # prints ['dataset_id', 'prompt']
    state.prompt = "film-001"                       # unchanged: prints nothing
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

TextIds = tuple[int, ...]


def text_ids(values: Iterable[int] | None) -> TextIds | None:
    """A selection or brush as the state holds it: sorted unique text ids (None stays None)."""
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
    selection: TextIds | None = None  # texts selected on the map (None: no selection)
    brush: TextIds | None = None  # texts inside every brushed histogram range (None: no brush)


FIELDS = frozenset(f.name for f in fields(Snapshot))


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
        for name in ("selection", "brush"):
            if name in values:
                values[name] = text_ids(values[name])
        new = replace(self._now, **values)
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
    def brush(self) -> TextIds | None:
        return self._now.brush

    @brush.setter
    def brush(self, value: Iterable[int] | None) -> None:
        self.update(brush=value)

    def scope(self) -> str | None:
        """The prompt the map shows: None for the whole dataset (or before a prompt is chosen)."""
        return None if self._now.whole_dataset else self._now.prompt
