"""The rejects file, written whole or not at all (as the event log is:
`schemas.event_log.write_event_log`), so a failed import never leaves a half-written file.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from ingest.rows import Reject


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
