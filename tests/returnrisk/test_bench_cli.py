"""`returnrisk bench` when a run fails: a clear message, and the child processes' logs kept."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bench.errors import BenchError
from returnrisk.cli import app


def test_a_failed_run_says_why_and_keeps_its_logs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async def stalled(config: Any, kafka: Any, redis_conf: Any, work: Path, *_: Any) -> None:
        (work / "worker.log").write_text("the worker's own account\n")
        raise BenchError("the worker consumed 0 of 500 events in 60 s")

    monkeypatch.setattr("devstack.stack.up", lambda *_: None)
    monkeypatch.setattr("bench.runner.run_bench", stalled)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    result = CliRunner().invoke(app, ["bench", "--events", "500"])

    assert result.exit_code == 1
    assert "bench failed: the worker consumed 0 of 500 events in 60 s" in result.output
    assert "Traceback" not in result.output
    [kept] = tmp_path.glob("returnrisk-bench-*")
    assert (kept / "worker.log").read_text() == "the worker's own account\n"
    assert str(kept) in result.output.replace("\n", "")
