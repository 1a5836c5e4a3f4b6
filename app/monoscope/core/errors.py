"""Errors a user can cause. Each message says what went wrong and what to do."""

from __future__ import annotations


class MonoscopeError(Exception):
    """Base of all errors the user can cause; the CLI prints the message and exits 1."""


class StudyError(MonoscopeError):
    """The study file cannot be opened or is inconsistent."""


class StudyLockedError(StudyError):
    """Another process holds the study open for writing."""


class DiskFullError(StudyError):
    """The disk holding the study is full; the failed step was rolled back."""


class SchemaTooNewError(StudyError):
    """The study was written by a newer Monoscope."""


class ImportFailed(MonoscopeError):
    """A source file could not be imported; the study is unchanged."""


class AssetMissing(MonoscopeError):
    """A bundled asset is not on disk and could not be fetched."""


class ModelLoadError(MonoscopeError):
    """A model file is missing, corrupt or not GGUF."""


class PromptTooLong(MonoscopeError):
    """A rendered prompt does not fit in the model's context."""


class TaskCancelled(Exception):
    """Raised inside a task when its TaskState was cancelled (not an error)."""
