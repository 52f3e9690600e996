"""Why a worker cannot start: one line, naming the cause and the setting that fixes it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class CannotStart(RuntimeError):
    """The worker cannot run; `str()` is one line: the cause and the setting to check."""

    def __init__(self, cause: str, setting: str | None = None) -> None:
        """`setting`: None when `cause` already names it (an error sent back from the
        pipeline's process is rebuilt from its message alone)."""
        message = _one_line(cause)
        super().__init__(message if setting is None else f"{message} (check {setting})")


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


@contextmanager
def needs(setting: str, what: str) -> Iterator[None]:
    """Any error inside becomes `CannotStart` naming `what` could not be done and `setting`."""
    try:
        yield
    except CannotStart:
        raise
    except Exception as exc:  # noqa: BLE001 - every cause is reported, none is expected
        detail = str(exc) or type(exc).__name__
        raise CannotStart(f"{what}: {detail}", setting) from exc
