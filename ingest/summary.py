"""What an import did, in numbers: the summary the command prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class ImportSummary:
    files: int = 0
    rows_read: int = 0
    orders: int = 0
    order_lines: int = 0
    return_requests: int = 0
    return_lines: int = 0
    customers: int = 0
    capped_return_lines: int = 0
    """Return lines whose credited units exceeded the matched order's and were capped."""
    excluded: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    defaulted: Counter[str] = field(default_factory=Counter)
    """Kept lines whose value for a field was missing or unmapped, so took the default."""
    seconds: float = 0.0

    @property
    def events(self) -> int:
        return self.orders + self.return_requests

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0
