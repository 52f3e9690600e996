"""`returnrisk report`: segment analytics from an event log, as HTML, CSV and JSON."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from returnrisk.cli_errors import RUNTIME, CliError

console = Console(stderr=True, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

_STAGES = {
    "read": "reading events (bytes)",
    "replay": "replaying orders",
    "sections": "tables and charts",
}


def report(
    events: Annotated[
        Path,
        typer.Option(
            "--events",
            help="JSON-lines event log (e.g. from `returnrisk simulate`).",
            exists=True,
            dir_okay=False,
            readable=True,
            envvar="RETURNRISK_EVENTS",
        ),
    ],
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for report.html, one CSV per table and summary.json (created).",
            file_okay=False,
            envvar="RETURNRISK_REPORT_OUT",
        ),
    ],
    segments: Annotated[
        Path | None,
        typer.Option(
            "--segments",
            help="Segment rules (YAML, as for `returnrisk train`); default: models/segments.yaml.",
            exists=True,
            dir_okay=False,
            envvar="RETURNRISK_SEGMENTS",
        ),
    ] = None,
    segment_by: Annotated[
        list[str] | None,
        typer.Option(
            "--segment-by",
            help=(
                "Also group by this feature or profile attribute as it was at order time, "
                "e.g. country, loyalty_tier, lifecycle_stage, age_band (repeatable)."
            ),
            envvar="RETURNRISK_REPORT_SEGMENT_BY",
        ),
    ] = None,
    filter_: Annotated[
        str | None,
        typer.Option(
            "--filter",
            help=(
                "Only orders for which this segment-rule expression is true, e.g. "
                "\"country == 'DE' and loyalty_tier in ['gold', 'vip']\"."
            ),
            envvar="RETURNRISK_REPORT_FILTER",
        ),
    ] = None,
    from_: Annotated[
        datetime | None,
        typer.Option(
            "--from",
            formats=["%Y-%m-%d"],
            help="First day (UTC) of orders to report on, YYYY-MM-DD.",
            envvar="RETURNRISK_REPORT_FROM",
        ),
    ] = None,
    to: Annotated[
        datetime | None,
        typer.Option(
            "--to",
            formats=["%Y-%m-%d"],
            help="Last day (UTC, inclusive) of orders to report on, YYYY-MM-DD.",
            envvar="RETURNRISK_REPORT_TO",
        ),
    ] = None,
    attribution_window_days: Annotated[
        float,
        typer.Option(
            "--attribution-window-days",
            help=(
                "An order is credited to its customer's last touch (click > open > impression) "
                "within this many days before it."
            ),
            envvar="RETURNRISK_REPORT_ATTRIBUTION_WINDOW_DAYS",
        ),
    ] = 7.0,
    offers: Annotated[
        Path | None,
        typer.Option(
            "--offers",
            help=(
                "Offer records (JSON lines, as exported from the offers topic or written by a "
                "backtest): adds each offer rule's effect against its random holdout."
            ),
            exists=True,
            dir_okay=False,
            readable=True,
            envvar="RETURNRISK_REPORT_OFFERS",
        ),
    ] = None,
) -> None:
    """Report who returns, why, and which marketing drives it, as HTML, CSV and JSON.

    Return rates, frequency, reasons,
    return types, weekly trend and received condition per segment (and per --segment-by
    attribute), new vs returning vs loyal customers side by side, and campaign and channel
    lift with confidence intervals and Benjamini-Hochberg-corrected flags. With --offers,
    each offer rule's treated orders against its held-out ones: return rate, returned value
    and repurchase, with clustered intervals and flags.

    Segments, --filter and --segment-by read the same point-in-time features and use the
    same rule evaluator as the models. Writes OUT/report.html (self-contained), one CSV per
    table and OUT/summary.json; every rate is defined in the report. Exits 2 on a bad
    option or rule, a log without a valid event or a bad offers line, 1 when no order is
    selected."""
    from analytics.dataset import Selection
    from analytics.report import EmptySelectionError, build_report, write_report
    from analytics.segmentation import build_plan

    started = time.perf_counter()
    if attribution_window_days <= 0:
        raise CliError(
            f"--attribution-window-days must be more than 0, not {attribution_window_days}"
        )
    if from_ and to and from_ > to:
        raise CliError(f"--from {from_.date()} is after --to {to.date()}")
    try:
        plan = build_plan(segments, filter_, segment_by or [])
    except ValueError as exc:  # a rule, filter or grouping that cannot be evaluated
        raise CliError(str(exc)) from None
    selection = Selection(
        start=from_.date() if from_ else None,
        end=to.date() if to else None,
        attribution_window_days=attribution_window_days,
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("[dim]{task.completed:,.0f}/{task.total:,.0f}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(_STAGES.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        try:
            result = build_report(events, plan, selection, progress=advance, offers_path=offers)
        except EmptySelectionError as exc:
            raise CliError(str(exc), RUNTIME) from None
        except ValueError as exc:  # an unusable log or offers file, a rule naming what is not
            raise CliError(str(exc)) from None
        written = write_report(result, out_dir)
    _print_summary(result.summary, out_dir, len(written), time.perf_counter() - started)


def _print_summary(summary: dict[str, Any], out_dir: Path, files: int, seconds: float) -> None:
    overall, log = summary["overall"], summary["log"]
    for example in log["invalid_examples"]:
        console.print(f"[yellow]skipped {example}[/]")
    out.print(
        f"{overall['orders']:,} orders from {overall['customers']:,} customers "
        f"({log['events']:,} events, {log['invalid_lines']:,} invalid lines skipped)"
    )
    out.print(
        f"order return rate {overall['order_return_rate']:.1%} (n={overall['orders']:,}), "
        f"item return rate {overall['item_return_rate']:.1%} (n={overall['items_bought']:,})"
    )
    flagged = summary["flagged"]
    out.print(f"flagged: {len(flagged)}")
    for row in flagged:
        where = f" in {row['segment']}" if row.get("segment") else ""
        out.print(
            f"  {row['level']} {row['name']}{where}: n={row['orders']:,} orders, "
            f"lift {row['lift']:.2f}x, q={row['q_value']:.2g}"
        )
    if "offers" in summary:
        _print_offers(summary["offers"])
    timings = summary["timings"]
    steps = ", ".join(f"{name.removesuffix('_s')} {value:.1f}" for name, value in timings.items())
    out.print(f"{files} files -> {out_dir} in {seconds:.1f} s ({steps})")


def _print_offers(offers: dict[str, Any]) -> None:
    counts = offers["counts"]
    elsewhere = counts["unknown_order"] + counts["order_not_in_report"]
    out.print(
        f"offers: {counts['offers']:,} offers ({counts['duplicate_records']:,} repeated records "
        f"skipped, {elsewhere:,} for orders outside the log or the report), "
        f"{counts['measured_orders']:,} orders measured over {len(offers['rules'])} rules; "
        f"flagged: {len(offers['flagged'])}"
    )
    for row in offers["flagged"]:
        rate = row["metric"] != "returned_value"
        scale, digits, unit = (100, 1, " pp") if rate else (1, 2, f" {row['currency']}")
        difference, low, high = (
            f"{row[c] * scale:+.{digits}f}"
            for c in ("difference", "difference_ci_low", "difference_ci_high")
        )
        out.print(
            f"  {row['rule']} {row['metric']}: {difference}{unit} [{low}, {high}] "
            f"treated - held out (n={row['treated_orders']:,}/{row['held_out_orders']:,} "
            f"orders), q={row['q_value']:.2g}"
        )
