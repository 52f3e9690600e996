"""Policy rules: resolutions, offer caps and alert cooldowns, on event time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy.rules import DAY, HOUR, Memo, Policy, PolicyError, held_out
from schemas.outputs import AlertType, OfferType, RecommendedResolution

POLICY = Policy.load()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TREATED = next(
    customer
    for customer in (f"c{i}" for i in range(1000))
    if not any(held_out(customer, r.name, r.holdout) for r in POLICY.config.offers)
)
"""A customer in none of the packaged rules' holdouts: every offer made to them is made."""


def timezone_at(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


def at(seconds: float) -> datetime:
    """An event time, `seconds` after the epoch."""
    return EPOCH + timedelta(seconds=seconds)


def row(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "segment": "active",
        "band": "low",
        "probability": 0.1,
        "received_worn_count_365d": 0.0,
        "request_fit_share": 0.0,
        "order_max_sizes_per_product": 1.0,
        "order_gross_value": 50.0,
        "returned_items_rate_365d": 0.3,
    }
    return {**base, **values}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, RecommendedResolution.INSTANT_STORE_CREDIT),
        ({"segment": "serial_returner"}, RecommendedResolution.REFUND_AFTER_INSPECTION),
        ({"received_worn_count_365d": 2.0}, RecommendedResolution.REFUND_AFTER_INSPECTION),
        ({"band": "medium", "request_fit_share": 1.0}, RecommendedResolution.EXCHANGE_FIRST),
        ({"band": "high", "request_fit_share": 1.0}, RecommendedResolution.REFUND_AFTER_INSPECTION),
    ],
)
def test_resolution_first_matching_rule_wins(
    values: dict[str, object], expected: RecommendedResolution
) -> None:
    assert POLICY.resolution(row(**values)) is expected


def test_an_unknown_value_never_matches_a_condition() -> None:
    # worn count unknown: "== 0" is unknown, so instant credit is not granted blindly
    view = row(received_worn_count_365d=float("nan"))
    assert POLICY.resolution(view) is RecommendedResolution.REFUND_AFTER_INSPECTION


def test_offers_respect_their_cap_per_period() -> None:
    memo = Memo()
    vip = row(segment="vip", band="low")
    first = POLICY.offers("return_requested", vip, memo, at(0), key=1, customer_id=TREATED)
    assert [o.offer for o in first] == [OfferType.INSTANT_STORE_CREDIT]
    assert (first[0].created_at, first[0].expires_at) == (EPOCH, at(30 * DAY))
    assert (
        POLICY.offers("return_requested", vip, memo, at(89 * DAY), key=2, customer_id=TREATED) == []
    )  # 1 per 90 d
    assert (
        len(POLICY.offers("return_requested", vip, memo, at(91 * DAY), key=3, customer_id=TREATED))
        == 1
    )
    assert (
        POLICY.offers("order_placed", vip, memo, at(91 * DAY), key=4, customer_id=TREATED) == []
    )  # another event


@given(
    occurred_at=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from([UTC, *(timezone_at(h) for h in (-11, -3, 5, 14))]),
    ),
    case=st.sampled_from(
        [
            ("return_requested", row(segment="vip", band="low", request_fit_share=1.0)),
            ("order_placed", row(segment="new", order_max_sizes_per_product=2.0)),
            ("order_placed", row(segment="loyal", order_gross_value=500.0, band="low")),
        ]
    ),
)
def test_an_offer_is_made_at_its_event_time_and_never_expires_before(
    occurred_at: datetime, case: tuple[str, dict[str, object]]
) -> None:
    """Both times follow the event (never a clock), so deciding again gives the same times."""
    event, view = case
    offers = POLICY.offers(event, view, Memo(), occurred_at, key=1, customer_id=TREATED)
    assert offers
    assert offers == POLICY.offers(event, view, Memo(), occurred_at, key=1, customer_id=TREATED)
    for offer in offers:
        assert offer.created_at == occurred_at
        assert offer.created_at < offer.expires_at


def test_the_same_event_decided_again_makes_the_same_decisions() -> None:
    """A batch redelivered after its state (and memo) was written, before its records were
    produced: its alerts and offers come again instead of being lost to their own cooldown."""
    memo = Memo()
    vip = row(segment="vip", band="low")
    first = POLICY.offers("return_requested", vip, memo, at(0), key=1, customer_id=TREATED)
    assert POLICY.alert(AlertType.HIGH_RISK_ORDER, memo, at=0, key=1)
    again = Memo.decode(memo.encode())
    assert POLICY.offers("return_requested", vip, again, at(0), key=1, customer_id=TREATED) == first
    assert POLICY.alert(AlertType.HIGH_RISK_ORDER, again, at=0, key=1)
    assert again == memo  # nothing counted twice
    assert POLICY.offers("return_requested", vip, again, at(5), key=2, customer_id=TREATED) == []
    assert not POLICY.alert(AlertType.HIGH_RISK_ORDER, again, at=5, key=2)


def test_memo_survives_encoding() -> None:
    memo = Memo()
    POLICY.offers("order_placed", row(segment="new"), memo, at(5), key=1, customer_id=TREATED)
    POLICY.alert(AlertType.HIGH_RISK_ORDER, memo, at=7, key=2)
    memo.serial, memo.segment = True, "serial_returner"
    assert Memo.decode(memo.encode()) == memo
    assert Memo.decode(b"") == Memo()


def test_alerts_wait_out_their_cooldown() -> None:
    memo = Memo()
    assert POLICY.alert(AlertType.HIGH_RISK_ORDER, memo, at=0, key=1)
    assert not POLICY.alert(AlertType.HIGH_RISK_ORDER, memo, at=23 * HOUR, key=2)
    assert POLICY.alert(AlertType.SUSPECTED_WARDROBING, memo, at=23 * HOUR, key=2)  # other type
    assert POLICY.alert(AlertType.HIGH_RISK_ORDER, memo, at=24 * HOUR, key=3)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "resolutions: [{when: \"band == 'low'\", resolution: instant_store_credit}]\n"
            "alerts: {high_risk_order: {cooldown_hours: 1}, serial_returner: {cooldown_hours: 1},"
            " suspected_wardrobing: {cooldown_hours: 1},"
            " segment_return_spike: {cooldown_hours: 1}}",
            "last resolution rule",
        ),
        (
            "resolutions: [{resolution: refund_after_inspection}]\n"
            "offers: [{name: x, event: order_placed, when: \"__import__('os')\","
            " offer: size_guidance, expires_in_days: 1, cap: {max: 1, per_days: 1}}]\n"
            "alerts: {high_risk_order: {cooldown_hours: 1}, serial_returner: {cooldown_hours: 1},"
            " suspected_wardrobing: {cooldown_hours: 1},"
            " segment_return_spike: {cooldown_hours: 1}}",
            "offer x",
        ),
        ("resolutions: [{resolution: refund}]\n", "resolutions.0.resolution"),
    ],
)
def test_bad_policy_files_name_the_problem(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=fragment):
        Policy.load(path)
