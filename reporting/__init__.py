"""Self-contained HTML reports with inlined charts.

- `charts`: headless matplotlib charts as data URIs (used by `analytics` too).
- `training_report`: `report.html`, a model version's metrics as one page.
"""
