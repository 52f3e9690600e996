"""Segment analytics: who returns, why, which marketing drives it and what offers change
(`returnrisk report`).

Where things are:
- `dataset`: an event log replayed into orders, return lines and received lines, each order
  with its segment (the models' rules on its point-in-time features) and attributed touch.
- `segmentation`: segment rules, `--filter` and `--segment-by`, through `models.segments`.
- `attribution`: last touch (click > open > impression) within a window before an order.
- `rates`: return rates, frequency, reasons, return types, timing, condition, weekly trend.
- `stats`: Wilson intervals, Mantel-Haenszel lift with a customer design effect, BH, and a
  treated - held-out difference with the same design effect.
- `marketing`: channel and campaign lift against comparable untouched orders, and flags.
- `offers` (with `--offers`): each offer rule's treated orders against its random holdout:
  return rate, returned value and repurchase, with flags.
- `definitions`: what every number means, in words, for the page and summary.json.
- `sections` / `charts` / `html`: the report's content, its PNG charts and the HTML page.
- `report`: one run, from the log to report.html, one CSV per table and summary.json.
"""
