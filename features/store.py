"""Where customer state is kept: a two-call protocol, and its in-memory implementation.

The stream uses `RedisFeatureStore` (features/redis_store.py); the offline replay and tests use
`MemoryFeatureStore`. Both hold the same encoded bytes, so a test suite run against both proves
the Redis path adds nothing and loses nothing. A replay that only needs the answers (the policy
backtest) keeps the states as live objects instead (`MemoryFeatureStore(live=True)`): a
million events spend their time on features rather than on encoding and decoding states.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from features.catalog import Catalog, CatalogDelta, CatalogEntry
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


CatalogDeltas = Mapping[str, Sequence[CatalogDelta]]
"""What each customer's applied events add to the catalog (features/catalog.py)."""


class FeatureStore(Protocol):
    def load(self, customer_ids: Iterable[str]) -> dict[str, Stored]:
        """States of customers in one round trip; unknown customers start empty."""
        ...

    def load_batch(
        self, customer_ids: Iterable[str], catalog_keys: Iterable[str]
    ) -> tuple[dict[str, Stored], Catalog]:
        """States for a batch of customers and the catalog entries it reads, in one round
        trip; unknown keys read zero, keys not asked for cannot be read."""
        ...

    def load_catalog(self, keys: Iterable[str]) -> dict[str, CatalogEntry]:
        """More catalog entries (those a batch learns it needs from the states it loaded)."""
        ...

    def save(self, changed: Mapping[str, Stored], deltas: CatalogDeltas | None = None) -> set[str]:
        """Write changed states in one round trip, each only if nobody wrote it since it was
        loaded, with the catalog deltas of the customers written; returns the customers whose
        write lost that race (reload and apply again: their deltas were not written)."""
        ...


class MemoryFeatureStore:
    """`FeatureStore` in a dict of encoded states: the offline replay's store.

    `live`: keep each customer's `Stored` itself, decoded once. A batch changes a loaded state
    in place, which is safe here because `apply_event` changes a state only when it applies an
    event, and a customer with an applied event is always saved (features/batch.py); a
    memory store never loses a compare-and-set race."""

    def __init__(self, grace_days: int = 7, live: bool = False) -> None:
        self._blobs: dict[str, tuple[int, bytes, bytes, bytes]] = {}
        self._live: dict[str, Stored] | None = {} if live else None
        self._catalog = Catalog()
        self._grace_days = grace_days

    def load(self, customer_ids: Iterable[str]) -> dict[str, Stored]:
        return self.load_batch(customer_ids, ())[0]

    def load_batch(
        self, customer_ids: Iterable[str], catalog_keys: Iterable[str]
    ) -> tuple[dict[str, Stored], Catalog]:
        loaded = {}
        for customer in customer_ids:
            if self._live is not None:
                loaded[customer] = self._live.setdefault(customer, Stored(CustomerState(), 0))
                continue
            version, blob, memo, scored = self._blobs.get(customer, (0, b"", b"", b""))
            state = decode_state(blob) if blob else CustomerState()
            loaded[customer] = Stored(state, version, memo, scored)
        return loaded, Catalog(self.load_catalog(catalog_keys), complete=False)

    def load_catalog(self, keys: Iterable[str]) -> dict[str, CatalogEntry]:
        """Copies, through the fields Redis would hold: a batch changes them in place."""
        copies = {}
        for key in keys:
            entry = self._catalog.entry(key)
            copies[key] = CatalogEntry.from_fields(entry.fields()) if entry else CatalogEntry()
        return copies

    def save(self, changed: Mapping[str, Stored], deltas: CatalogDeltas | None = None) -> set[str]:
        conflicts = set()
        for customer, stored in changed.items():
            if self._live is not None:
                stored.version += 1
            else:
                version = self._blobs.get(customer, (0,))[0]
                if version != stored.version:
                    conflicts.add(customer)
                    continue
                state = encode_state(stored.state)
                self._blobs[customer] = (version + 1, state, stored.memo, stored.scored)
                stored.version = version + 1
            self._catalog.apply((deltas or {}).get(customer, ()), self._grace_days)
        return conflicts

    def encoded(self, customer_id: str) -> bytes | None:
        if self._live is not None:
            stored = self._live.get(customer_id)
            return encode_state(stored.state) if stored else None
        entry = self._blobs.get(customer_id)
        return entry[1] if entry else None
