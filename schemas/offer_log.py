"""Offer records as JSON lines: what `policy backtest` writes and an offers topic exports.
`report --offers` measures them; `simulate --offers` plants their effects."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from schemas.outputs import Offer

REPURCHASE_DAYS = 90
"""An offer's repurchase window: the customer ordered again within this many days after it.
One definition for the report, the backtest and the simulator's planted repurchases."""


class OffersFileError(ValueError):
    """An offers file with a line that is not an `Offer` record, or with no record at all."""


def read_offers(path: Path) -> list[Offer]:
    """Every record of a JSON-lines offers file (blank lines skipped), validated as `Offer`.

    Raises `OffersFileError` naming the file and line of the first bad record: offers decide
    which orders are compared, so a bad line cannot be skipped without biasing the result.
    """
    offers = []
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                offers.append(Offer.model_validate_json(line))
            except ValidationError as exc:
                raise OffersFileError(f"{path}: line {number}: {_problems(exc)}") from None
    if not offers:
        raise OffersFileError(f"{path}: no offer record in it (the file is empty)")
    return offers


def _problems(exc: ValidationError) -> str:
    """The first three field errors of a record, one line."""
    errors = exc.errors(include_url=False)
    shown = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(json)'}: {e['msg']}" for e in errors[:3]
    )
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return f"not an offer record: {shown}{more}"
