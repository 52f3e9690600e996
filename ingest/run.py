"""A whole import: read every file in chunks, sort rows, group invoices, match credits, build
the events, write the log and the rejects file. `returnrisk import` calls `run_import`.

Memory holds the kept lines' fields (not the files' text) until the events are built: matching
a credit needs every earlier purchase of its customer, and the log is written in time order
whatever the order of the input.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from ingest.credits import match_credits
from ingest.errors import IngestError
from ingest.events import Built, Timestamps, invalid, order_events, return_events
from ingest.invoices import group_invoices
from ingest.mapping import Mapping
from ingest.readers import check_file, read_chunks
from ingest.rows import KEPT_COLUMNS, Reject, sort_rows
from ingest.summary import ImportSummary
from ingest.writer import write_rejects
from schemas.event_log import write_event_log

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""Called as (stage, done, total): 'read' in bytes of input, 'build' and 'write' in events."""


def _read(
    files: Sequence[Path], mapping: Mapping, summary: ImportSummary, progress: Progress | None
) -> tuple[pd.DataFrame, list[Reject]]:
    sizes = [path.stat().st_size for path in files]
    frames: list[pd.DataFrame] = []
    rejects: list[Reject] = []
    before = 0
    for index, path in enumerate(files):
        for chunk in read_chunks(path, mapping):
            result = sort_rows(chunk, index, mapping)
            summary.rows_read += result.rows + len(chunk.malformed)
            summary.excluded.update(result.excluded)
            summary.defaulted.update(result.defaulted)
            rejects.extend(result.rejects)
            if len(result.kept):
                frames.append(result.kept)
            if progress:
                progress("read", before + chunk.done_bytes, sum(sizes))
        before += sizes[index]
    kept = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=KEPT_COLUMNS)
    return kept, rejects


def _valid(
    built: list[Built], rows_of: Callable[[list[str]], pd.DataFrame], rejects: list[Reject]
) -> tuple[list[Built], list[str]]:
    """The events that pass their contract, and the invoices of those that do not (whose
    rows are rejected with the reason)."""
    good, bad = [], []
    for event in built:
        problem = invalid(event)
        if problem is None:
            good.append(event)
            continue
        bad.append(event.invoice)
        rows = rows_of([event.invoice])
        rejects.extend(
            Reject(int(f), int(r), problem[:500], event.invoice)
            for f, r in zip(rows["file"], rows["row"], strict=True)
        )
    return good, bad


def run_import(
    files: Sequence[Path],
    mapping: Mapping,
    out: Path,
    rejects_path: Path,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import `files` (in the order given) through `mapping`; write `out` and `rejects_path`."""
    began = time.perf_counter()
    for path in files:
        check_file(path, mapping)  # every file of a known kind, with its columns, first
    summary = ImportSummary(files=len(files))
    kept, rejects = _read(files, mapping, summary, progress)
    grouped, invoice_rejects = group_invoices(kept)
    rejects += invoice_rejects
    sales = grouped[~grouped["credit"].astype(bool)]
    credits = grouped[grouped["credit"].astype(bool)]
    times = Timestamps()

    orders, failed = _valid(
        list(order_events(sales, mapping, times)),
        lambda ids: sales[sales["order_id"].isin(ids)],
        rejects,
    )
    sales = sales[~sales["order_id"].isin(failed)]
    lines, unmatched, summary.capped_return_lines = match_credits(sales, credits)
    rejects += unmatched
    returns, failed_returns = _valid(
        list(return_events(lines, mapping, times)),
        lambda ids: credits[credits["order_id"].isin(ids)],
        rejects,
    )
    if progress:
        progress("build", len(orders) + len(returns), len(orders) + len(returns))

    events = sorted(orders + returns, key=lambda b: b.key)
    summary.orders = len(orders)
    summary.order_lines = len(sales)
    summary.return_requests = len(returns)
    summary.return_lines = len(lines) - int(lines["order_id"].isin(failed_returns).sum())
    summary.customers = len({b.customer_id for b in events})
    summary.rejected.update(r.reason.split(":")[0] for r in rejects)
    write_rejects(rejects_path, rejects, files)
    if not events:
        raise IngestError(
            f"no order to write from {', '.join(map(str, files))}: every row was excluded or "
            f"rejected (see {rejects_path})"
        )
    write_event_log(
        out,
        [b.line for b in events],
        (lambda done, total: progress("write", done, total)) if progress else None,
    )
    summary.seconds = time.perf_counter() - began
    logger.info(
        "imported %d rows: %d orders, %d return requests in %.1f s",
        summary.rows_read,
        summary.orders,
        summary.return_requests,
        summary.seconds,
    )
    return summary
