"""Small forms that send one controller command, and show its refusal where it belongs.

A :class:`FormDialog` holds a few fields (a line, a text, a list, a model); OK hands the
values to ``submit``, which calls the controller. A refusal keeps the dialog open: an
:class:`~mma_qt.core.run.errors.InvalidEdit` is shown under the field it names, any other
:class:`~mma_qt.core.run.errors.ControllerError` under the fields. The same field lookup
serves the proposal panel (:func:`field_of`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import NamedTuple

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from ..core.model.domain import Tier
from ..core.providers.base import ProviderFactory
from ..core.run.errors import ControllerError, InvalidEdit
from .dialogs import column, ok_cancel

#: How far up the Tier 3 model ladder :func:`worker_models` looks.
LADDER_DEPTH = 8
ERROR_STYLE = "color: #c62828;"

FormValue = str | list[str]
Values = dict[str, FormValue]


class Kind(Enum):
    LINE = "line"
    TEXT = "text"
    #: A list of ids or paths, typed comma- or newline-separated.
    LIST = "list"
    MODEL = "model"


class Field(NamedTuple):
    name: str
    label: str
    kind: Kind = Kind.LINE
    value: FormValue = ""
    placeholder: str = ""


def worker_models(factory: ProviderFactory) -> list[str]:
    """The Tier 3 models the provider offers: its model ladder, first to last, once each."""
    models: list[str] = []
    for attempt in range(LADDER_DEPTH):
        model = factory.model_for(Tier.WORKER, attempt)
        if model not in models:
            models.append(model)
    return models


class ModelCombo(QComboBox):
    """An editable choice of model: the provider's models, or any name typed in."""

    def __init__(self, models: Sequence[str], current: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.addItems(list(models))
        self.set_model(current)

    def chosen(self) -> str:
        return self.currentText().strip()

    def set_model(self, name: str) -> None:
        index = self.findText(name)
        if index >= 0:
            self.setCurrentIndex(index)
        else:
            self.setEditText(name)


def split_list(text: str) -> list[str]:
    """``"T-001, T-002\\nT-003"`` → ``["T-001", "T-002", "T-003"]``."""
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


def field_of(error_field: str, names: Sequence[str]) -> tuple[int | None, str | None]:
    """Where an InvalidEdit's field points: (the item's index, if it names one; the field
    among ``names``, if any). ``"tracks[1].title"`` → ``(1, "title")``."""
    index = re.search(r"(?:^|[\[.])(\d+)(?:$|[\].])", error_field)
    words = re.findall(r"[A-Za-z_]+", error_field)
    name = next((w for w in reversed(words) if w in names), None)
    return (int(index.group(1)) if index else None), name


def error_label() -> QLabel:
    label = QLabel()
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    label.hide()
    return label


def show_error(label: QLabel, text: str) -> None:
    label.setText(text)
    label.setVisible(bool(text))


class FormDialog(QDialog):
    """The fields, an error line under each, OK / Cancel. OK calls ``submit`` with the
    values that changed (``changed_only``, the default) or every non-empty one; the dialog
    closes only when ``submit`` did not refuse."""

    def __init__(
        self,
        title: str,
        fields: Sequence[Field],
        submit: Callable[[Values], object],
        *,
        intro: str = "",
        models: Sequence[str] = (),
        changed_only: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._fields = {f.name: f for f in fields}
        self._submit = submit
        self._changed_only = changed_only
        self.editors: dict[str, QLineEdit | QPlainTextEdit | ModelCombo] = {}
        self.errors: dict[str, QLabel] = {}
        form = QFormLayout()
        for spec in fields:
            editor = self._editor(spec, models)
            self.editors[spec.name] = editor
            self.errors[spec.name] = error_label()
            form.addRow(spec.label, column(editor, self.errors[spec.name]))
        self.error = error_label()
        layout = QVBoxLayout(self)
        if intro:
            intro_label = QLabel(intro)
            intro_label.setWordWrap(True)
            layout.addWidget(intro_label)
        layout.addLayout(form, 1)
        layout.addWidget(self.error)
        layout.addWidget(ok_cancel(self))
        self.resize(560, 200 + 60 * sum(f.kind is Kind.TEXT for f in fields))

    @staticmethod
    def _editor(spec: Field, models: Sequence[str]) -> QLineEdit | QPlainTextEdit | ModelCombo:
        text = ", ".join(spec.value) if isinstance(spec.value, list) else spec.value
        editor: QLineEdit | QPlainTextEdit | ModelCombo
        if spec.kind is Kind.MODEL:
            combo = ModelCombo(models, text)
            line = combo.lineEdit()
            if line is not None:
                line.setPlaceholderText(spec.placeholder)
            return combo
        if spec.kind is Kind.TEXT:
            editor = QPlainTextEdit(text)
        else:
            editor = QLineEdit(text)
        editor.setPlaceholderText(spec.placeholder)
        return editor

    def set_value(self, name: str, text: str) -> None:
        editor = self.editors[name]
        if isinstance(editor, ModelCombo):
            editor.set_model(text)
        elif isinstance(editor, QPlainTextEdit):
            editor.setPlainText(text)
        else:
            editor.setText(text)

    def raw(self, name: str) -> str:
        editor = self.editors[name]
        if isinstance(editor, ModelCombo):
            return editor.chosen()
        if isinstance(editor, QPlainTextEdit):
            return editor.toPlainText()
        return editor.text()

    def values(self) -> Values:
        """What OK sends: per field its value (a list for list fields)."""
        values: Values = {}
        for name, spec in self._fields.items():
            raw = self.raw(name)
            value: FormValue = split_list(raw) if spec.kind is Kind.LIST else raw
            if self._changed_only and value == spec.value:
                continue
            if not self._changed_only and not value:
                continue
            values[name] = value
        return values

    @Slot()
    def accept(self) -> None:
        for label in (*self.errors.values(), self.error):
            show_error(label, "")
        try:
            self._submit(self.values())
        except InvalidEdit as exc:
            _, name = field_of(exc.field, list(self._fields))
            show_error(self.errors[name] if name else self.error, str(exc))
            return
        except ControllerError as exc:
            show_error(self.error, str(exc))
            return
        super().accept()


def only(values: Mapping[str, FormValue], name: str) -> str:
    value = values.get(name, "")
    return ", ".join(value) if isinstance(value, list) else value
