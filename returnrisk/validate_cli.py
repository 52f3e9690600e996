"""`returnrisk validate`: check an event log against the contracts, without a broker.

The checking is `schemas.log_check.check_log`; this module only prints its report: lines read,
valid and bad lines per event type, then bad lines per kind of error (`schemas.codec.ERROR_KINDS`)
with up to --show of them each, their line number and every field at fault. Blank lines are
counted and skipped, never an error (the producer and the replay skip them too). Exit 0 when
every line is a valid event, 1 when any line is bad, 2 when the file cannot be read or holds no
line at all (empty, or only blank lines).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from returnrisk.cli_errors import CliError

if TYPE_CHECKING:
    from schemas.log_check import LogReport


def validate(
    events: Annotated[
        Path,
        typer.Option(
            "--events",
            "-e",
            help=(
                "JSON Lines event log to check, one event per line; blank lines are counted "
                "and skipped, not errors."
            ),
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    show: Annotated[
        int,
        typer.Option(
            "--show",
            min=0,
            help="List at most this many bad lines of each kind of error; 0 lists every one.",
        ),
    ] = 20,
) -> None:
    """Check a JSON-lines event log against the event contracts, without a broker."""
    from schemas.log_check import check_log

    try:
        report = check_log(events, keep=show or None)
    except OSError as exc:
        raise CliError(f"{events}: cannot be read: {exc.strerror or exc}") from None
    if not report.events and not report.bad:
        raise CliError(f"{events}: no line in it to check (the file is empty or blank)")
    for line in report_lines(events, report, show):
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)


def report_lines(events: Path, report: LogReport, show: int) -> list[str]:
    """The printed report, line by line."""
    from schemas.codec import ERROR_KINDS

    out = [
        f"{events}: {_n(report.lines, 'line')}: {_n(report.events, 'valid event')}, "
        f"{_n(report.bad, 'bad line')}, {_n(report.blank, 'blank line')} (skipped)",
        "",
        f"{'event type':<20} {'valid':>9} {'bad':>9}",
    ]
    for event_type in sorted({*report.events_by_type, *report.bad_by_type}):
        valid, bad = report.events_by_type[event_type], report.bad_by_type[event_type]
        out.append(f"{event_type:<20} {valid:>9,} {bad:>9,}")
    out.append(f"{'total':<20} {report.events:>9,} {report.bad:>9,}")
    if report.ok:
        out += ["", "every line is a valid event"]
        return out
    out += ["", f"{'error kind':<20} {'lines':>9}  meaning"]
    kinds = sorted(report.bad_count_by_kind, key=lambda k: (-report.bad_count_by_kind[k], k))
    for kind in kinds:
        out.append(f"{kind:<20} {report.bad_count_by_kind[kind]:>9,}  {ERROR_KINDS.get(kind, '')}")
    if report.bad_count_by_kind.total() > report.bad:
        out.append("(a line with errors of several kinds is counted under each)")
    for kind in kinds:
        listed, count = report.bad_by_kind[kind], report.bad_count_by_kind[kind]
        shown = "" if len(listed) == count else f", the first {len(listed):,}"
        out += ["", f"{kind} ({_n(count, 'line')}{shown}):"]
        out += [f"  {bad}" for bad in listed]
        if len(listed) < count:
            out.append(f"  ... {count - len(listed):,} more (--show 0 lists every one)")
    return out


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
