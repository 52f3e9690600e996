"""The event log: one JSON event per line, in time order. The simulator and the importer write
it; every command that reads events reads it (`features.replay.read_log`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

_WRITE_CHUNK = 50_000


def write_event_log(
    path: Path, lines: Sequence[str], written: Callable[[int, int], None] | None = None
) -> None:
    """`lines` at `path`, whole or not at all: they go to a sibling `.partial` file that replaces
    `path` only when complete, so a crash never leaves a truncated log. `written(done, total)`
    after each chunk, for a progress bar."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as out:
        for start in range(0, len(lines), _WRITE_CHUNK):
            chunk = lines[start : start + _WRITE_CHUNK]
            out.write(("\n".join(chunk) + "\n").encode())
            if written:
                written(start + len(chunk), len(lines))
    partial.replace(path)
