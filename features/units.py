"""Time and money in the integer units that feature state stores."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

DAY = 86_400


def epoch(moment: datetime) -> int:
    """Whole seconds since the epoch of an aware datetime."""
    return int(moment.timestamp())


def cents(amount: Decimal) -> int:
    """An exact amount in hundredths, rounded half to even."""
    return int((amount * 100).to_integral_value(ROUND_HALF_EVEN))
