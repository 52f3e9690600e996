"""What one bench run uses: sizes, and uniquely named topics, groups and Redis keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from streams.settings import TopicSettings


@dataclass(frozen=True, slots=True)
class BenchConfig:
    events: int = 100_000
    """Events consumed by each of (a), (b) and (c)."""
    customers: int = 3_000
    latency_seconds: float = 10.0
    """How long the fixed-load latency phase offers events to the warm worker of (c)."""
    load_share: float = 0.5
    """Offered load of the latency phase, as a share of (c)'s measured throughput."""
    partitions: int = 4
    batch_size: int = 500
    seed: int = 7
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def latency_events(self) -> int:
        """Size of the extra tail simulated for the latency phase (upper bound on what it uses).

        It bounds the phase: 25,000 events last 10 s at up to 2,500 events/s, and about 4 s at
        6,000. A longer tail would need a longer simulation, which changes the measured events
        too (the simulator's events depend on its horizon), and with them the trained model:
        figures would stop comparing with earlier runs."""
        return max(500, self.events // 4)

    def topics(self) -> TopicSettings:
        """Input and output topics of the worker run (c), named `<default>-bench-<run>`."""
        return TopicSettings.model_validate(
            {n: f"{f.default}-bench-{self.run}" for n, f in TopicSettings.model_fields.items()}
        )

    def forward_topic(self, phase: str) -> str:
        """Output topic of a forwarding loop, (a) or (b)."""
        return f"bench-{phase}-forward-{self.run}"

    def group(self, phase: str) -> str:
        return f"returnrisk-bench-{phase}-{self.run}"

    @property
    def redis_prefix(self) -> str:
        return f"rr:bench:{self.run}"
