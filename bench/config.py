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
    latency_seconds: float = 60.0
    """The latency phase offers events for at least this long..."""
    latency_scores: int = 100_000
    """...and for as long as it takes to offer events that give at least this many scores."""
    load_share: float = 0.5
    """Offered load of the latency phase, as a share of (c)'s measured throughput."""
    partitions: int = 4
    workers: int = 1
    """Worker processes of (c), in one consumer group."""
    batch_size: int = 500
    seed: int = 7
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def horizon_events(self) -> int:
        """Events the measured log's simulation is sized for: `events` and a quarter more.

        Only the first `events` lines are used. The quarter is kept (it was the latency tail
        before that phase got its own log) because the simulator's events depend on its
        horizon: the same horizon keeps the measured log, and the model trained on it, as in
        earlier runs, so (a), (b) and (c) still compare with them."""
        return self.events + max(500, self.events // 4)

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
