"""`backtest.html`: a backtest as one self-contained page (PNG charts inlined), one policy or
two side by side."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from reporting.charts import data_uri, pyplot

COLUMNS = {
    "rules": (
        "orders", "requests", "offers_made", "offers_held_out", "offer_cost",
        "received_worn", "received_not_received",
        "treated_returned_share", "held_out_returned_share",
        "treated_repurchased_share", "held_out_repurchased_share", "net", "measured_effect",
        "net_with_measured_effect",
    ),
    "resolutions": (
        "requests", "instant_credits", "received_as_new", "received_worn", "received_damaged",
        "received_not_received", "credit_lost", "protected", "net",
    ),
    "segments": (
        "orders", "requests", "offers_made", "offers_held_out", "instant_credits",
        "offer_cost", "credit_lost", "protected", "net",
    ),
    "total": (
        "orders", "requests", "offers_made", "offers_held_out", "instant_credits",
        "offer_cost", "credit_lost", "protected", "net", "measured_effect",
        "net_with_measured_effect",
    ),
}  # fmt: skip
TITLES = {
    "rules": "Offer rules: touched, made, held out, and what followed",
    "resolutions": "Return requests by recommended resolution",
    "segments": "By segment",
    "total": "In total",
}
EXPLAINED = (
    "Money out: the offers made (their credit or bonus value, or the fixed cost in the "
    "policy's economics) and the credit lost to instant store credit (credited items that came "
    "back worn, damaged, with parts missing, or never, times the resale loss of that "
    "condition). Money protected: that same loss on the requests the policy sent through "
    "inspection instead. Net = protected - offer cost - credit lost. Held-out customers were "
    "not made the offer (no cost); comparing their returns and repurchases (within 90 days) "
    "with the treated is the offer's measured effect; priced (returned value times the share "
    "a return loses, plus the cost per return, and repurchases times the margin on an order "
    "like the treated ones, per treated decision) it is shown beside the net, as an estimate, "
    "where both sides have 30 decisions or more. Rates are shares of the decisions with "
    "a known outcome; the CSV files hold every column."
)


def _format(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.3f}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, float | int):
        return f"{value:,.0f}" if isinstance(value, int) else f"{value:,.2f}"
    return html.escape(str(value))


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(
        f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in ("policy", "group", *columns)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td>{_format(row.get(c))}</td>" for c in ("policy", "group", *columns))
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _net_chart(rows: Sequence[dict[str, Any]], title: str) -> str:
    """Net money by group, a bar per policy."""
    plt = pyplot()
    groups = list(dict.fromkeys(row["group"] for row in rows))
    policies = list(dict.fromkeys(row["policy"] for row in rows))
    width = 0.8 / max(1, len(policies))
    figure, axes = plt.subplots(figsize=(max(5.0, 0.9 * len(groups) + 2), 3.6))
    for i, policy in enumerate(policies):
        net = {row["group"]: row["net"] for row in rows if row["policy"] == policy}
        axes.bar(
            [g + i * width for g in range(len(groups))],
            [net.get(group, 0.0) for group in groups],
            width=width,
            label=policy,
        )
    axes.axhline(0, color="#666", linewidth=0.8)
    axes.set_xticks([g + width * (len(policies) - 1) / 2 for g in range(len(groups))])
    axes.set_xticklabels(groups, rotation=30, ha="right", fontsize=8)
    axes.set(ylabel="net (shop currency)", title=title)
    axes.legend(fontsize=8)
    return f'<img alt="{html.escape(title)}" src="{data_uri(figure)}">'


def render(summary: dict[str, Any]) -> str:
    tables: dict[str, list[dict[str, Any]]] = summary["tables"]
    policies = ", ".join(
        f"{html.escape(name)} ({html.escape(source)})"
        for name, source in summary["policies"].items()
    )
    sections = []
    for table, columns in COLUMNS.items():
        rows = tables[table]
        chart = _net_chart(rows, f"net by {table.rstrip('s')}") if rows and table != "total" else ""
        sections.append(f"<h2>{TITLES[table]}</h2>{chart}{_table(rows, columns)}")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>returnrisk policy backtest</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:auto}}
table{{border-collapse:collapse;font-size:13px;margin:8px 0 24px}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}
th{{background:#f3f3f3}}</style></head><body>
<h1>Policy backtest</h1>
<p>Model {html.escape(summary["model_version"])}; decisions on events from
{html.escape(summary["from"])} to {html.escape(summary["to"])}; outcomes read up to the log's
end, {html.escape(summary["log_end"])}. Policies: {policies}.</p>
<p>{html.escape(EXPLAINED)}</p>
{"".join(sections)}
</body></html>
"""
