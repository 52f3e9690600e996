"""The files a report writes carry the same numbers, and the known log's answers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analytics.dataset import Selection
from analytics.report import EmptySelectionError, build_report, write_report
from analytics.segmentation import build_plan
from tests.analytics.logs import known_events, write_log


@pytest.fixture(scope="module")
def known_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("known")
    log = write_log(folder / "known.jsonl", known_events())
    report = build_report(log, build_plan(None, None, ["country"]), Selection())
    write_report(report, folder / "out")
    return folder / "out"


def test_every_table_is_a_csv_and_summary_json_lists_them(known_report: Path) -> None:
    summary = json.loads((known_report / "summary.json").read_text(encoding="utf-8"))
    for name, file in summary["tables"].items():
        assert (known_report / file).is_file(), name
    assert {
        "rates_segment",
        "rates_country",
        "rates_customer_type",
        "marketing_campaigns",
        "reasons_segment",
        "condition_country",
        "trend_segment",
        "flagged",
    } <= set(summary["tables"])
    assert (known_report / "report.html").is_file()


def test_the_known_answers_reach_the_files(known_report: Path) -> None:
    summary = json.loads((known_report / "summary.json").read_text(encoding="utf-8"))
    overall = summary["overall"]
    assert (overall["orders"], overall["items_bought"], overall["items_returned"]) == (3, 8, 3)
    assert overall["order_return_rate"] == pytest.approx(2 / 3)
    assert overall["returns_per_customer"] == pytest.approx(1.5)
    assert summary["log"]["requested_items_over_bought"] == 1
    currencies = {row["currency"]: row["value_return_rate"] for row in summary["value_by_currency"]}
    assert currencies == pytest.approx({"EUR": 100 / 160, "GBP": 0.25})
    rates = pd.read_csv(known_report / "rates_country.csv").set_index("group")
    assert rates.loc["DE", "item_return_rate"] == pytest.approx(0.5)
    assert summary["flagged"] == []


def test_summary_and_csv_carry_the_same_numbers(report_dir: Path) -> None:
    summary = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    rates = pd.read_csv(report_dir / "rates_segment.csv").set_index("group")
    for column, value in summary["overall"].items():
        if column != "group":
            assert rates.loc["(all)", column] == pytest.approx(value)
    for segment, row in summary["segments"].items():
        assert rates.loc[segment, "orders"] == row["orders"]
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    shown = f"{rates.loc['(all)', 'order_return_rate']:.1%}".replace("%", " %")
    assert shown in html


def test_marketing_csvs_flag_only_tested_rows(report_dir: Path) -> None:
    for name in ("marketing_channels", "marketing_campaigns", "marketing_campaign_segments"):
        table = pd.read_csv(report_dir / f"{name}.csv")
        assert not (table["flagged"] & ~table["tested"]).any()
        assert (table.loc[table["tested"], "comparable_orders"] >= 50).all()


def test_no_selected_order_is_an_error(tmp_path: Path) -> None:
    log = write_log(tmp_path / "known.jsonl", known_events())
    with pytest.raises(EmptySelectionError):
        build_report(log, build_plan(None, "country == 'XX'", []), Selection())
