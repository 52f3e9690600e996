"""report.html: the sections as one self-contained page (inline CSS, PNG data URIs, no links
out), so it opens offline, in a mail or a ticket, exactly as it was generated.

Cells are formatted from the column name (rates as percentages, lifts as ratios, counts
with thousands separators); a rate with a `_ci_low`/`_ci_high` (or `_low`/`_high`) pair shows
its interval in the same cell. The numbers are those of the CSV files, rounded for reading.
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from analytics.sections import Chart, ReportTable, Section

logger = logging.getLogger(__name__)

TEXT_COLUMNS = frozenset(
    {"group", "name", "segment", "channel", "currency", "level", "week", "what"}
    | {"rule", "offer_types", "why_not_tested"}
)
PERCENT_SUFFIXES = ("_rate", "_share", "_ci_low", "_ci_high")
RATIO_COLUMNS = frozenset({"lift", "lift_low", "lift_high"})
P_COLUMNS = frozenset({"p_value", "q_value"})
MONEY_COLUMNS = frozenset({"value_bought", "value_returned"})
MONEY_SUFFIXES = ("_returned_value",)
RATE_DIFFERENCE_SUFFIX = "_rate_difference"
"""A difference of two rates, shown in signed percentage points."""
VALUE_DIFFERENCE_SUFFIX = "_value_difference"

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1500px; }
h2 { border-bottom: 2px solid #1f77b4; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.8em; margin: 0.4em 0 1.2em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; white-space: normal; vertical-align: bottom; max-width: 9em; }
th.text, td.text { text-align: left; }
tr.flagged td { background: #fde0dd; }
td.top { font-weight: bold; }
.scroll { overflow-x: auto; }
.note { color: #555; max-width: 70em; }
.headline { font-size: 1.1em; }
img { margin: 0.5em 0; max-width: 100%; }
dt { font-weight: bold; margin-top: 0.5em; }
dd { margin-left: 1.5em; max-width: 70em; }
"""


def _interval_columns(columns: Sequence[str], column: str) -> tuple[str, str] | None:
    for low, high in (
        (f"{column}_ci_low", f"{column}_ci_high"),
        (f"{column}_low", f"{column}_high"),
    ):
        if low in columns and high in columns:
            return low, high
    return None


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def format_value(column: str, value: object) -> str:
    """One cell as text, by what its column holds."""
    if _missing(value):
        return "–"
    if isinstance(value, bool) or column in ("tested", "flagged"):
        return "yes" if value else "no"
    if column in TEXT_COLUMNS or isinstance(value, str):
        return str(value)
    number = float(value)  # type: ignore[arg-type]
    if column in RATIO_COLUMNS:
        return f"{number:.2f}×"
    if column in P_COLUMNS:
        return "<0.001" if number < 0.001 else f"{number:.3f}"
    if column.endswith(RATE_DIFFERENCE_SUFFIX):
        return f"{number * 100:+.1f} pp"
    if column.endswith(VALUE_DIFFERENCE_SUFFIX):
        return f"{number:+,.2f}"
    if column.endswith(PERCENT_SUFFIXES) or column == "comparable_no_touch_rate":
        return f"{number:.1%}".replace("%", " %")
    if column.startswith("days_"):
        return f"{number:.1f}"
    if column == "design_effect":
        return f"{number:.2f}"
    if column in MONEY_COLUMNS or column.endswith(MONEY_SUFFIXES):
        return f"{number:,.2f}"
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.3f}"


def _cell(row: Mapping[str, Any], column: str, columns: Sequence[str]) -> str:
    text = format_value(column, row[column])
    interval = _interval_columns(columns, column)
    if interval is not None and not _missing(row[column]):
        low, high = (format_value(column, row[c]) for c in interval)
        text = f"{text} [{low.removesuffix(' pp').rstrip(' %×')}, {high}]"
    return text


def _header(column: str, table: ReportTable) -> str:
    label = column.replace("_", " ")
    if column == table.n_column:
        label += " (n)"
    kind = ' class="text"' if column in TEXT_COLUMNS else ""
    return f"<th{kind}>{html.escape(label)}</th>"


def render_table(table: ReportTable) -> str:
    """The table as HTML; interval columns are folded into the cell they belong to."""
    columns = list(table.frame.columns)
    hidden = {c for col in columns if (pair := _interval_columns(columns, col)) for c in pair}
    shown = [c for c in columns if c not in hidden]
    share_columns = [c for c in shown if c.endswith("_share")]
    rows = []
    for row in table.frame.to_dict("records"):
        top = set()
        if table.bold_top and share_columns:
            ranked = sorted(
                (c for c in share_columns if not _missing(row[c])), key=lambda c: -row[c]
            )
            top = set(ranked[: table.bold_top])
        cells = []
        for column in shown:
            classes = ["text"] if column in TEXT_COLUMNS else []
            if column in top:
                classes.append("top")
            attribute = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attribute}>{html.escape(_cell(row, column, columns))}</td>")
        flagged = ' class="flagged"' if row.get("flagged") is True else ""
        rows.append(f"<tr{flagged}>{''.join(cells)}</tr>")
    head = "".join(_header(c, table) for c in shown)
    note = f'<p class="note">{html.escape(table.note)}</p>' if table.note else ""
    return (
        f"<h3>{html.escape(table.title)} <small>({html.escape(table.name)}.csv)</small></h3>"
        f'{note}<div class="scroll"><table><tr>{head}</tr>{"".join(rows)}</table></div>'
    )


def _chart(chart: Chart) -> str:
    return (
        f'<figure><img alt="{html.escape(chart.title)}" src="{chart.uri}">'
        f'<figcaption class="note">data: {html.escape(chart.data)}</figcaption></figure>'
    )


def _section(section: Section) -> str:
    parts = [
        f'<h2 id="{section.anchor}">{html.escape(section.title)}</h2>',
        f'<p class="note">{html.escape(section.intro)}</p>',
    ]
    for item in section.items:
        if isinstance(item, Chart):
            parts.append(_chart(item))
        elif item.in_html:
            parts.append(render_table(item))
    return "\n".join(parts)


def _definition_list(definitions: Mapping[str, str]) -> str:
    items = "".join(
        f"<dt>{html.escape(term)}</dt><dd>{html.escape(text)}</dd>"
        for term, text in definitions.items()
    )
    return f"<dl>{items}</dl>"


def _counts_table(counts: Mapping[str, object]) -> str:
    """What happened to the log's lines and events: every count, nothing else."""
    rows = "".join(
        f'<tr><td class="text">{html.escape(k.replace("_", " "))}</td>'
        f"<td>{html.escape(format_value(k, v))}</td></tr>"
        for k, v in counts.items()
        if isinstance(v, int)
    )
    return f'<table><tr><th class="text">what</th><th>n</th></tr>{rows}</table>'


def _offers_headline(offers: Mapping[str, Any] | None) -> str:
    """One line on the offer rules when the report has an offers section (else nothing, so a
    report without --offers is the page it was)."""
    if offers is None:
        return ""
    flagged = len(offers["flagged"])
    return (
        f'<p class="headline">Offers: {len(offers["rules"])} rules against their holdout, '
        f"{offers['counts']['measured_orders']:,} orders measured; {flagged} "
        f"{'difference' if flagged == 1 else 'differences'} flagged "
        '(<a href="#offers">details</a>).</p>\n'
    )


def render_page(sections: Sequence[Section], summary: Mapping[str, Any]) -> str:
    """The whole page: what was read, the headline, each section, definitions, data counts."""
    selection, overall = summary["selection"], summary["overall"]
    flagged = summary["flagged"]
    flagged_text = (
        f'{len(flagged)} rows flagged for significant excess returns (<a href="#flagged">list</a>).'
        if flagged
        else "Nothing flagged: no channel or campaign shows significant excess returns."
    )
    toc = " · ".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections)
    log = summary["log"]
    facts = (
        f"events: {html.escape(str(summary['events_file']))} ({html.escape(log['first_event'])}"
        f" to {html.escape(log['last_event'])}); orders placed "
        f"{html.escape(str(selection['orders_from']))} to "
        f"{html.escape(str(selection['orders_to']))}; filter: "
        f"<code>{html.escape(str(selection['filter'] or 'none'))}</code>; segments: "
        f"{html.escape(str(selection['segments']))}; attribution window: "
        f"{selection['attribution_window_days']:g} days"
    )
    headline = (
        f"{overall['orders']:,} orders from {overall['customers']:,} customers. "
        f"{format_value('order_return_rate', overall['order_return_rate'])} of orders "
        f"(n={overall['orders']:,}) and "
        f"{format_value('item_return_rate', overall['item_return_rate'])} of items "
        f"(n={overall['items_bought']:,}) came back (commercial returns)."
    )
    offers_line = _offers_headline(summary.get("offers"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>returnrisk segment analytics</title><style>{STYLE}</style></head>
<body>
<h1>returnrisk segment analytics</h1>
<p class="note">{facts}</p>
<p class="headline">{headline}</p>
<p class="headline">{flagged_text}</p>
{offers_line}<p>{toc} · <a href="#definitions">Definitions</a> · <a href="#data">Data</a></p>
{"".join(_section(s) for s in sections)}
<h2 id="definitions">Definitions</h2>
{_definition_list(summary["definitions"])}
<h2 id="data">Data</h2>
{_counts_table(summary["log"])}
</body></html>
"""
