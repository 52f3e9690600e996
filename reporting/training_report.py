"""`report.html`: a version's metrics as one self-contained page (PNG charts inlined).

Written next to `metrics.json` for people: is the data fit to learn from (data health: label
rate per month, segment shares, missing features, heavy customers, segments too small to
judge), is the model better than the baselines and than one global model, overall and in each
segment, are its probabilities honest (reliability curves), what drives it (feature
importance), and which segments fell back to the global model. Charts are
matplotlib PNGs embedded as base64, so the file can be mailed or attached to a ticket.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from reporting.charts import data_uri, pyplot

logger = logging.getLogger(__name__)

COLOURS = {
    "model": "#1f77b4",
    "segment_rate": "#ff7f0e",
    "customer_rate": "#2ca02c",
    "global_model": "#9467bd",
}
LABELS = {
    "model": "model",
    "segment_rate": "baseline: segment rate",
    "customer_rate": "baseline: customer rate",
    "global_model": "baseline: one global model",
}
SCORERS = tuple(COLOURS)


def _png(figure: Any) -> str:
    return f'<img alt="chart" src="{data_uri(figure)}">'


def _roc_chart(label: npt.NDArray[Any], scores: dict[str, npt.NDArray[np.float64]]) -> str:
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = pyplot()
    figure, axes = plt.subplots(figsize=(5, 4.5))
    for name, score in scores.items():
        fpr, tpr, _ = roc_curve(label, score)
        auc = roc_auc_score(label, score)
        axes.plot(fpr, tpr, color=COLOURS[name], label=f"{LABELS[name]} (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], color="#999", linestyle=":")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, validation")
    axes.legend(loc="lower right", fontsize=8)
    return _png(figure)


def _reliability_chart(curves: dict[str, list[dict[str, float]]]) -> str:
    plt = pyplot()
    columns = 4
    rows = (len(curves) + columns - 1) // columns
    figure, grid = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.0 * rows), squeeze=False)
    for axes, (name, points) in zip(grid.flat, curves.items(), strict=False):
        predicted = [p["predicted"] for p in points]
        observed = [p["observed"] for p in points]
        sizes = [
            max(8.0, 400 * p["count"] / max(1, sum(q["count"] for q in points))) for p in points
        ]
        axes.plot([0, 1], [0, 1], color="#999", linestyle=":")
        axes.plot(predicted, observed, color=COLOURS["model"], marker=None)
        axes.scatter(predicted, observed, s=sizes, color=COLOURS["model"], alpha=0.6)
        axes.set(xlim=(0, 1), ylim=(0, 1), title=name, xlabel="predicted", ylabel="observed")
    for axes in list(grid.flat)[len(curves) :]:
        axes.axis("off")
    figure.tight_layout()
    return _png(figure)


def _auc_chart(segments: dict[str, Any]) -> str:
    plt = pyplot()
    names = [n for n, m in segments.items() if m["auc"] is not None]
    figure, axes = plt.subplots(figsize=(max(5.0, 1.1 * len(names)), 3.5))
    width = 0.8 / len(SCORERS)
    x = np.arange(len(names))
    for offset, scorer in enumerate(SCORERS):
        values = [
            (segments[n]["auc"] if scorer == "model" else segments[n]["baselines"][scorer]["auc"])
            or 0.5
            for n in names
        ]
        axes.bar(
            x + (offset - (len(SCORERS) - 1) / 2) * width,
            values,
            width,
            color=COLOURS[scorer],
            label=LABELS[scorer],
        )
    axes.set_xticks(x, names, rotation=20)
    axes.set(ylim=(0.4, 1.0), ylabel="ROC-AUC", title="AUC per segment, validation")
    axes.axhline(0.5, color="#999", linestyle=":")
    axes.legend(fontsize=8)
    return _png(figure)


def _importance_chart(title: str, importance: Sequence[Sequence[Any]]) -> str:
    plt = pyplot()
    top = list(importance)[:15][::-1]
    figure, axes = plt.subplots(figsize=(6, 0.28 * len(top) + 1))
    axes.barh(
        [str(name) for name, _ in top], [float(gain) for _, gain in top], color=COLOURS["model"]
    )
    axes.set(title=title, xlabel="total split gain")
    axes.tick_params(axis="y", labelsize=8)
    return _png(figure)


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def _verdict(beats: object) -> str:
    if beats is None:
        return "is the global model"
    return "yes" if beats else "NO"


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


def _month_chart(by_month: dict[str, dict[str, Any]]) -> str:
    plt = pyplot()
    months = list(by_month)
    figure, axes = plt.subplots(figsize=(max(5.0, 0.45 * len(months)), 3.2))
    axes.bar(months, [by_month[m]["label_rate"] for m in months], color=COLOURS["model"])
    axes.set(ylabel="return rate", title="Label rate per month of order")
    axes.tick_params(axis="x", rotation=60, labelsize=7)
    return _png(figure)


def _warnings(warnings: Sequence[str]) -> str:
    items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
    return f'<ul class="warning">{items}</ul>' if items else ""


def _data_health(health: dict[str, Any]) -> str:
    months = [(m, e["orders"], e["label_rate"]) for m, e in health["label_rate_by_month"].items()]
    segments = [
        (name, e["orders"], f"{e['share']:.1%}", e["validation_orders"])
        for name, e in health["segments"].items()
    ]
    missing = [(name, f"{share:.1%}") for name, share in health["most_missing"]]
    return f"""<h2>Data health</h2>
{_warnings(health["warnings"])}
<p class="note">{health["orders"]} labelled orders; customers with over 1,000 orders:
<b>{health["customers_over_1000_orders"]}</b>. Every feature's missing share is in
<code>metrics.json</code> (<code>data_health.feature_missing</code>).</p>
{_month_chart(health["label_rate_by_month"])}
{_table(("month", "orders", "label rate"), months)}
{_table(("segment", "orders", "share", "validation orders"), segments)}
{_table(("most missing feature", "missing"), missing)}
"""


def _metrics_table(metrics: dict[str, Any]) -> str:
    head = (
        "<tr><th>segment</th><th>n</th><th>positives</th><th>model</th><th>fallback</th>"
        "<th>calibration</th><th>AUC</th><th>AUC seg. rate</th><th>AUC cust. rate</th>"
        "<th>AUC global model</th><th>beats global model</th><th>PR-AUC</th><th>log loss</th>"
        "<th>Brier</th><th>ECE</th><th>prec. top 10 %</th><th>lift top 10 %</th></tr>"
    )
    rows = []
    overall = {
        **metrics["overall"],
        "baselines": metrics["baselines"],
        "beats_global_model": metrics["beats_global_model"],
    }
    entries = [("overall", overall)]
    entries += list(metrics["segments"].items())
    for name, m in entries:
        cells = [
            name,
            m["n"],
            m["positives"],
            m.get("model_file", "per segment"),
            "yes: " + str(m.get("fallback_reason")) if m.get("fallback") else "no",
            m.get("calibration", "per segment"),
            m["auc"],
            m["baselines"]["segment_rate"]["auc"],
            m["baselines"]["customer_rate"]["auc"],
            m["baselines"]["global_model"]["auc"],
            _verdict(m.get("beats_global_model")),
            m["pr_auc"],
            m["logloss"],
            m["brier"],
            m["ece"],
            m["precision_top10"],
            m["lift_top10"],
        ]
        rows.append("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { margin: 0.5em 1em 0.5em 0; vertical-align: top; }
.note { color: #555; max-width: 60em; }
.warning { color: #a40000; font-weight: bold; }
"""


def render_report(
    metrics: dict[str, Any],
    label: npt.NDArray[Any],
    scores: dict[str, npt.NDArray[np.float64]],
) -> str:
    """The page for one version; `scores` are the four scorers on the validation rows."""
    overall = metrics["overall"]
    curves = {"overall": overall["reliability"]}
    curves.update({n: m["reliability"] for n, m in metrics["segments"].items() if m["n"]})
    importance = [
        _importance_chart(f"feature importance: {name}", gains)
        for name, gains in metrics["feature_importance"].items()
    ]
    window = metrics["validation"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>returnrisk model {html.escape(metrics["version"])}</title><style>{STYLE}</style></head>
<body>
<h1>returnrisk model {html.escape(metrics["version"])}</h1>
<p class="note">Validation: {window["rows"]} orders placed {html.escape(window["from"])} to
{html.escape(window["to"])}, newer than every row the models and calibrators were fitted on.
Baselines on the same rows: <b>segment rate</b>, the segment's return rate among training
orders; <b>customer rate</b>, the
{html.escape(metrics["baseline_definitions"]["customer_rate"])}; and <b>one global model</b>,
{html.escape(metrics["baseline_definitions"]["global_model"])}: a segment's own model is worth
keeping only where it beats it. ECE uses 10 equal-width probability bins.</p>
{_warnings(metrics["data_health"]["warnings"])}
<h2>Overall: AUC {_cell(overall["auc"])} (global model
{_cell(metrics["baselines"]["global_model"]["auc"])}), ECE {_cell(overall["ece"])}</h2>
{_metrics_table(metrics)}
{_roc_chart(label, scores)}
{_auc_chart(metrics["segments"])}
<h2>Reliability (calibrated probability against observed return rate)</h2>
{_reliability_chart(curves)}
{_data_health(metrics["data_health"])}
<h2>Feature importance</h2>
{"".join(importance)}
</body></html>
"""
