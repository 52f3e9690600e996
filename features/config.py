"""Knobs of the feature definitions. They are part of a feature set's identity (hashed with it)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FeatureConfig(BaseSettings):
    """How features are computed; the stream and the offline replay must use the same one.

    Read from `RETURNRISK_FEATURES_*` variables when training; a model version records the
    config it was trained with, and the stream scores with that recorded config.
    """

    model_config = SettingsConfigDict(env_prefix="RETURNRISK_FEATURES_", frozen=True)

    return_rate_prior: float = Field(
        default=0.2, ge=0, le=1, description="Prior item/value return rate for smoothing."
    )
    return_rate_prior_weight: float = Field(
        default=4.0, gt=0, description="Pseudo-items the prior counts for (Bayesian smoothing)."
    )
    return_rate_prior_item_value: float = Field(
        default=50.0, gt=0, description="Value of one prior pseudo-item, for value rates."
    )
    lifecycle_new_days: int = Field(default=60, ge=1, description="Tenure below this: 'new'.")
    lifecycle_lapsed_days: int = Field(
        default=180, ge=1, description="No order for this long: 'lapsed'."
    )
    lifecycle_loyal_orders_365d: int = Field(
        default=6, ge=1, description="At least this many orders in 365 days: 'loyal'."
    )
    fit_sensitive_categories: tuple[str, ...] = ("apparel", "shoes")
    price_tier_bounds: tuple[float, float] = Field(
        default=(30.0, 120.0), description="Mean unit price bounds between low, mid and high."
    )
    grace_days: int = Field(
        default=7,
        ge=0,
        description=(
            "How late an event may arrive (event time behind the customer's newest event) and "
            "still be counted exactly; records are kept this much longer than their window."
        ),
    )
    return_match_days: int = Field(
        default=90,
        ge=0,
        description=(
            "A return request is matched to its order (value, order-to-return delay, products, "
            "the order's own features) when placed at most this many days after it; orders are "
            "kept in full this long plus the grace period, then summed into day tiles."
        ),
    )
    order_maturity_days: int = Field(
        default=30,
        ge=1,
        description=(
            "An order counts in the customer's share of orders with a return request once it "
            "is this many days old (its return window has closed)."
        ),
    )
    order_return_prior_weight: float = Field(
        default=5.0, gt=0, description="Pseudo-orders at the prior rate in that share."
    )
    product_rate_prior_weight: float = Field(
        default=20.0,
        gt=0,
        description="Pseudo-orders at the shop's rate added to a product's or category's rate.",
    )
    repeat_window_days: int = Field(
        default=90,
        ge=1,
        le=90,
        description=(
            "A basket's products count as bought before when the customer ordered them in "
            "this many days before (at most 90: orders are kept in full that long)."
        ),
    )
