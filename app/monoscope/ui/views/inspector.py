"""Inspector: one text in full with attributes and provenance, its nearest human texts, and the
prompt's most generic / most atypical generations (one click opens any of them).

It follows the explorer's prompt (`set_prompt`): a text of another prompt is cleared when the
prompt changes, the lists are emptied until the new prompt's arrive, and a text read for the
previous prompt that arrives late is not shown."""

from __future__ import annotations

import html
import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
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

PROVENANCE_KEYS = ("model", "run_label", "engine", "template", "seed", "n_tokens",
                   "n_prompt_tokens", "finish_reason", "perplexity", "mean_logprob", "wall_ms")


HINT = "Click a point on the map to inspect its text."
SURPRISAL_FULL = 10.0  # nats of surprisal at which a token's highlight is strongest


def surprisal_html(sur: Any) -> str:
    """The text with each token's background by its surprisal (−log p under the model that
    scored it: white = expected, red = the model would hardly have written it); the tooltip
    gives the numbers."""
    parts = [f"<p style='color:#666'>Token surprisal under {html.escape(sur.scorer)} "
             f"(mean log p {sur.mean_logprob:.2f} nats/token"
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


class Inspector(QWidget):
    text_requested = Signal(int)  # a text id clicked in one of the lists

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.detail: dict[str, Any] | None = None
        self.nearest: list[dict[str, Any]] = []
        self.prompt: str | None = None  # the prompt the texts must belong to (None: any)
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
        tabs.addTab(self.meta, "Attributes && provenance")
        tabs.addTab(self.near_list, "Nearest human texts")
        tabs.addTab(self.generic_list, "Most generic")
        tabs.addTab(self.atypical_list, "Most atypical")
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
                    f"(run {html.escape(str(detail.get('run_label')))})")
        self.header.setText(
            f"<b>{html.escape(str(detail['prompt_title']))}</b> "
            f"<span style='color:#666'>[{html.escape(str(detail['prompt_key']))}]</span> · "
            f"text {detail['id']} · {who}")
        sur = detail.get("surprisal")
        if sur is not None:
            self.body.setHtml(surprisal_html(sur))
        else:
            self.body.setPlainText(str(detail["body"]))
        self.meta.setHtml(self._meta_html(detail))
        self.near_list.clear()
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

    def set_lists(self, generic: list[dict[str, Any]], atypical: list[dict[str, Any]]) -> None:
        self.generic_list.clear()
        self.atypical_list.clear()
        for lst, rows in ((self.generic_list, generic), (self.atypical_list, atypical)):
            for r in rows:
                self._add(lst, r["text_id"], f"dist {r['distance']:.3f} · {r['snippet']}")
            if not rows:
                item = QListWidgetItem("No generated texts with embeddings for this prompt.")
                lst.addItem(item)

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
