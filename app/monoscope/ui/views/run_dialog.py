"""Run dialog: model, prompt template, sampling grid, n per prompt, prompt subset and seed.

Returns a `RunSpec` (one spec may expand to a grid of runs, one per temperature × top-p ×
min-p and system prompt) that the runs panel (`RunsPanel.start`) hands to the generation stage.
The *Mitigation* box holds the presets of issue 14 (`run_spec.MITIGATIONS`): a min-p sweep,
verbalized sampling (k answers with probabilities per call, stored as k samples), the paper's
personas and a system-prompt variation; each is recorded as run parameters, which the Sweep
view plots along.

Embedding::

    dlg = RunDialog(study, dataset_id, selected_keys=[key], parent=window, runner=window.runner)
    if dlg.exec() and dlg.spec is not None:
        runs_panel.start(dlg.spec)

The dialog reads the study's datasets, prompts and registered models once, in a worker
(`load_run_choices` through the `TaskRunner`); until they arrive OK stays disabled.
`build_spec()` validates every field and raises `RunInputError` with a message saying what to
fix; the dialog shows that message and keeps OK disabled until the input is valid.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from monoscope.core import assets
from monoscope.core.errors import MonoscopeError
from monoscope.core.generation.sampling import Decay, SamplingError, SamplingParams
from monoscope.core.store import Study, catalog
from monoscope.core.store import datasets as datasets_repo
from monoscope.core.store.datasets import Dataset
from monoscope.core.tasks import TaskState
from monoscope.ui.views.run_spec import (
    CHOOSE_FILE,
    CUSTOM,
    MEASURED_TOKENS_PER_S,
    MITIGATIONS,
    RunInputError,
    RunSpec,
    describe_facts,
    estimate_seconds,
    model_facts,
    parse_floats,
    parse_names,
    preset_descriptions,
    tokens_per_second,
)
from monoscope.ui.views.servers_box import ServersBox
from monoscope.ui.workers import TaskRunner

__all__ = [
    "MEASURED_TOKENS_PER_S", "RunChoices", "RunDialog", "RunInputError", "RunSpec",
    "estimate_seconds", "load_run_choices", "parse_floats",
]


@dataclass(frozen=True)
class DatasetPrompts:
    """A dataset's prompt keys in import order and its first prompt's (title, context)."""

    keys: tuple[str, ...]
    first: tuple[str, str | None] | None


@dataclass(frozen=True)
class RunChoices:
    """What the dialog offers: the datasets, their prompts, and the study's model files
    (those still on disk, bundled ones left out: they are listed anyway)."""

    datasets: list[Dataset]
    prompts: dict[int, DatasetPrompts]
    model_paths: list[str]


def is_bundled_path(path: str) -> bool:
    """True for the file of a bundled model (listed by name in the picker)."""
    return any(Path(path).name == a.filename for a in assets.ASSETS.values())


def load_run_choices(study: Study, state: TaskState) -> RunChoices:
    """Task: the datasets, their prompts and the usable registered model files."""
    datasets = datasets_repo.datasets(study)
    prompts: dict[int, DatasetPrompts] = {}
    for d in datasets:
        state.check()
        rows = datasets_repo.prompts(study, d.id)
        first = (rows[0].title, rows[0].context) if rows else None
        prompts[d.id] = DatasetPrompts(tuple(p.key for p in rows), first)
    models = [p for p in catalog.model_paths(study) if Path(p).is_file() and not is_bundled_path(p)]
    return RunChoices(datasets, prompts, models)


class RunDialog(QDialog):
    """Collects a `RunSpec`; `spec` is set when the dialog is accepted."""

    spec_changed = Signal()

    def __init__(self, study: Study, dataset_id: int | None = None,
                 selected_keys: list[str] | tuple[str, ...] = (), parent: QWidget | None = None,
                 runner: TaskRunner | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New generation run")
        self.study = study
        self.runner = runner or TaskRunner(self)
        self.selected_keys = tuple(selected_keys)
        self.spec: RunSpec | None = None
        self.choices: RunChoices | None = None  # read in a worker; None until then
        self._wanted_dataset = dataset_id
        self._facts: dict[str, Any] = {}

        self.dataset_box = QComboBox()

        # -- model
        self.model_box = QComboBox()
        self.model_box.addItem("SmolLM2-135M Instruct (bundled; instruct)", "smollm2")
        self.model_box.addItem("Gemma 3 270M (bundled; base, different family)", "gemma3-base")
        self.model_box.addItem("Choose .gguf file…", CHOOSE_FILE)
        self.model_info = QLabel()
        self.model_info.setWordWrap(True)
        self.model_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.servers = ServersBox(self.runner)  # empty: generate in process

        # -- template
        self.template_box = QComboBox()
        from monoscope.core.generation.templates import preset_names

        about = preset_descriptions()
        for name in preset_names():
            self.template_box.addItem(f"{name} — {about.get(name, '')}", name)
        self.template_box.addItem("Custom template…", CUSTOM)
        self.template_edit = QPlainTextEdit()
        self.template_edit.setPlaceholderText(
            "Write a template with {title}, {context} and {person}, e.g. "
            "Write a short review of {title}: ")
        self.template_edit.setMaximumHeight(70)
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setMaximumHeight(90)

        # -- sampling
        self.temps = QLineEdit("0.8")
        self.top_ps = QLineEdit("1.0")
        self.top_k = QSpinBox(minimum=0, maximum=100_000, value=50)
        self.min_ps = QLineEdit("0")
        self.repeat = QDoubleSpinBox(minimum=0.01, maximum=5.0, singleStep=0.05, decimals=2, value=1.0)
        self.max_tokens = QSpinBox(minimum=1, maximum=32_768, value=256)
        self.decay_on = QCheckBox("temperature decay")
        self.decay_kind = QComboBox()
        self.decay_kind.addItems(["exponential", "linear"])
        self.decay_start = QDoubleSpinBox(minimum=0.0, maximum=100.0, decimals=2, value=10.0)
        self.decay_end = QDoubleSpinBox(minimum=0.0, maximum=10.0, decimals=2, value=1.0)
        self.decay_len = QSpinBox(minimum=1, maximum=10_000, value=20)

        # -- mitigations
        self.mitigation = QComboBox()
        for key, m in MITIGATIONS.items():
            self.mitigation.addItem(str(m["label"]), key)
        self.vs_k = QSpinBox(minimum=0, maximum=20, value=0)
        self.vs_k.setSpecialValueText("off")
        self.vs_k.setToolTip("verbalized sampling: answers asked per call (each stored as its "
                             "own sample with its stated probability); off = one answer")
        self.system_prompts = QLineEdit()
        self.system_prompts.setPlaceholderText("the template's own; or names, e.g. none, "
                                               "assistant, creative (one run each)")

        # -- prompts and run
        self.n_per_prompt = QSpinBox(minimum=1, maximum=10_000, value=10)
        self.subset_all = QRadioButton("all prompts")
        self.subset_first = QRadioButton("first")
        self.first_k = QSpinBox(minimum=1, maximum=1_000_000, value=20)
        self.subset_sel = QRadioButton(f"the {len(self.selected_keys)} selected in the table")
        self.subset_sel.setEnabled(bool(self.selected_keys))
        (self.subset_sel if self.selected_keys else self.subset_all).setChecked(True)
        self.seed = QSpinBox(minimum=0, maximum=2_000_000_000, value=0)
        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText("label (optional; default: model name)")

        self.estimate = QLabel()
        self.error = QLabel()
        self.error.setStyleSheet("color: #b00020;")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Start")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        # The paper's whole protocol is one click away: closes this dialog, the window opens
        # the replication dialog (see window_actions.new_run).
        self.wants_replication = False
        replicate = self.replicate_button = self.buttons.addButton(
            "Replicate the paper…", QDialogButtonBox.ButtonRole.ActionRole)
        replicate.setToolTip("Run the paper's protocol (prompts, sampling grid, decay, "
                             "perplexity filter) instead of a single run")
        replicate.clicked.connect(self._replicate)
        self._layout()

        for w in (self.temps, self.top_ps, self.min_ps, self.system_prompts, self.label_edit):
            w.textChanged.connect(self._changed)
        for s in (self.top_k, self.max_tokens, self.decay_len, self.n_per_prompt, self.first_k,
                  self.seed, self.vs_k):
            s.valueChanged.connect(self._changed)
        self.mitigation.currentIndexChanged.connect(self._mitigation_chosen)
        for d in (self.repeat, self.decay_start, self.decay_end):
            d.valueChanged.connect(self._changed)
        for b in (self.decay_on, self.subset_all, self.subset_first, self.subset_sel):
            b.toggled.connect(self._changed)
        self.decay_kind.currentIndexChanged.connect(self._changed)
        self.dataset_box.currentIndexChanged.connect(self._dataset_changed)
        self.template_box.currentIndexChanged.connect(self._template_changed)
        self.template_edit.textChanged.connect(self._changed)
        self.model_box.currentIndexChanged.connect(self._model_changed)
        self._dataset_changed()
        self._model_changed()
        job = self.runner.submit("run-dialog", load_run_choices, study)
        job.finished.connect(self.set_choices)
        job.failed.connect(self.error.setText)

    def set_choices(self, choices: RunChoices) -> None:
        """Fill the pickers with what the study holds (the datasets and its model files)."""
        self.choices = choices
        self.dataset_box.blockSignals(True)
        self.dataset_box.clear()
        for d in choices.datasets:
            self.dataset_box.addItem(f"{d.name} ({d.kind})", d.id)
        if self._wanted_dataset is not None:
            self.dataset_box.setCurrentIndex(max(0, self.dataset_box.findData(self._wanted_dataset)))
        self.dataset_box.blockSignals(False)
        self.model_box.blockSignals(True)
        at = 2  # after the bundled models, before any file added by hand
        for path in choices.model_paths:
            if self.model_box.findData(path) < 0:
                self.model_box.insertItem(at, Path(path).name, path)
                at += 1
        self.model_box.blockSignals(False)
        self._dataset_changed()

    def _layout(self) -> None:
        mbox = QGroupBox("Model")
        ml = QVBoxLayout(mbox)
        ml.addWidget(self.model_box)
        ml.addWidget(self.model_info)
        tbox = QGroupBox("Prompt")
        tl = QFormLayout(tbox)
        tl.addRow("Dataset", self.dataset_box)
        tl.addRow("Template", self.template_box)
        tl.addRow("Text", self.template_edit)
        tl.addRow("Preview (first prompt)", self.preview)
        sbox = QGroupBox("Sampling (one run per temperature × top-p × min-p)")
        sl = QGridLayout(sbox)
        sl.addWidget(QLabel("temperatures"), 0, 0)
        sl.addWidget(self.temps, 0, 1)
        sl.addWidget(QLabel("top-p values"), 0, 2)
        sl.addWidget(self.top_ps, 0, 3)
        for col, (name, w) in enumerate((("top-k", self.top_k), ("min-p values", self.min_ps),
                                         ("repeat penalty", self.repeat), ("max tokens", self.max_tokens))):
            sl.addWidget(QLabel(name), 1 + col // 2, (col % 2) * 2)
            sl.addWidget(w, 1 + col // 2, (col % 2) * 2 + 1)
        dl = QHBoxLayout()
        dl.addWidget(self.decay_on)
        dl.addWidget(self.decay_kind)
        for name, w in (("start T", self.decay_start), ("end T", self.decay_end), ("over L tokens", self.decay_len)):
            dl.addWidget(QLabel(name))
            dl.addWidget(w)
        sl.addLayout(dl, 3, 0, 1, 4)
        xbox = QGroupBox("Mitigation (recorded as run parameters; the Sweep view plots along them)")
        xl = QFormLayout(xbox)
        xl.addRow("Preset", self.mitigation)
        xl.addRow("Verbalized sampling: answers per call", self.vs_k)
        xl.addRow("System prompts", self.system_prompts)
        rbox = QGroupBox("Samples")
        rl = QGridLayout(rbox)
        rl.addWidget(QLabel("n per prompt"), 0, 0)
        rl.addWidget(self.n_per_prompt, 0, 1)
        rl.addWidget(QLabel("seed"), 0, 2)
        rl.addWidget(self.seed, 0, 3)
        sub = QHBoxLayout()
        sub.addWidget(self.subset_all)
        sub.addWidget(self.subset_first)
        sub.addWidget(self.first_k)
        sub.addWidget(self.subset_sel)
        sub.addStretch(1)
        rl.addLayout(sub, 1, 0, 1, 4)
        rl.addWidget(self.label_edit, 2, 0, 1, 4)
        # the form scrolls, the estimate and the buttons stay: the dialog fits a 1280×800
        # screen (the form alone is ~850 px tall)
        form = QWidget()
        fl = QVBoxLayout(form)
        fl.setContentsMargins(0, 0, 0, 0)
        for part in (mbox, self.servers, tbox, sbox, xbox, rbox):
            fl.addWidget(part)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(form)
        scroll.setMinimumWidth(form.sizeHint().width() + 20)
        scroll.setMinimumHeight(320)
        lay = QVBoxLayout(self)
        lay.addWidget(scroll, 1)
        for tail in (self.estimate, self.error, self.buttons):
            lay.addWidget(tail)
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        tall = form.sizeHint().height() + 120
        self.resize(self.sizeHint().width(), tall if screen is None else
                    min(tall, screen.height() - 60))

    # -- reactions --------------------------------------------------------------------------
    def set_mitigation(self, key: str) -> None:
        """Choose a mitigation preset (`run_spec.MITIGATIONS`) and fill its fields."""
        self.mitigation.setCurrentIndex(max(0, self.mitigation.findData(key)))

    def _mitigation_chosen(self) -> None:
        fields = MITIGATIONS[str(self.mitigation.currentData())]["fields"]
        for name, edit in (("temperatures", self.temps), ("top_ps", self.top_ps),
                           ("min_ps", self.min_ps), ("system_prompts", self.system_prompts)):
            if name in fields:
                edit.setText(str(fields[name]))
        if "verbalized_k" in fields:
            self.vs_k.setValue(int(fields["verbalized_k"]))
        if "template" in fields:
            idx = self.template_box.findData(fields["template"])
            if idx >= 0:
                self.template_box.setCurrentIndex(idx)
        self._changed()

    def current_model(self) -> str:
        return str(self.model_box.currentData())

    def _model_changed(self) -> None:
        if self.current_model() == CHOOSE_FILE:
            path, _ = QFileDialog.getOpenFileName(self, "Choose a GGUF model", "", "GGUF models (*.gguf)")
            if not path:
                self.model_box.setCurrentIndex(0)
                return
            self.add_model_file(path)
            return
        try:
            self._facts = model_facts(self.current_model())
            self.model_info.setText(describe_facts(self._facts))
        except MonoscopeError as exc:
            self._facts = {"error": str(exc)}
            self.model_info.setText(str(exc))
        self._template_changed()

    def add_model_file(self, path: str) -> None:
        """Add a .gguf file to the picker and select it (also used by drag and drop)."""
        idx = self.model_box.findData(path)
        if idx < 0:
            idx = self.model_box.count() - 1
            self.model_box.insertItem(idx, Path(path).name, path)
        self.model_box.setCurrentIndex(idx)

    def _dataset(self) -> Dataset | None:
        did = self.dataset_box.currentData()
        if self.choices is None or did is None:
            return None
        return next((d for d in self.choices.datasets if d.id == did), None)

    def _domain(self) -> str:
        from monoscope.core.generation.templates import dataset_domain

        d = self._dataset()
        if d is None:
            return "books"
        return dataset_domain(d.name, d.kind, d.meta)

    def _dataset_changed(self) -> None:
        from monoscope.core.generation.templates import default_preset

        idx = self.template_box.findData(default_preset(self._domain()))
        if idx >= 0 and self.template_box.currentData() != CUSTOM:
            self.template_box.setCurrentIndex(idx)
        self._template_changed()

    def _template_changed(self) -> None:
        name = self.template_box.currentData()
        custom = name == CUSTOM
        self.template_edit.setReadOnly(not custom)
        if not custom:
            from monoscope.core.generation.templates import resolve_template

            tpl = resolve_template(str(name), self._domain())
            self.template_edit.blockSignals(True)
            self.template_edit.setPlainText(tpl.text_for(bool(self._facts.get("chat", True))))
            self.template_edit.blockSignals(False)
        self._changed()

    def _prompts(self, dataset_id: int) -> DatasetPrompts:
        if self.choices is None:
            raise RunInputError("Reading the study…")
        return self.choices.prompts.get(dataset_id, DatasetPrompts((), None))

    def _render_preview(self) -> str:
        from monoscope.core.generation.templates import resolve_template

        if self.choices is None:
            return "(reading the study…)"
        did = self.dataset_box.currentData()
        first = None if did is None else self._prompts(int(did)).first
        if first is None:
            return "(the dataset has no prompts yet)"
        name = self.template_box.currentData()
        spec = self.template_edit.toPlainText() if name == CUSTOM else str(name)
        tpl = resolve_template(spec, self._domain())
        try:
            from monoscope.core.generation.runs import apply_mitigations
            from monoscope.core.generation.templates import system_prompts

            systems = parse_names(self.system_prompts.text(), system_prompts())
            tpl, _ = apply_mitigations(tpl, self.vs_k.value() if self.vs_k.value() > 1 else 0,
                                       systems[0] if systems else None)
        except MonoscopeError:
            pass  # build_spec says what is wrong
        title, context = first
        if self._facts.get("chat", True):
            msgs = tpl.messages(title, context, 0)
            return "\n".join(f"[{m['role']}] {m['content']}" for m in msgs) + \
                "\n(wrapped in the model's chat template)"
        return tpl.completion(title, context, 0)

    def _changed(self) -> None:
        for w in (self.decay_kind, self.decay_start, self.decay_end, self.decay_len):
            w.setEnabled(self.decay_on.isChecked())
        self.first_k.setEnabled(self.subset_first.isChecked())
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if self.choices is None:
            self.preview.setPlainText(self._render_preview())
            self.error.setText("")
            self.estimate.setText("Reading the study's datasets and prompts…")
            ok.setEnabled(False)
            return
        try:
            self.preview.setPlainText(self._render_preview())
            spec = self.build_spec()
        except MonoscopeError as exc:
            self.error.setText(str(exc))
            self.estimate.setText("")
            ok.setEnabled(False)
            return
        self.error.setText("")
        ok.setEnabled(True)
        rate = tokens_per_second(spec.model, self._facts.get("n_params"))
        secs = estimate_seconds(spec, rate)
        from monoscope.core.tasks import format_eta

        self.estimate.setText(
            f"{spec.n_runs} run(s) × {spec.n_prompts} prompts × {spec.n_per_prompt} = "
            f"{spec.n_samples:,} samples; at most ~{format_eta(secs)} at ~{rate:.0f} tokens/s "
            "(measured on 2 CPU cores, 16 sequences per batch).")
        self.spec_changed.emit()

    # -- result -----------------------------------------------------------------------------
    def _prompt_keys(self, dataset_id: int) -> tuple[tuple[str, ...] | None, int]:
        all_keys = self._prompts(dataset_id).keys
        total = len(all_keys)
        if total == 0:
            raise RunInputError("The dataset has no prompts: import source texts first.")
        if self.subset_first.isChecked():
            keys = all_keys[:self.first_k.value()]
            return keys, len(keys)
        if self.subset_sel.isChecked():
            if not self.selected_keys:
                raise RunInputError("No prompts are selected in the table: select some or choose all.")
            return self.selected_keys, len(self.selected_keys)
        return None, total

    def build_spec(self) -> RunSpec:
        """Validate every field and return the spec; raise RunInputError saying what to fix."""
        if self.choices is None:
            raise RunInputError("Reading the study's datasets and prompts…")
        did = self.dataset_box.currentData()
        if did is None:
            raise RunInputError("The study has no dataset: import source texts first.")
        if "error" in self._facts:
            raise RunInputError(str(self._facts["error"]))
        model = self.current_model()
        if model == CHOOSE_FILE:
            raise RunInputError("Choose a model.")
        temps = parse_floats(self.temps.text(), "temperatures", 0.0, 5.0)
        tops = parse_floats(self.top_ps.text(), "top-p", 0.0, 1.0, low_open=True)
        min_ps = parse_floats(self.min_ps.text(), "min-p", 0.0, 0.99)
        from monoscope.core.generation.templates import system_prompts

        systems = parse_names(self.system_prompts.text(), system_prompts())
        if self.vs_k.value() == 1:
            raise RunInputError("Verbalized sampling asks for at least 2 answers per call "
                                "(or set it off).")
        name = self.template_box.currentData()
        template = self.template_edit.toPlainText().strip() if name == CUSTOM else str(name)
        if name == CUSTOM:
            from monoscope.core.generation.templates import resolve_template

            if not template:
                raise RunInputError("Write a template, e.g. Write a review of the movie {title}: ")
            resolve_template(template, self._domain())
        decay = None
        try:
            if self.decay_on.isChecked():  # one run per top-p, decaying to the end value
                end = self.decay_end.value()
                decay = Decay(self.decay_kind.currentText(), self.decay_start.value(), end,
                              self.decay_len.value())
                temps = [end]
            grid = tuple(
                SamplingParams(
                    temperature=t, top_p=p, top_k=self.top_k.value(),
                    min_p=mp, repeat_penalty=self.repeat.value(),
                    max_tokens=self.max_tokens.value(), decay=decay)
                for t, p, mp in itertools.product(temps, tops, min_ps)
            )
        except SamplingError as exc:
            raise RunInputError(str(exc)) from None
        keys, n_prompts = self._prompt_keys(int(did))
        try:
            extra = self.servers.extra()
        except MonoscopeError as exc:
            raise RunInputError(str(exc)) from None
        return RunSpec(int(did), model, template, grid, self.n_per_prompt.value(),
                       self.seed.value(), keys, self.label_edit.text().strip(), n_prompts, extra,
                       verbalized_k=self.vs_k.value(), system_prompts=systems)

    def _replicate(self) -> None:
        self.wants_replication = True
        self.reject()

    def accept(self) -> None:
        try:
            self.spec = self.build_spec()
        except MonoscopeError as exc:
            self.error.setText(str(exc))
            return
        super().accept()
