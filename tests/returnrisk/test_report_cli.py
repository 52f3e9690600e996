"""`returnrisk report`: options, exit codes and clear errors (tests for returnrisk/report_cli)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner, Result

from tests.analytics.logs import known_events, write_log
from tests.analytics.test_offers import offer_log


@pytest.fixture
def known_log(tmp_path: Path) -> Path:
    return write_log(tmp_path / "known.jsonl", known_events())


def _report(cli_app: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(cli_app, ["report", *args])


def test_report_writes_html_csv_and_json(
    cli_app: typer.Typer, known_log: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = _report(cli_app, "--events", str(known_log), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "3 orders from 2 customers" in result.output
    assert "flagged: 0" in result.output
    assert {"report.html", "summary.json", "rates_segment.csv"} <= {p.name for p in out.iterdir()}
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert "offers" not in summary and not any(out.glob("offers*.csv"))
    assert 'id="offers"' not in (out / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--filter", "__import__('os').system('true')"], "function calls are not allowed"),
        (["--filter", "contry == 'DE'"], "unknown name(s) contry"),
        (["--segment-by", "nope"], "--segment-by: unknown name(s) nope"),
        (["--from", "2025-02-01", "--to", "2025-01-01"], "is after --to"),
        (["--attribution-window-days", "0"], "more than 0"),
    ],
)
def test_bad_options_exit_2_with_a_message(
    cli_app: typer.Typer, known_log: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = _report(cli_app, "--events", str(known_log), "--out", str(tmp_path / "o"), *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_unsafe_rule_in_a_segment_file_exits_2(
    cli_app: typer.Typer, known_log: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "segments.yaml"
    rules.write_text(
        "version: 1\nsegments:\n  - {name: bad, rule: \"().__class__ == 'x'\"}\n"
        "  - {name: rest, default: true}\n",
        encoding="utf-8",
    )
    result = _report(
        cli_app, "--events", str(known_log), "--out", str(tmp_path / "o"), "--segments", str(rules)
    )
    assert result.exit_code == 2, result.output
    assert "segment rule 'bad'" in result.output and "Traceback" not in result.output


def test_an_unsafe_filter_exits_2_without_a_traceback_from_the_shell(
    known_log: Path, tmp_path: Path
) -> None:
    out = str(tmp_path / "o")
    unsafe = "__import__('os').system('echo hi')"
    command = [
        sys.executable,
        "-m",
        "returnrisk",
        "report",
        "--events",
        str(known_log),
        "--out",
        out,
        "--filter",
        unsafe,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "function calls are not allowed" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout and "hi\n" not in done.stdout
    assert not (tmp_path / "o").exists()


def test_nothing_selected_exits_1(cli_app: typer.Typer, known_log: Path, tmp_path: Path) -> None:
    result = _report(
        cli_app, "--events", str(known_log), "--out", str(tmp_path / "o"), "--filter", "false"
    )
    assert result.exit_code == 1, result.output
    assert "nothing to report" in result.output


def test_period_filter_and_custom_segments(
    cli_app: typer.Typer, known_log: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "segments.yaml"
    rules.write_text(
        "version: 1\nsegments:\n"
        "  - {name: de_premium, rule: \"country == 'DE' and loyalty_tier in ['gold', 'vip']\"}\n"
        "  - {name: everyone, default: true}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = _report(
        cli_app,
        "--events",
        str(known_log),
        "--out",
        str(out),
        "--segments",
        str(rules),
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-04",
        "--filter",
        "country in ['DE', 'FR']",
    )
    assert result.exit_code == 0, result.output
    rates = pd.read_csv(out / "rates_segment.csv").set_index("group")
    assert list(rates.index) == ["(all)", "de_premium", "everyone"]
    assert rates.loc["(all)", "orders"] == 2  # o2 (Jan 11) is after --to
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["selection"]["orders_to"] == "2025-01-04"
    assert summary["selection"]["filter"] == "country in ['DE', 'FR']"


def test_help_reads_like_a_manual(cli_app: typer.Typer) -> None:
    result = CliRunner().invoke(cli_app, ["report", "--help"])
    assert result.exit_code == 0
    for option in (
        "--events",
        "--out",
        "--segments",
        "--segment-by",
        "--filter",
        "--from",
        "--to",
        "--attribution-window-days",
        "--offers",
    ):
        assert option in result.output


def test_offers_measure_each_rule_against_its_holdout(cli_app: typer.Typer, tmp_path: Path) -> None:
    """A planted effect: treated orders come back at 10 %, held-out ones at 30 %."""
    events, offers = offer_log(1, treated_rate=0.10, held_out_rate=0.30)
    log = write_log(tmp_path / "log.jsonl", events)
    offers_file = tmp_path / "offers.jsonl"
    records = offers + offers[:10]  # ten offers delivered twice
    offers_file.write_text("".join(o.model_dump_json() + "\n" for o in records), "utf-8")
    out = tmp_path / "out"
    result = _report(cli_app, "--events", str(log), "--out", str(out), "--offers", str(offers_file))
    assert result.exit_code == 0, result.output
    assert f"offers: {len(offers):,} offers (10 repeated records skipped, 0 for" in result.output
    assert "r1 return_rate: -" in result.output
    names = {p.name for p in out.iterdir()}
    assert {f"offers{t}.csv" for t in ("", "_return_rate", "_returned_value")} <= names
    assert "offers_repurchase_rate.csv" in names
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    flagged = {(row["rule"], row["metric"]): row for row in summary["offers"]["flagged"]}
    planted = flagged[("r1", "return_rate")]
    assert planted["difference_ci_low"] <= -0.20 <= planted["difference_ci_high"]
    assert summary["offers"]["counts"]["duplicate_records"] == 10
    assert "offers: flagged" in summary["definitions"]
    rates = pd.read_csv(out / "offers_return_rate.csv").set_index("rule")
    assert rates.loc["r1", "orders"] == len(offers)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="offers"' in page and "offers_return_rate.csv" in page


def test_a_bad_offers_line_exits_2_naming_file_and_line(
    cli_app: typer.Typer, known_log: Path, tmp_path: Path
) -> None:
    _, offers = offer_log(2, customers=2)
    offers_file = tmp_path / "offers.jsonl"
    offers_file.write_text(offers[0].model_dump_json() + "\n{not json\n", encoding="utf-8")
    result = _report(
        cli_app,
        *("--events", str(known_log), "--out", str(tmp_path / "o"), "--offers", str(offers_file)),
    )
    assert result.exit_code == 2, result.output
    assert f"{offers_file}: line 2: not an offer record" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()
