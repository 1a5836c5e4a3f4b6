"""Inspector: one text in full with attributes and provenance, its nearest human texts, and the
prompt's most generic / most atypical generations (one click opens any of them).

It follows the explorer's prompt (`set_prompt`): a text of another prompt is cleared when the
prompt changes, the lists are emptied until the new prompt's arrive, and a text read for the
previous prompt that arrives late is not shown.

Missing modes (`set_missing_modes`, from the map load's stored rows): for the prompt and a run
(the inspected text's run, else the one picked), the source topics holding ≥ the stored share
of the human texts that the run never wrote about, with the topic's words and share. Clicking
one lists that topic's human texts and emits `texts_lit(ids)` (the window lights them on the
map); clicking a text opens it (`text_requested`).

Its lists follow the explorer's one selection: while one is active the owner reads them among
the selected texts only and says so (`set_filter_note`), as the first, grey line of each
list."""

from __future__ import annotations

import html
import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.explore.labels import run_label
from monoscope.core.explore.missing import MissingMode, PromptMissingModes

PROVENANCE_KEYS = ("model", "run_label", "engine", "template", "seed", "n_tokens",
                   "n_prompt_tokens", "finish_reason", "perplexity", "mean_logprob", "wall_ms")


HINT = "Click a point on the map to inspect its text."
SURPRISAL_FULL = 10.0  # nats of surprisal at which a token's highlight is strongest


def surprisal_html(sur: Any) -> str:
    """The text with each token's background by its surprisal (−log p under the model that
    scored it: white = expected, red = the model would hardly have written it); the tooltip
    gives the numbers."""
    why = f" — {html.escape(sur.why, quote=False)}" if getattr(sur, "why", "") else ""
    parts = [f"<p style='color:#666'>Token surprisal under <b>{html.escape(sur.scorer)}</b>"
             f"{why} (mean log p {sur.mean_logprob:.2f} nats/token"
             + (", truncated" if sur.truncated else "") + "): redder = less likely.</p><p>"
             if sur.mean_logprob is not None else "<p>"]
    for i, piece in enumerate(sur.pieces):
        text = html.escape(piece).replace("\n", "<br>")
        if i >= len(sur.surprisal):
            parts.append(text)
            continue
        a = min(1.0, max(0.0, sur.surprisal[i] / SURPRISAL_FULL))
        g = int(255 - 175 * a)
        parts.append(f"<span style='background-color: rgb(255,{g},{g})' title='−log p "
                     f"{sur.surprisal[i]:.2f}, entropy {sur.entropy[i]:.2f}'>{text}</span>")
    return "".join(parts) + "</p>"


NO_MODES = "Missing modes are listed per prompt: choose a prompt with a run."


class Inspector(QWidget):
    text_requested = Signal(int)  # a text id clicked in one of the lists
    texts_lit = Signal(object)  # text ids of a clicked missing topic (None: none lit)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.detail: dict[str, Any] | None = None
        self.nearest: list[dict[str, Any]] = []
        self.prompt: str | None = None  # the prompt the texts must belong to (None: any)
        self.filter_note = ""  # e.g. "Among the 16 selected texts" (the lists are filtered)
        self.header = QLabel(HINT)
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.body = QTextBrowser()
        self.body.setOpenLinks(False)
        self.meta = QTextBrowser()
        copy = QPushButton("Copy text")
        copy.clicked.connect(self.copy_text)
        copy_json = QPushButton("Copy as JSON")
        copy_json.clicked.connect(self.copy_json)
        buttons = QHBoxLayout()
        buttons.addWidget(copy)
        buttons.addWidget(copy_json)
        buttons.addStretch(1)
        self.near_list = self._list()
        self.generic_list = self._list()
        self.atypical_list = self._list()
        tabs = QTabWidget()
        # short names, no scroll arrows: every tab stays in sight in a narrow dock (the
        # full names are the tooltips)
        tabs.setUsesScrollButtons(False)
        tabs.setElideMode(Qt.TextElideMode.ElideRight)
        for page, name, tip in ((self.meta, "Details", "Attributes && provenance"),
                                (self.near_list, "Nearest", "Nearest human texts"),
                                (self.generic_list, "Generic", "Most generic generated texts"),
                                (self.atypical_list, "Atypical", "Most atypical generated texts"),
                                (self._missing_page(), "Missing", "Missing modes")):
            tabs.setTabToolTip(tabs.addTab(page, name), tip.replace("&&", "&"))
        self.tabs = tabs
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.header)
        tl.addWidget(self.body, 1)
        tl.addLayout(buttons)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(tabs)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split)

    def _missing_page(self) -> QWidget:
        self.missing: PromptMissingModes | None = None
        self.missing_run = QComboBox()
        # long run labels must not widen the dock
        self.missing_run.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.missing_run.setMinimumContentsLength(12)
        self.missing_run.currentIndexChanged.connect(self._missing_run_changed)
        self.missing_note = QLabel(NO_MODES)
        self.missing_note.setWordWrap(True)
        self.missing_note.setTextFormat(Qt.TextFormat.PlainText)
        self._lit = False  # texts of a missing topic are lit on the map
        self.missing_list = QListWidget()
        self.missing_list.setWordWrap(True)
        self.missing_list.itemClicked.connect(self._topic_clicked)
        self.missing_list.itemActivated.connect(self._topic_clicked)
        self.missing_texts_title = QLabel("")
        self.missing_texts_title.setWordWrap(True)  # a topic's words must not widen the dock
        self.missing_texts = self._list()
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Run"))
        row.addWidget(self.missing_run, 1)
        lay.addLayout(row)
        lay.addWidget(self.missing_note)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.missing_list)
        texts = QWidget()
        tl = QVBoxLayout(texts)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.missing_texts_title)
        tl.addWidget(self.missing_texts, 1)
        split.addWidget(texts)
        lay.addWidget(split, 1)
        return page

    def _list(self) -> QListWidget:
        lst = QListWidget()
        lst.setWordWrap(True)
        lst.itemClicked.connect(self._item_clicked)
        lst.itemActivated.connect(self._item_clicked)
        return lst

    def _item_clicked(self, item: QListWidgetItem) -> None:
        tid = item.data(Qt.ItemDataRole.UserRole)
        if tid is not None:
            self.text_requested.emit(int(tid))

    # -- content -------------------------------------------------------------------------
    def set_prompt(self, key: str | None) -> None:
        """Follow the explorer's prompt (None: the whole dataset, any prompt's text)."""
        if key == self.prompt:
            return
        self.prompt = key
        if key is None:
            return
        if self.detail is not None and self.detail.get("prompt_key") != key:
            self.clear()
        self.generic_list.clear()
        self.atypical_list.clear()

    def clear(self) -> None:
        """Show no text (e.g. another dataset or prompt was chosen)."""
        self.detail, self.nearest = None, []
        self.header.setText(HINT)
        self.body.clear()
        self.meta.clear()
        self.near_list.clear()

    def show_text(self, detail: dict[str, Any] | None, nearest: list[dict[str, Any]]) -> None:
        if (detail is not None and self.prompt is not None
                and detail.get("prompt_key") != self.prompt):
            return  # read for a prompt that is no longer the current one
        self.detail, self.nearest = detail, nearest
        if detail is None:
            self.header.setText("That text is no longer in the study.")
            self.body.clear()
            self.meta.clear()
            self.near_list.clear()
            return
        who = ("human source text" if detail["origin"] == "source"
               else f"generated by <b>{html.escape(str(detail.get('model')))}</b> "
                    f"(run {html.escape(_run_name(detail))})")
        self.header.setText(
            f"<b>{html.escape(str(detail['prompt_title']))}</b> "
            f"<span style='color:#666'>[{html.escape(str(detail['prompt_key']))}]</span> · "
            f"text {detail['id']} · {who}")
        sur = detail.get("surprisal")
        if sur is not None:
            self.body.setHtml(surprisal_html(sur))
        else:
            self.body.setPlainText(str(detail["body"]))
        if detail.get("run_id") is not None:
            self.show_missing_for(f"run:{detail['run_id']}")
        self.meta.setHtml(self._meta_html(detail))
        self.near_list.clear()
        self._note(self.near_list)
        for n in nearest:
            self._add(self.near_list, n["text_id"], f"cos {n['similarity']:.3f} · {n['snippet']}")

    def _meta_html(self, d: dict[str, Any]) -> str:
        rows = []
        for name, a in d.get("attributes", {}).items():
            val = a["value"]
            sval = "" if val is None else f"{val:.4g}"
            lab = f" ({html.escape(str(a['label']))})" if a.get("label") else ""
            rows.append(f"<tr><td>{html.escape(name)}</td><td>{sval}{lab}</td></tr>")
        prov = []
        if d["origin"] == "generated":
            for k in PROVENANCE_KEYS:
                if d.get(k) is not None:
                    v = d[k]
                    prov.append(f"<tr><td>{k}</td><td>{v:.4g}</td></tr>" if isinstance(v, float)
                                else f"<tr><td>{k}</td><td>{html.escape(str(v))}</td></tr>")
            if d.get("sampling"):
                prov.append("<tr><td>sampling</td><td>"
                            + html.escape(json.dumps(d["sampling"])) + "</td></tr>")
        else:
            for k in ("label", "rating"):
                if d.get(k) is not None:
                    prov.append(f"<tr><td>{k}</td><td>{html.escape(str(d[k]))}</td></tr>")
        return ("<h4>Attributes</h4><table cellpadding=2>" + "".join(rows) + "</table>"
                "<h4>Provenance</h4><table cellpadding=2>" + "".join(prov) + "</table>")

    def set_filter_note(self, note: str) -> None:
        """Say that the lists hold the selected texts only ('' : no selection)."""
        self.filter_note = note

    def _note(self, lst: QListWidget) -> None:
        if self.filter_note:
            item = QListWidgetItem(self.filter_note)
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            item.setForeground(QColor(120, 120, 120))
            lst.addItem(item)

    def list_ids(self, lst: QListWidget) -> list[int]:
        """The text ids a list shows, in order (without its notes)."""
        out = []
        for i in range(lst.count()):
            tid = lst.item(i).data(Qt.ItemDataRole.UserRole)
            if tid is not None:
                out.append(int(tid))
        return out

    def set_lists(self, generic: list[dict[str, Any]], atypical: list[dict[str, Any]]) -> None:
        self.generic_list.clear()
        self.atypical_list.clear()
        for lst, rows in ((self.generic_list, generic), (self.atypical_list, atypical)):
            self._note(lst)
            for r in rows:
                self._add(lst, r["text_id"], f"dist {r['distance']:.3f} · {r['snippet']}")
            if not rows:
                item = QListWidgetItem(
                    "No generated texts with embeddings among the selected texts."
                    if self.filter_note else
                    "No generated texts with embeddings for this prompt.")
                lst.addItem(item)

    # -- missing modes ---------------------------------------------------------------------
    def set_missing_modes(self, missing: PromptMissingModes | None) -> None:
        """The prompt's missing modes per run (None: no prompt, or not measured); keeps the
        run picked when it is still compared on the prompt."""
        keep = self.missing_run.currentData()
        self.missing = missing
        self.missing_run.blockSignals(True)
        self.missing_run.clear()
        for key, label in (missing.runs if missing else []):
            self.missing_run.addItem(label, key)
        if keep is not None and self.missing_run.findData(keep) >= 0:
            self.missing_run.setCurrentIndex(self.missing_run.findData(keep))
        self.missing_run.blockSignals(False)
        self._missing_run_changed()

    def show_missing_for(self, run_key: str) -> None:
        """Show the missing modes of one run (e.g. the inspected text's)."""
        idx = self.missing_run.findData(run_key)
        if idx >= 0 and idx != self.missing_run.currentIndex():
            self.missing_run.setCurrentIndex(idx)

    def missing_modes_shown(self) -> list[MissingMode]:
        """The missing modes listed, in order."""
        return [m for i in range(self.missing_list.count())
                if isinstance(m := self.missing_list.item(i).data(Qt.ItemDataRole.UserRole),
                              MissingMode)]

    def _missing_run_changed(self, _index: int = -1) -> None:
        self.missing_list.clear()
        self.missing_texts.clear()
        self.missing_texts_title.setText("")
        if self._lit:  # unlight only what this list lit (not a search's hits)
            self._lit = False
            self.texts_lit.emit(None)
        m, key = self.missing, self.missing_run.currentData()
        if m is None or key is None:
            self.missing_note.setText(NO_MODES if m is None else
                                      "No run is compared with the people on this prompt.")
            return
        modes = m.modes.get(str(key), [])
        share = f"≥ {m.share:.0%}" if m.share is not None else "a large share"
        run = self.missing_run.currentText()
        if not modes:
            self.missing_note.setText(f"{run} writes about every topic holding "
                                      f"{share} of the human texts of {m.prompt}.")
            return
        self.missing_note.setText(
            f"{len(modes)} topic{'s' if len(modes) != 1 else ''} holding {share} of the human "
            f"texts of {m.prompt} that {run} never wrote about (stored measurements). Click "
            "one to light its human texts on the map.")
        for mode in modes:
            words = f" · {mode.label}" if mode.label else ""
            item = QListWidgetItem(f"topic {mode.topic}{words} — {mode.share:.0%} of "
                                   f"{mode.n_source} human texts")
            item.setData(Qt.ItemDataRole.UserRole, mode)
            item.setToolTip("Click to light this topic's human texts on the map")
            self.missing_list.addItem(item)

    def _topic_clicked(self, item: QListWidgetItem) -> None:
        mode = item.data(Qt.ItemDataRole.UserRole)
        if not isinstance(mode, MissingMode):
            return
        self.missing_texts.clear()
        self.missing_texts_title.setText(
            f"{len(mode.text_ids)} human texts of topic {mode.topic}"
            + (f" ({mode.label})" if mode.label else "") + ":")
        for tid, snip in zip(mode.text_ids, mode.snippets, strict=True):
            self._add(self.missing_texts, tid, snip)
        self._lit = True
        self.texts_lit.emit(mode.text_ids)

    def _add(self, lst: QListWidget, text_id: int, label: str) -> None:
        item = QListWidgetItem(label)
        item.setData(Qt.ItemDataRole.UserRole, int(text_id))
        item.setToolTip(f"text {text_id}: click to open")
        lst.addItem(item)

    def as_json(self) -> str:
        if self.detail is None:
            return "{}"
        d = dict(self.detail)
        d["nearest_source"] = self.nearest
        return json.dumps(d, indent=2, default=str, ensure_ascii=False)

    def copy_text(self) -> None:
        if self.detail is not None:
            QGuiApplication.clipboard().setText(str(self.detail["body"]))

    def copy_json(self) -> None:
        QGuiApplication.clipboard().setText(self.as_json())


def _run_name(detail: dict[str, Any]) -> str:
    """The run of a generated text as every view names it ('#<id> <label>')."""
    rid = detail.get("run_id")
    label = str(detail.get("run_label") or "")
    return label if rid is None else run_label(int(rid), label)
