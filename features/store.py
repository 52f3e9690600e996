"""Where customer state is kept: a two-call protocol, and its in-memory implementation.

The stream uses `RedisFeatureStore` (features/redis_store.py); the offline replay and tests use
`MemoryFeatureStore`. Both hold the same encoded bytes, so a test suite run against both proves
the Redis path adds nothing and loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from features.codec import decode_state, encode_state
from features.state import CustomerState


@dataclass(slots=True)
class Stored:
    """A customer's state with the version it was read at (for compare-and-set writes)."""

    state: CustomerState
    version: int
    memo: bytes = b""
    """Opaque bytes kept and written with the state (the stream's alert and offer memory)."""
    scored: bytes = b""
    """The rows of the customer's recent scores (`features.redelivery`), written with the
    state."""


class FeatureStore(Protocol):
    def load(self, customer_ids: Iterable[str]) -> dict[str, Stored]:
        """States for a batch of customers in one round trip; unknown customers start empty."""
        ...

    def save(self, changed: Mapping[str, Stored]) -> set[str]:
        """Write changed states in one round trip, each only if nobody wrote it since it was
        loaded; returns the customers whose write lost that race (reload and apply again)."""
        ...


class MemoryFeatureStore:
    """`FeatureStore` in a dict of encoded states: the offline replay's store."""

    def __init__(self) -> None:
        self._blobs: dict[str, tuple[int, bytes, bytes, bytes]] = {}

    def load(self, customer_ids: Iterable[str]) -> dict[str, Stored]:
        loaded = {}
        for customer in customer_ids:
            version, blob, memo, scored = self._blobs.get(customer, (0, b"", b"", b""))
            state = decode_state(blob) if blob else CustomerState()
            loaded[customer] = Stored(state, version, memo, scored)
        return loaded

    def save(self, changed: Mapping[str, Stored]) -> set[str]:
        conflicts = set()
        for customer, stored in changed.items():
            version = self._blobs.get(customer, (0,))[0]
            if version != stored.version:
                conflicts.add(customer)
                continue
            state = encode_state(stored.state)
            self._blobs[customer] = (version + 1, state, stored.memo, stored.scored)
            stored.version = version + 1
        return conflicts

    def encoded(self, customer_id: str) -> bytes | None:
        entry = self._blobs.get(customer_id)
        return entry[1] if entry else None
