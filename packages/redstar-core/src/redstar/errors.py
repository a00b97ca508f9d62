"""Errors a user can act on. The CLI prints them as one clean message (``--debug`` shows the
traceback); anything else is a bug and keeps its traceback."""

from __future__ import annotations

from pathlib import Path


class RedStarError(Exception):
    """Base of every error RedStar reports to the user as a message."""


class InputError(RedStarError):
    """A data file is malformed: names the file, the line (1-based, when there is one) and the
    field."""

    def __init__(self, path: str | Path, message: str, line: int | None = None, field: str | None = None):
        self.path = str(path)
        self.line = line
        self.field = field
        self.detail = message
        where = self.path if line is None else f"{self.path}:{line}"
        what = f" field {field!r}:" if field else ""
        super().__init__(f"{where}:{what} {message}")


class RecipeError(RedStarError):
    """A recipe is invalid: names the file and the dotted key."""

    def __init__(self, path: str | Path | None, key: str, message: str):
        self.path = None if path is None else str(path)
        self.key = key
        where = self.path or "<recipe>"
        # A key or value that is not text (a lone surrogate, named in a message) shown escaped, so
        # that printing the message cannot fail in its turn.
        text = f"{where}: {key}: {message}".encode("utf-8", "backslashreplace").decode("utf-8")
        super().__init__(text)


class PluginError(RedStarError):
    """A plugin failed to load or asked for something that is not registered."""


class MissingDependencyError(RedStarError):
    """An optional dependency is not installed; the message says what to install."""
