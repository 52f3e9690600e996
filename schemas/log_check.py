"""Check an event log against the contracts without a broker: `returnrisk validate`.

Every line goes through `schemas.codec.decode_event`, the function the producer and the stream
decode with, so a log that passes here is one they accept line for line. The producer uses the
same `BadLine` and the same blank-line rule, and `returnrisk produce` runs `check_log` before it
connects.

Blank lines (empty or only whitespace) are not events and not errors: they are counted and
skipped, as the producer and the offline replay skip them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from schemas.codec import EventValidationError, FieldError, decode_event
from schemas.inputs import INPUT_EVENT_TYPES, InputEvent

UNKNOWN_TYPE = "(unknown)"
"""The event type a bad line is counted under when it names no input event type."""


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that is not a valid event, with every field at fault."""

    line_no: int
    errors: tuple[FieldError, ...]

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of its errors, each once, in the order they were found."""
        return tuple(dict.fromkeys(error.kind for error in self.errors))

    def __str__(self) -> str:
        return f"line {self.line_no}: " + "; ".join(str(error) for error in self.errors)


def is_blank(raw: bytes) -> bool:
    return not raw.strip()


def check_line(raw: bytes, line_no: int) -> InputEvent | BadLine:
    """The event on a (non-blank) line, or what is wrong with it."""
    try:
        return decode_event(raw)
    except EventValidationError as exc:
        return BadLine(line_no, exc.errors)


@dataclass
class LogReport:
    """What `check_lines` found: every line is counted as an event, a bad line or a blank one.

    `bad_by_kind` lists bad lines under each kind of error they have (a line with a missing
    field and a negative price is under both), at most `keep` per kind; `bad_count_by_kind`
    counts them all.
    """

    lines: int = 0
    blank: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)
    bad_by_type: Counter[str] = field(default_factory=Counter)
    bad_count_by_kind: Counter[str] = field(default_factory=Counter)
    bad_by_kind: dict[str, list[BadLine]] = field(default_factory=dict)
    first_bad: BadLine | None = None

    @property
    def events(self) -> int:
        return self.events_by_type.total()

    @property
    def bad(self) -> int:
        return self.bad_by_type.total()

    @property
    def ok(self) -> bool:
        """True when no line is bad (blank lines are fine)."""
        return not self.bad


def check_lines(lines: Iterable[bytes], keep: int | None = None) -> LogReport:
    """Check every line (numbered from 1); keep at most `keep` bad lines per kind (all: None)."""
    report = LogReport()
    for line_no, line in enumerate(lines, start=1):
        report.lines = line_no
        if is_blank(line):
            report.blank += 1
            continue
        checked = check_line(line.rstrip(b"\r\n"), line_no)
        if not isinstance(checked, BadLine):
            report.events_by_type[checked.event_type] += 1
            continue
        report.bad_by_type[_readable_type(line)] += 1
        if report.first_bad is None:
            report.first_bad = checked
        for kind in checked.kinds:
            report.bad_count_by_kind[kind] += 1
            listed = report.bad_by_kind.setdefault(kind, [])
            if keep is None or len(listed) < keep:
                listed.append(checked)
    return report


def check_log(path: Path, keep: int | None = None) -> LogReport:
    """`check_lines` over a JSON-lines file; raises `OSError` when it cannot be read."""
    with path.open("rb") as log:
        return check_lines(log, keep)


def _readable_type(raw: bytes) -> str:
    """The input event type a bad line says it is, if it says one."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return UNKNOWN_TYPE
    event_type = record.get("event_type") if isinstance(record, dict) else None
    if isinstance(event_type, str) and event_type in INPUT_EVENT_TYPES:
        return event_type
    return UNKNOWN_TYPE
