"""What a produce run did, every line accounted for: nothing is dropped without a count."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from producer.lines import MalformedLine


@dataclass
class ProduceReport:
    """Counts of a produce run; `sent` and `sent_invalid` count records the broker acknowledged."""

    lines_read: int = 0
    blank_lines: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    sent_invalid: Counter[str] = field(default_factory=Counter)
    malformed: list[MalformedLine] = field(default_factory=list)
    failed: int = 0
    first_failure: str | None = None
    elapsed_s: float = 0.0

    @property
    def delivered(self) -> int:
        return self.sent.total() + self.sent_invalid.total()

    def count_delivered(self, topic: str, valid: int, invalid: int) -> None:
        if valid:
            self.sent[topic] += valid
        if invalid:
            self.sent_invalid[topic] += invalid

    def count_failed(self, records: int, first_line: int, reason: str) -> None:
        self.failed += records
        if self.first_failure is None:
            self.first_failure = f"from line {first_line}: {reason}"
