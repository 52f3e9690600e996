"""Everything a run derives once from config, seed and window, shared by all customers.

Building these tables up front (weighted choices, per-day campaign sets, the catalog) keeps the
per-customer code to lookups and draws, which is what makes a million events cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from simulator.calendar import Calendar, build_calendar
from simulator.campaigns import CampaignSchedule, build_schedule
from simulator.catalog import Catalog, build_catalog
from simulator.config import (
    ChannelConfig,
    ConditionName,
    CountryConfig,
    MethodName,
    ResolutionName,
    SimulatorConfig,
    TierName,
)
from simulator.sampling import Weighted

TIERS: tuple[TierName, ...] = ("none", "silver", "gold", "vip")


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    categories: Weighted[int]  # category index, weighted by share x the segment's boost


@dataclass(frozen=True, slots=True)
class World:
    config: SimulatorConfig
    calendar: Calendar
    catalog: Catalog
    schedule: CampaignSchedule
    channels: tuple[tuple[str, ChannelConfig], ...]
    countries: Weighted[CountryConfig]
    initial_tiers: Weighted[TierName]
    age_bands: Weighted[tuple[str, float]]
    segments: Weighted[Segment]
    payments: Weighted[str]
    payment_effect: dict[str, float]
    order_channels: Weighted[str]
    order_channel_effect: dict[str, float]
    basket_sizes: Weighted[int]
    bracket_extras: Weighted[int]
    methods: Weighted[MethodName]
    resolution_size: Weighted[ResolutionName]
    resolution_other: Weighted[ResolutionName]
    resolution_service: Weighted[ResolutionName]
    conditions: Weighted[ConditionName]
    serial_conditions: Weighted[ConditionName]
    defect_conditions: Weighted[ConditionName]
    end_of_life_conditions: Weighted[ConditionName]


def _segments(config: SimulatorConfig) -> Weighted[Segment]:
    names = list(config.categories)
    segments = []
    for name, segment in config.customers.newsletter_segments.items():
        weights = (
            (i, config.categories[c].share * segment.category_boost.get(c, 1.0))
            for i, c in enumerate(names)
        )
        segments.append((Segment(name, Weighted.from_pairs(weights)), segment.share))
    return Weighted.from_pairs(segments)


def build_world(config: SimulatorConfig, seed: int, start: date, days: int) -> World:
    calendar = build_calendar(config.seasonality, start, days)
    customers, orders, returns = config.customers, config.orders, config.returns
    return World(
        config=config,
        calendar=calendar,
        catalog=build_catalog(config.categories, seed),
        schedule=build_schedule(config.marketing, calendar),
        channels=tuple(config.marketing.channels.items()),
        countries=Weighted.from_pairs((c, c.share) for c in config.countries),
        initial_tiers=Weighted.of(customers.initial_tiers),
        age_bands=Weighted.from_pairs(
            ((name, band.return_effect), band.share) for name, band in customers.age_bands.items()
        ),
        segments=_segments(config),
        payments=Weighted.of({k: v.share for k, v in orders.payment_methods.items()}),
        payment_effect={k: v.return_effect for k, v in orders.payment_methods.items()},
        order_channels=Weighted.of({k: v.share for k, v in orders.channels.items()}),
        order_channel_effect={k: v.return_effect for k, v in orders.channels.items()},
        basket_sizes=Weighted.from_pairs(
            (n + 1, w) for n, w in enumerate(orders.basket_size_weights)
        ),
        bracket_extras=Weighted.from_pairs(
            (n + 1, w) for n, w in enumerate(config.bracketing.extra_variant_weights)
        ),
        methods=Weighted.of(returns.methods),
        resolution_size=Weighted.of(returns.resolution_size),
        resolution_other=Weighted.of(returns.resolution_other),
        resolution_service=Weighted.of(returns.resolution_service),
        conditions=Weighted.of(returns.conditions),
        serial_conditions=Weighted.of(returns.serial_conditions),
        defect_conditions=Weighted.of(returns.defect_conditions),
        end_of_life_conditions=Weighted.of(returns.end_of_life_conditions),
    )
