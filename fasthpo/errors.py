"""Errors that fasthpo raises at its boundaries (job files, the Python API, the store)."""

from __future__ import annotations


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


class StoreError(RuntimeError):
    """The SQLite store cannot be opened or holds something this version cannot read."""
