"""The importer's errors a user can cause: one line naming the file and the problem."""

from __future__ import annotations


class IngestError(ValueError):
    """An input file or a mapping that cannot be imported; `str()` is the whole message."""


class MappingError(IngestError):
    """A mapping file that is missing, not YAML, or names fields wrongly."""


class InputFileError(IngestError):
    """An input file that cannot be read as an order-line table: truncated, of another kind,
    or without the columns its mapping names."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
