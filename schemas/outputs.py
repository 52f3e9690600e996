"""Output events: risk scores, alerts, retention offers and dead-letter records.

They are defined together with the inputs so that the stream, the offline scorer and the
consumers downstream (portals, CRM, ops) share one contract.
"""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from schemas.common import SCHEMA_VERSION, Contract, Identifier, Money, UtcDatetime

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class RiskBand(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class RecommendedResolution(StrEnum):
    INSTANT_STORE_CREDIT = "instant_store_credit"
    EXCHANGE_FIRST = "exchange_first"
    REFUND_AFTER_INSPECTION = "refund_after_inspection"


class AlertType(StrEnum):
    HIGH_RISK_ORDER = "high_risk_order"
    SERIAL_RETURNER = "serial_returner"
    SUSPECTED_WARDROBING = "suspected_wardrobing"
    SEGMENT_RETURN_SPIKE = "segment_return_spike"


class OfferType(StrEnum):
    INSTANT_STORE_CREDIT = "instant_store_credit"
    EXCHANGE_BONUS = "exchange_bonus"
    EXTENDED_RETURN_WINDOW = "extended_return_window"
    FREE_RETURN_SHIPPING = "free_return_shipping"
    SIZE_GUIDANCE = "size_guidance"
    LOYALTY_CREDIT = "loyalty_credit"


class Reason(Contract):
    """One reason code: a feature that pushed the score, in words a returns agent can read."""

    code: Identifier = Field(description="Stable machine code, e.g. 'returned_items_rate_365d'.")
    text: str = Field(description="Readable reason, e.g. 'returned 4 of the last 6 orders'.")
    contribution: float = Field(description="Contribution to the raw score (log-odds).")


class RiskScore(Contract):
    """Return propensity for one order or return request, as a portal reads it."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_type: Literal["risk_score"] = "risk_score"
    score_id: Identifier = Field(description="Deterministic from source event id + model version.")
    source_event_id: Identifier
    source_event_type: Literal["order_placed", "return_requested"]
    source_occurred_at: UtcDatetime
    customer_id: Identifier
    order_id: Identifier
    return_id: Identifier | None = None
    segment: Identifier
    probability: Probability = Field(description="Calibrated probability of a commercial return.")
    band: RiskBand
    model_version: Identifier
    reasons: list[Reason] = Field(default_factory=list, max_length=10)
    feature_hash: Identifier = Field(description="Hash of the feature vector that was scored.")
    scored_at: UtcDatetime
    instant_credit_eligible: bool | None = Field(
        default=None, description="Only for return requests: may the portal credit at once?"
    )
    recommended_resolution: RecommendedResolution | None = None


class Alert(Contract):
    """Something a returns or fraud team should look at, deduplicated within a cooldown."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_type: Literal["alert"] = "alert"
    alert_id: Identifier
    alert_type: AlertType
    customer_id: Identifier | None = Field(default=None, description="None for segment alerts.")
    segment: Identifier
    severity: Literal["info", "warning", "critical"]
    message: str
    details: dict[str, str | int | float | bool] = Field(default_factory=dict)
    source_event_id: Identifier | None = None
    occurred_at: UtcDatetime
    emitted_at: UtcDatetime


class Offer(Contract):
    """A retention offer chosen by the policy rules for one customer and moment.

    Its times follow the event it answers, so a replay emits the same offer as the first run;
    only the optional `emitted_at` (processing time; absent from older records) differs.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    event_type: Literal["offer"] = "offer"
    offer_id: Identifier
    offer_type: OfferType
    customer_id: Identifier
    segment: Identifier
    band: RiskBand
    rule: Identifier = Field(description="Name of the policy rule that chose the offer.")
    value: Money | None = Field(default=None, description="Credit or bonus amount, if any.")
    source_event_id: Identifier
    created_at: UtcDatetime = Field(
        description="When the offer was made: the source event's time (event time)."
    )
    expires_at: UtcDatetime = Field(
        description="created_at plus the rule's validity, so never before created_at."
    )
    emitted_at: UtcDatetime | None = Field(
        default=None,
        description=(
            "Wall-clock time the worker emitted the offer (processing time); differs between "
            "a first run and a replay. Absent from records written before it existed."
        ),
    )
    # The fields below are optional and absent from records written before they existed; a
    # consumer that predates them reads the record as before (schema version 1).
    order_id: Identifier | None = Field(
        default=None, description="The order the offer answers (for a return request, its order)."
    )
    held_out: bool = Field(
        default=False,
        description=(
            "True: the customer is in the rule's random holdout and was NOT made this offer; "
            "the record says what would have been offered, so the offer's effect can be "
            "measured (treated against held-out). Portals and CRM must not act on it."
        ),
    )
    expected_value: float | None = Field(
        default=None,
        description=(
            "Expected value of the chosen option for this customer and order, in the order's "
            "currency (policy economics), when the rule chose among options."
        ),
    )
    runner_up: OfferType | None = Field(
        default=None, description="The option with the next-highest expected value, if any."
    )
    runner_up_expected_value: float | None = Field(
        default=None, description="The runner-up's expected value, in the order's currency."
    )


class FieldErrorRecord(Contract):
    field: str
    message: str


class DeadLetter(Contract):
    """A record the stream could not accept, with everything needed to replay or fix it."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_type: Literal["dead_letter"] = "dead_letter"
    step: Identifier = Field(description="Stable name of the agent that rejected the record.")
    error: str = Field(description="One-line reason.")
    errors: list[FieldErrorRecord] = Field(default_factory=list)
    source_topic: str
    partition: Annotated[int, Field(ge=0)]
    offset: Annotated[int, Field(ge=0)]
    key: str | None = None
    payload: str = Field(description="The original value, UTF-8 or base64 (see encoding).")
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    payload_truncated: bool = Field(
        default=False,
        description=(
            "True when payload holds only the first bytes of a record too large for a dead "
            "letter (960,000 bytes in all); the whole is at source_topic, partition, offset."
        ),
    )
    failed_at: UtcDatetime

    def original_bytes(self) -> bytes:
        """The payload exactly as it was consumed (its first bytes if `payload_truncated`)."""
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload)
        return self.payload.encode("utf-8")


OUTPUT_EVENT_TYPES: dict[str, type[Contract]] = {
    "risk_score": RiskScore,
    "alert": Alert,
    "offer": Offer,
    "dead_letter": DeadLetter,
}
