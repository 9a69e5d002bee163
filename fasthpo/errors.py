"""Errors that fasthpo raises at its boundaries (job files, the Python API, the store)."""

from __future__ import annotations

from collections.abc import Iterable


class ConfigError(ValueError):
    """Invalid user input, named by the field it came from.

    ``field`` is a dotted path such as ``hyperparameters.C.min`` (empty when the
    error concerns the input as a whole); ``str(error)`` reads
    ``"<field>: <message>"`` so a CLI can print it as one line.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)

    def within(self, prefix: str) -> ConfigError:
        """The same error, with ``prefix`` put in front of its field path."""
        field = f"{prefix}.{self.field}" if self.field else prefix
        return ConfigError(field, self.message)


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``choices`` to ``word``, or ``""``."""
    import difflib

    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class StoreError(RuntimeError):
    """The SQLite store cannot be opened or holds something this version cannot read."""


class RunFolderError(RuntimeError):
    """A trial's folder cannot be made safely: it exists already, or the runs folder leads elsewhere.

    The tuner never writes over files it did not make in this attempt, and
    never follows a symbolic link out of its runs folder.
    """
