"""The run dialog's inference servers: a list of URLs, probed for health and capacity.

Empty: the run generates in process (llama.cpp). With servers: the run goes to them
(`monoscope.core.generation.fleet`); "Check" probes every server on the read lane (never the
GUI thread) and lists what each one is, how many requests it takes, whether it returns several
completions per request and how its sampling fields were verified.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from monoscope.core.errors import MonoscopeError
from monoscope.core.generation.fleet import ServerInfo, ServerSpec, parse_servers, probe_all
from monoscope.core.tasks import TaskState
from monoscope.ui.workers import TaskRunner

COLUMNS = ("server", "health", "kind", "in flight", "n per request", "fields")


def probe_servers(specs: list[ServerSpec], state: TaskState) -> list[ServerInfo]:
    """Task (read lane): probe every server; a dead one is a row, not an error."""
    state.begin("checking servers", len(specs))
    return probe_all(specs, timeout_s=5.0)


class ServersBox(QGroupBox):
    """Server URLs (one `URL [SLOTS]` per line) with a health and capacity table."""

    probed = Signal()

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__("Inference servers (optional: generate on llama-server / vLLM)", parent)
        self.runner = runner
        self.infos: list[ServerInfo] = []
        self.edit = QPlainTextEdit()
        self.edit.setPlaceholderText("http://gpu1:8080\nhttp://gpu2:8000 128   (URL [requests "
                                     "in flight]; empty = generate on this computer)")
        self.edit.setMaximumHeight(60)
        self.check = QPushButton("Check servers")
        self.check.clicked.connect(self.probe)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setMaximumHeight(110)
        self.table.verticalHeader().setVisible(False)
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.edit, 1)
        row.addWidget(self.check, 0, Qt.AlignmentFlag.AlignTop)
        lay.addLayout(row)
        lay.addWidget(self.table)
        lay.addWidget(self.status)
        self.table.setVisible(False)

    def specs(self) -> list[ServerSpec]:
        """The servers written in the box (raises a MonoscopeError naming a bad line)."""
        specs: list[ServerSpec] = []
        for line in self.edit.toPlainText().splitlines():
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if len(words) > 2 or (len(words) == 2 and not words[1].isdigit()):
                raise MonoscopeError(f"Servers: write `URL` or `URL SLOTS`, not {line.strip()!r}.")
            (spec,) = parse_servers([words[0]])
            specs.append(ServerSpec(spec.url, int(words[1]) if len(words) == 2 else None))
        return specs

    def probe(self) -> None:
        try:
            specs = self.specs()
        except MonoscopeError as exc:
            self.status.setText(str(exc))
            return
        if not specs:
            self.status.setText("No server: the run generates on this computer.")
            return
        self.status.setText(f"Checking {len(specs)} server(s)…")
        job = self.runner.submit("run-dialog:servers", probe_servers, specs, lane="read")
        job.finished.connect(self.show_infos)
        job.failed.connect(self.status.setText)

    def show_infos(self, infos: list[ServerInfo]) -> None:
        self.infos = list(infos)
        self.table.setRowCount(0)
        for info in infos:
            row = self.table.rowCount()
            self.table.insertRow(row)
            cells = self.cells(info)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 1 and not info.healthy:
                    item.setForeground(Qt.GlobalColor.red)
                    item.setToolTip(info.error or "")
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self.table.setVisible(True)
        up = [i for i in infos if i.healthy]
        self.status.setText(
            f"{len(up)} of {len(infos)} server(s) answer; {sum(i.slots for i in up)} requests "
            "in flight in all." if up else "No server answers: start them or fix the URLs.")
        self.probed.emit()

    @staticmethod
    def cells(info: ServerInfo) -> tuple[str, ...]:
        why = (info.error or "did not answer").rsplit(": ", 1)[-1][:60]  # full text: tooltip
        health = f"up ({info.probe_ms:.0f} ms)" if info.healthy else f"down: {why}"
        multi = "several (n)" if info.multi else "one"
        fields = {"openapi": "checked (schema)", "/props": "checked (/props)"}.get(
            info.fields_from, "unverified")
        return (info.url, health, info.kind, f"{info.slots} ({info.slots_from})" if info.healthy
                else "", multi if info.healthy else "", fields if info.healthy else "")

    def extra(self) -> dict[str, Any]:
        """What the run spec carries: ``{"servers": [{url, slots}, ...]}`` or nothing."""
        specs = self.specs()
        return {"servers": [s.to_json() for s in specs]} if specs else {}
