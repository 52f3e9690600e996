"""report.html is one self-contained file and shows a sample size on every table row."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from analytics.html import format_value, render_table
from analytics.sections import ReportTable

NUMBER = re.compile(r"^\d{1,3}(,\d{3})*$")


class _Page(HTMLParser):
    """Collects tags, image sources and tables (header cells and rows of cell texts)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.sources: list[str] = []
        self.tables: list[list[list[tuple[str, str]]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "img":
            self.sources.append(dict(attrs).get("src") or "")
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = [tag]

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append((self._cell[0], "".join(self._cell[1:]).strip()))
            self._cell = None


@pytest.fixture(scope="module")
def page(report_dir: Path) -> tuple[str, _Page]:
    text = (report_dir / "report.html").read_text(encoding="utf-8")
    parser = _Page()
    parser.feed(text)
    return text, parser


def test_the_page_is_self_contained(page: tuple[str, _Page]) -> None:
    text, parsed = page
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text, re.IGNORECASE)
    assert not parsed.tags & {"script", "link", "iframe", "object", "embed"}
    assert "url(" not in text
    assert len(parsed.sources) >= 8  # rate bars, trends, days to return, campaign lift
    for source in parsed.sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_table_row_shows_its_sample_size(page: tuple[str, _Page]) -> None:
    _, parsed = page
    assert len(parsed.tables) >= 20
    rows_checked = 0
    for table in parsed.tables:
        header, *rows = table
        texts = [text for _, text in header]
        sizes = [i for i, text in enumerate(texts) if text.endswith("(n)") or text == "n"]
        assert sizes, f"no sample-size column in a table headed {texts}"
        for row in rows:
            cell = row[sizes[0]][1]
            assert NUMBER.match(cell), (texts, row)
            rows_checked += 1
    assert rows_checked > 100


def test_the_page_defines_every_rate(page: tuple[str, _Page]) -> None:
    text, _ = page
    for term in (
        "order_return_rate",
        "item_return_rate",
        "value_return_rate",
        "returns_per_customer",
        "returning_customer_share",
        "lift",
        "flagged",
        "service and end-of-life returns",
    ):
        assert f"<dt>{term}</dt>" in text


@pytest.mark.parametrize(
    ("column", "value", "text"),
    [
        ("order_return_rate", 0.37841, "37.8 %"),
        ("lift", 1.234, "1.23×"),
        ("p_value", 0.0004, "<0.001"),
        ("q_value", 0.0312, "0.031"),
        ("orders", 12345, "12,345"),
        ("value_bought", 1234.5, "1,234.50"),
        ("days_median", 6.17, "6.2"),
        ("flagged", True, "yes"),
        ("lift", float("nan"), "–"),
        ("group", "(all)", "(all)"),
    ],
)
def test_cells_are_formatted_by_column(column: str, value: object, text: str) -> None:
    assert format_value(column, value) == text


def test_intervals_fold_into_their_cell_and_flagged_rows_stand_out() -> None:
    frame = pd.DataFrame(
        {
            "name": ["a"],
            "orders": [120],
            "return_rate": [0.5],
            "return_rate_ci_low": [0.41],
            "return_rate_ci_high": [0.59],
            "lift": [1.5],
            "lift_low": [1.2],
            "lift_high": [1.9],
            "flagged": [True],
        }
    )
    rendered = render_table(ReportTable("t", "T", frame, "orders"))
    assert "50.0 % [41.0, 59.0 %]" in rendered
    assert "1.50× [1.20, 1.90×]" in rendered
    assert '<tr class="flagged">' in rendered
    assert "orders (n)" in rendered and "ci low" not in rendered
