"""The event log and the rejects file, each written whole or not at all.

Both are written to a sibling `.partial` file that replaces the target only when complete, as
the simulator does, so a failed import never leaves a half-written log or a half event.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

from ingest.rows import Reject

_WRITE_CHUNK = 50_000


def write_log(path: Path, lines: Sequence[str], progress: Callable[[int], None] | None) -> None:
    """`lines` (already in time order) as a JSON-lines file at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as out:
        for start in range(0, len(lines), _WRITE_CHUNK):
            chunk = lines[start : start + _WRITE_CHUNK]
            out.write(("\n".join(chunk) + "\n").encode())
            if progress:
                progress(len(chunk))
    partial.replace(path)


def write_rejects(path: Path, rejects: Sequence[Reject], files: Sequence[Path]) -> None:
    """One CSV row per rejected input row: file, row, reason, detail (the offending value),
    sorted by file (in the order given) and row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["file", "row", "reason", "detail"])
        for r in sorted(rejects, key=lambda r: (r.file, r.row, r.reason)):
            writer.writerow([str(files[r.file]), r.row, r.reason, r.detail])
    partial.replace(path)
