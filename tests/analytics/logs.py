"""Hand-built logs for the analytics tests, and a short way to lay one out as tables.

`known_events` is the log with known answers (customer c1: DE, gold; c2: FR), T0 = 2025-01-01:

| order | customer | day | lines | items | net value |
| o1 | c1 | 0 | a: 2 x 50.00; b: 1 x 30.00 - 10.00 discount | 3 | 120.00 EUR |
| o2 | c1 | 10 | c: 1 x 40.00 | 1 | 40.00 EUR |
| o3 | c2 | 3 | d: 4 x 10.00 | 4 | 40.00 GBP |

Returns: r1 day 5 (o1, 1 x a, size_too_small, commercial), r2 day 6 (o1, 2 x a,
size_too_large, commercial: only 1 more a can come back), r3 day 20 (o2, 1 x c, defective,
service), r4 day 8 (o3, 1 x d, changed_mind, commercial). Received: r1 1 x a worn, r4 1 x d
as new. So: 8 items bought, 3 counted back; orders o1 and o3 returned (o2 only has a
service return); 3 commercial requests from 2 customers; EUR value back 100 of 160, GBP 10 of
40; r2 asks for 1 item more than was bought.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from analytics.dataset import Selection, Tables, build_tables
from analytics.segmentation import build_plan
from schemas import InputEvent, encode_event
from tests.fixtures.typed_events import at, line, order, profile, receipt, return_request

SimulateLog = Callable[..., Path]
"""The `simulate_log` fixture: (customers=, days=, seed=, config=None) -> log path."""


def _with_return_id(event: InputEvent, return_id: str) -> InputEvent:
    return event.model_copy(update={"return_id": return_id})


def known_events() -> list[InputEvent]:
    """The hand-built log described in the module docstring, in time order."""
    events: list[InputEvent] = [
        profile(at(-1), "gold", country="DE", customer="c1", age_band="25-34"),
        profile(at(-1), "none", country="FR", customer="c2", age_band="55+"),
        order(at(0), "o1", line("a-1", "50.00", 2), line("b-1", "30.00", 1, discount="10.00")),
        order(at(3), "o3", line("d-1", "10.00", 4), customer="c2", currency="GBP"),
        _with_return_id(return_request(at(5), "o1", ("a-1", 1, "size_too_small")), "r1"),
        _with_return_id(return_request(at(6), "o1", ("a-1", 2, "size_too_large")), "r2"),
        _with_return_id(
            return_request(at(8), "o3", ("d-1", 1, "changed_mind"), customer="c2"), "r4"
        ),
        _with_return_id(receipt(at(9), "o1", ("a-1", 1, "worn")), "r1"),
        order(at(10), "o2", line("c-1", "40.00", 1)),
        _with_return_id(receipt(at(12), "o3", ("d-1", 1, "as_new"), customer="c2"), "r4"),
        _with_return_id(
            return_request(at(20), "o2", ("c-1", 1, "defective"), return_type="service"), "r3"
        ),
    ]
    return sorted(events, key=lambda e: e.occurred_at)


def write_log(path: Path, events: Iterable[InputEvent]) -> Path:
    path.write_bytes(b"".join(encode_event(e) + b"\n" for e in events))
    return path


def tables_of(
    events: list[InputEvent],
    segment_by: Iterable[str] = (),
    filter_text: str | None = None,
    segments: Path | None = None,
    selection: Selection | None = None,
) -> Tables:
    plan = build_plan(segments, filter_text, segment_by)
    return build_tables(events, plan, selection or Selection())
