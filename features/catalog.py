"""What is shared across customers: products', categories' and the whole shop's daily counts.

Pure code, no I/O. Customer state (features/state.py) holds what one customer did; the catalog
holds what every customer did to a product: how often it was sold and how often a return was
requested for it, per UTC day. Product and category return rates (features/basket.py) read it
"up to the previous day", so a value never depends on the order in which the events of one day
arrive, whichever partition or worker applies them.

Entries (`CatalogEntry`), one per key:
- `p:<product>` and `c:<category>` (32-bit hashes, `state.short_hash`) count `s` (orders
  that bought it: once per order, however many lines) and `r` (commercial return requests
  for it: once per request). `all` counts the same for every product, and how many touches
  (`t`), receipts (`c`) and profile versions (`p`) were ever seen: a kind no event has ever
  brought (a retailer that exports no campaign touches) makes its features missing, not zero.
- Counts are kept per day for the last `grace_days + 1` days before the entry's newest day,
  then folded into totals, so an entry costs a few fields whatever its age. A read "before
  day D" sums the totals and the kept days before D: exact for any D later than the folded
  days, which holds for every event no later than the grace period (as customer state is).
  A count for an already folded day (an event later than that) still lands, in the totals.
- Deltas come from customer state transitions (`state.apply_event(..., deltas=...)`), only
  when an event is applied for the first time, so a redelivery adds nothing; the stores
  write them with the customer's compare-and-set (features/store.py, features/redis_store.py).

Product hashes are 32 bits: among 100,000 products about one pair shares an entry (and a
rate). Keys are hashes, not product ids, because customer state keeps products as hashes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

SOLD, RETURNED, TOUCHES, RECEIPTS, PROFILES = "s", "r", "t", "c", "p"
ALL = "all"


def product_key(product: int) -> str:
    return f"p:{product}"


def category_key(category: int) -> str:
    return f"c:{category}"


def basket_keys(products: Iterable[int], categories: Iterable[int]) -> set[str]:
    """The keys a basket is read from (features/basket.py)."""
    return {ALL, *map(product_key, products), *map(category_key, categories)}


class CatalogDelta(NamedTuple):
    """Add `amount` to `counter` of `key` on `day` (days since the epoch, UTC)."""

    key: str
    day: int
    counter: str
    amount: int = 1


@dataclass(slots=True)
class CatalogEntry:
    """One key's counts: folded totals, and per-day counts of the days after `folded`."""

    totals: dict[str, int] = field(default_factory=dict)
    days: dict[int, dict[str, int]] = field(default_factory=dict)
    folded: int = -1
    """Days up to this one are in `totals`."""
    newest: int = -1

    def add(self, day: int, counter: str, amount: int, grace_days: int) -> None:
        """Count one delta, then fold the days older than the grace period behind the newest.

        The Redis store runs the same rule in Lua (features/redis_store.py, `_CATALOG_ADD`);
        tests/features/test_catalog.py proves the two agree."""
        if day <= self.folded:
            self.totals[counter] = self.totals.get(counter, 0) + amount
        else:
            counts = self.days.setdefault(day, {})
            counts[counter] = counts.get(counter, 0) + amount
        self.newest = max(self.newest, day)
        self.fold(grace_days)

    def fold(self, grace_days: int) -> None:
        limit = self.newest - grace_days - 1
        if limit <= self.folded:
            return
        for day in [d for d in self.days if d <= limit]:
            for counter, amount in self.days.pop(day).items():
                self.totals[counter] = self.totals.get(counter, 0) + amount
        self.folded = limit

    def before(self, day: int, counter: str) -> int:
        """The count of every day before `day` (also of later days once they are folded: a
        read later than the grace period, which no in-grace event makes)."""
        kept = sum(c.get(counter, 0) for d, c in self.days.items() if d < day)
        return self.totals.get(counter, 0) + kept

    def fields(self) -> dict[str, str]:
        """The entry as the fields of its Redis hash."""
        out = {f"t:{c}": str(v) for c, v in self.totals.items()}
        out.update(
            {f"{d}:{c}": str(v) for d, counts in self.days.items() for c, v in counts.items()}
        )
        if self.folded >= 0:
            out["f"] = str(self.folded)
        if self.newest >= 0:
            out["n"] = str(self.newest)
        return out

    @classmethod
    def from_fields(cls, fields: Mapping[str, str] | Mapping[bytes, bytes]) -> CatalogEntry:
        entry = cls()
        for raw_name, raw_value in fields.items():
            name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
            value = int(raw_value)
            if name == "f":
                entry.folded = value
            elif name == "n":
                entry.newest = value
            else:
                head, counter = name.split(":", 1)
                if head == "t":
                    entry.totals[counter] = value
                else:
                    entry.days.setdefault(int(head), {})[counter] = value
        return entry


class Catalog:
    """Entries by key: the whole catalog (the offline replay's, `complete`: a key never
    written reads as zero) or the keys loaded for a batch (reading any other is a bug, and
    raises rather than reading zero)."""

    def __init__(
        self, entries: Mapping[str, CatalogEntry] | None = None, *, complete: bool = True
    ) -> None:
        self._entries: dict[str, CatalogEntry] = dict(entries or {})
        self._complete = complete

    def before(self, key: str, day: int, counter: str) -> int:
        entry = self._entries.get(key)
        if entry is None and not self._complete:
            raise LookupError(f"catalog key {key!r} was not loaded for this batch")
        return entry.before(day, counter) if entry else 0

    def loaded(self, key: str) -> bool:
        return self._complete or key in self._entries

    def include(self, entries: Mapping[str, CatalogEntry]) -> None:
        """Add entries loaded later in the batch (keys not known before the states were)."""
        for key, entry in entries.items():
            self._entries.setdefault(key, entry)

    def apply(self, deltas: Iterable[CatalogDelta], grace_days: int) -> None:
        """Count deltas in the entries held (a batch's deltas for keys it did not load are
        only written to the store: nothing in the batch reads them)."""
        for delta in deltas:
            entry = self._entries.get(delta.key)
            if entry is None and self._complete:
                entry = self._entries[delta.key] = CatalogEntry()
            if entry is not None:
                entry.add(delta.day, delta.counter, delta.amount, grace_days)

    def entry(self, key: str) -> CatalogEntry | None:
        return self._entries.get(key)

    def has_seen(self, counter: str, day: int) -> bool:
        """Whether any event of a kind (`TOUCHES`, `RECEIPTS`, `PROFILES`) came before `day`."""
        return self.before(ALL, day, counter) > 0


class _Unknown(Catalog):
    """No catalog at hand (a state read on its own): no product history, every kind seen."""

    def has_seen(self, counter: str, day: int) -> bool:
        return True

    def apply(self, deltas: Iterable[CatalogDelta], grace_days: int) -> None:
        raise TypeError("NO_CATALOG is shared and read-only: apply deltas to a Catalog()")


NO_CATALOG: Catalog = _Unknown()
