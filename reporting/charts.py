"""Headless matplotlib charts embedded in self-contained HTML reports (models and analytics)."""

from __future__ import annotations

import base64
import io
from typing import Any

DPI = 90


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display needed), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def data_uri(figure: Any) -> str:
    """The figure as a `data:image/png;base64,...` URI; closes the figure."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    pyplot().close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
