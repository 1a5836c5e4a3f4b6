"""Keyboard navigation of the explorer window and its Help ▸ Keyboard shortcuts page.

`WindowShortcuts` adds a Go menu — next/previous prompt in the table's order, next/previous
point in the map's order (the prompt's most atypical texts first, then the rest), the figure
tabs by number, Esc to clear the selection — and Help ▸ Keyboard shortcuts. That page is made
from the window's actions when it opens (`shortcut_rows`), so it lists every shortcut the
menus carry, never a hand-kept list.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMainWindow,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.explore.state import ExplorerState
from monoscope.ui.views.histograms import HistogramPanel
from monoscope.ui.views.map_view import MapView
from monoscope.ui.views.prompts import PromptsPanel

N_TAB_KEYS = 6  # Ctrl+1 .. Ctrl+6


def _keys(act: QAction) -> str:
    return " or ".join(k.toString(QKeySequence.SequenceFormat.NativeText)
                       for k in act.shortcuts() if not k.isEmpty())


def shortcut_rows(win: QMainWindow) -> list[tuple[str, str, str]]:
    """(menu, command, keys) of every action of the window's menus (and of the window itself)
    that has a shortcut, in menu order."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def visit(menu: QMenu, path: str) -> None:
        for act in menu.actions():
            sub = act.menu()
            if isinstance(sub, QMenu):
                visit(sub, f"{path} ▸ {sub.title().replace('&', '')}")
            elif not act.isSeparator() and id(act) not in seen:
                seen.add(id(act))
                if _keys(act):
                    rows.append((path, act.text().replace("&", "").rstrip("…"), _keys(act)))

    for top in win.menuBar().actions():
        sub = top.menu()
        if isinstance(sub, QMenu):
            visit(sub, sub.title().replace("&", ""))
    for act in win.actions():
        if id(act) not in seen and _keys(act):
            rows.append(("Window", act.text().replace("&", ""), _keys(act)))
    return rows


class ShortcutsDialog(QDialog):
    """A table of the window's shortcuts, read from its actions."""

    def __init__(self, rows: Sequence[tuple[str, str, str]], parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Keys", "Command", "Menu"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, (menu, text, keys) in enumerate(rows):
            for c, value in enumerate((keys, text, menu)):
                self.table.setItem(r, c, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table)
        lay.addWidget(buttons)
        self.resize(560, 520)

    def rows(self) -> list[tuple[str, str, str]]:
        """(keys, command, menu) per row as shown."""
        def text(r: int, c: int) -> str:
            item = self.table.item(r, c)
            return "" if item is None else item.text()

        return [(text(r, 0), text(r, 1), text(r, 2)) for r in range(self.table.rowCount())]


class WindowShortcuts:
    """The Go menu's navigation commands and Help ▸ Keyboard shortcuts for one window."""

    def __init__(self, win: QMainWindow, prompts: PromptsPanel, map_view: MapView,
                 tabs: QTabWidget, hists: HistogramPanel,
                 outliers: Callable[[], list[int]], state: ExplorerState | None = None) -> None:
        self.win = win
        self.prompts = prompts
        self.map = map_view
        self.tabs = tabs
        self.hists = hists
        self.outliers = outliers
        self.state = state
        self.actions: dict[str, QAction] = {}
        self.dialog: ShortcutsDialog | None = None
        bar = win.menuBar()
        help_menu = next((a.menu() for a in bar.actions()
                          if isinstance(a.menu(), QMenu) and a.text().replace("&", "") == "Help"),
                         None)
        go = QMenu("&Go", win)
        if isinstance(help_menu, QMenu):
            bar.insertMenu(help_menu.menuAction(), go)
        else:
            bar.addMenu(go)
            help_menu = bar.addMenu("&Help")
        assert isinstance(help_menu, QMenu)
        self._act(go, "next_prompt", "&Next prompt", ("Alt+Down", "J"),
                  lambda: self.prompts.step(1))
        self._act(go, "previous_prompt", "&Previous prompt", ("Alt+Up", "K"),
                  lambda: self.prompts.step(-1))
        go.addSeparator()
        self._act(go, "next_point", "Next &point on the map (outliers first)",
                  ("Alt+Right", "N"), lambda: self.step_point(1))
        self._act(go, "previous_point", "Previous p&oint on the map", ("Alt+Left", "P"),
                  lambda: self.step_point(-1))
        self._act(go, "clear_selection", "&Clear the selection", ("Esc",), self.clear_selection)
        self._act(go, "undo_selection", "&Undo the selection", ("Ctrl+Z",), self.undo)
        self._act(go, "redo_selection", "&Redo the selection", ("Ctrl+Shift+Z", "Ctrl+Y"),
                  self.redo)
        go.addSeparator()
        for i in range(N_TAB_KEYS):
            self._act(go, f"tab_{i + 1}", f"Tab {i + 1}", (f"Ctrl+{i + 1}",),
                      functools.partial(self.show_tab, i))
        go.aboutToShow.connect(self._name_tabs)
        self._name_tabs()
        self._act(help_menu, "shortcuts", "&Keyboard shortcuts", ("F1",), self.show_page)

    def _act(self, menu: QMenu, name: str, text: str, keys: Sequence[str],
             slot: Callable[[], object]) -> QAction:
        act = QAction(text, self.win)
        act.setShortcuts([QKeySequence(k) for k in keys])
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.triggered.connect(lambda _=False: slot())
        menu.addAction(act)
        self.actions[name] = act
        return act

    def _name_tabs(self) -> None:
        """Tab actions carry the current tab names (views may add tabs after start-up)."""
        for i in range(N_TAB_KEYS):
            act = self.actions[f"tab_{i + 1}"]
            has = i < self.tabs.count()
            act.setText(f"Show the {self.tabs.tabText(i).replace('&', '')} tab" if has
                        else f"Tab {i + 1}")
            act.setEnabled(has)

    # -- commands --------------------------------------------------------------------------
    def show_tab(self, i: int) -> None:
        if 0 <= i < self.tabs.count():
            self.tabs.setCurrentIndex(i)

    def step_point(self, delta: int) -> int | None:
        """Select the next (previous) point of the map; returns its text id."""
        self.map.order_first = self.outliers()
        return self.map.step_point(delta)

    def clear_selection(self) -> None:
        """Esc: no selection (undoable) and no marked text."""
        if self.state is not None:
            self.state.clear_selection()
        else:
            self.map.clear_selection()
        self.map.select_index(None)

    def undo(self) -> bool:
        """Ctrl+Z: the selection before the last gesture."""
        return self.state.undo() if self.state is not None else False

    def redo(self) -> bool:
        """Ctrl+Shift+Z: the selection the last undo left."""
        return self.state.redo() if self.state is not None else False

    def show_page(self) -> ShortcutsDialog:
        """Help ▸ Keyboard shortcuts: the table of every shortcut, read from the actions."""
        self._name_tabs()
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = ShortcutsDialog(shortcut_rows(self.win), self.win)
        self.dialog.show()
        return self.dialog


def atypical_ids(inspector: QWidget) -> list[int]:
    """Text ids of the inspector's "Most atypical" list, in its order (empty if none)."""
    lst = getattr(inspector, "atypical_list", None)
    if lst is None:
        return []
    out = []
    for i in range(lst.count()):
        tid = lst.item(i).data(Qt.ItemDataRole.UserRole)
        if tid is not None:
            out.append(int(tid))
    return out
