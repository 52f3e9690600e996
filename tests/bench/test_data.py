"""The latency phase's log is cut where it is long enough on both counts, and says when not."""

from __future__ import annotations

import json
from pathlib import Path

from bench.data import _cut


def _log(path: Path, types: list[str]) -> Path:
    path.write_text("".join(json.dumps({"event_type": t}) + "\n" for t in types))
    return path


def test_the_tail_is_cut_after_the_line_that_meets_both_minimums(tmp_path: Path) -> None:
    types = ["campaign_touch", "order_placed", "campaign_touch", "return_requested"] * 5
    log = _log(tmp_path / "tail.jsonl", types)
    # 3 events would do, but the 3rd scored type (an order) is line 6
    assert _cut(log, min_events=3, min_scored=3) == (6, 3)
    lines = log.read_text().splitlines()
    assert [json.loads(line)["event_type"] for line in lines] == types[:6]
    assert _cut(log, min_events=6, min_scored=1) == (6, 3)  # the whole file, exactly


def test_a_tail_too_short_is_left_whole(tmp_path: Path) -> None:
    log = _log(tmp_path / "tail.jsonl", ["order_placed", "campaign_touch"])
    before = log.read_bytes()
    assert _cut(log, min_events=2, min_scored=2) is None
    assert log.read_bytes() == before
