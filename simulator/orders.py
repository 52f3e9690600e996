"""Placing an order: basket (with bracketing), prices, discount, channel and payment.

The order remembers what the return model needs (products, the bracketed variants, the
attributed campaign and the discount applied) next to what goes on the wire.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulator import events
from simulator.campaigns import Campaign
from simulator.catalog import Product
from simulator.customers import Customer
from simulator.timeline import Timeline
from simulator.touches import Click
from simulator.world import World

STAFF_PROMO_CODE = "STAFF"


@dataclass(slots=True)
class PlacedLine:
    product: Product
    sku: str
    size_index: int  # position in product.sizes, -1 when the product has no sizes
    color: str | None
    quantity: int
    unit_cents: int
    discount_cents: int
    bracket_reason: str | None  # set on the extra variants of a bracketed product


@dataclass(slots=True)
class PlacedOrder:
    order_id: str
    event_id: str
    t: int
    channel: str
    payment_method: str
    lines: list[PlacedLine]
    campaign: Campaign | None  # attributed through the last click, tagged on the wire or not
    discount_fraction: float


def _line(
    product: Product, size_index: int, color: str | None, quantity: int, unit: int, off: float
) -> PlacedLine:
    size = product.sizes[size_index] if size_index >= 0 else None
    return PlacedLine(
        product=product,
        sku=product.sku(size, color),
        size_index=size_index,
        color=color,
        quantity=quantity,
        unit_cents=unit,
        discount_cents=round(unit * quantity * off),
        bracket_reason=None,
    )


def _bracket(line: PlacedLine, extras: int, rng: random.Random, off: float) -> list[PlacedLine]:
    """Extra variants of `line`: neighbouring sizes, or other colors for unsized products."""
    product, color = line.product, line.color
    variants = []
    if product.sizes:
        offsets = [-1, 1] if rng.random() < 0.5 else [1, -1]
        for offset in offsets[:extras]:
            index = line.size_index + offset
            if not 0 <= index < len(product.sizes):
                index = line.size_index - offset
            extra = _line(product, index, color, 1, line.unit_cents, off)
            extra.bracket_reason = "size_too_small" if index < line.size_index else "size_too_large"
            variants.append(extra)
    else:
        others = [c for c in product.colors if c != color]
        for other in rng.sample(others, min(extras, len(others))):
            extra = _line(product, -1, other, 1, line.unit_cents, off)
            extra.bracket_reason = "changed_mind"
            variants.append(extra)
    return variants


def _basket(world: World, customer: Customer, rng: random.Random, off: float) -> list[PlacedLine]:
    config = world.config
    factor = customer.country.price_factor
    lines: dict[str, PlacedLine] = {}
    for _ in range(world.basket_sizes.pick(rng)):
        product = world.catalog.pick(customer.categories.pick(rng), rng)
        size_index = (
            round(customer.size_quantile * (len(product.sizes) - 1)) if product.sizes else -1
        )
        color = rng.choice(product.colors) if product.colors else None
        quantity = 1 if rng.random() >= config.orders.multi_quantity_prob else rng.randint(2, 3)
        line = _line(product, size_index, color, quantity, product.local_price_cents(factor), off)
        lines.setdefault(line.sku, line)
    bracket_prob = (
        config.bracketing.bracketer_order_prob
        if customer.bracketer
        else config.bracketing.order_prob
    )
    if rng.random() < bracket_prob:
        candidates = [
            ln for ln in lines.values() if len(ln.product.sizes) > 1 or len(ln.product.colors) > 1
        ]
        if candidates:
            target = rng.choice(candidates)
            for extra in _bracket(target, world.bracket_extras.pick(rng), rng, off):
                lines.setdefault(extra.sku, extra)
    return list(lines.values())


def place_order(
    world: World,
    customer: Customer,
    rng: random.Random,
    timeline: Timeline,
    t: int,
    order_id: str,
    click: Click | None,
) -> PlacedOrder:
    """Draw an order at second `t`, emit its order_placed event and return it."""
    marketing, orders = world.config.marketing, world.config.orders
    campaign = click.campaign if click is not None else None
    off, promo_code = 0.0, None
    if customer.is_staff and orders.staff_discount_pct > 0:
        off, promo_code = orders.staff_discount_pct / 100.0, STAFF_PROMO_CODE
    elif campaign is not None and campaign.promo_code and rng.random() < marketing.promo_use_prob:
        off, promo_code = campaign.discount_fraction, campaign.promo_code
    tagged = campaign is not None and rng.random() < marketing.tag_campaign_prob
    channel = (
        customer.preferred_channel
        if rng.random() < orders.preferred_channel_prob
        else world.order_channels.pick(rng)
    )
    payment = (
        customer.preferred_payment
        if rng.random() < orders.preferred_payment_prob
        else world.payments.pick(rng)
    )
    lines = _basket(world, customer, rng, off)
    eid, at = timeline.header(t)
    wire_lines = [
        events.order_line(
            ln.sku,
            ln.product.product_id,
            ln.product.category,
            ln.product.sizes[ln.size_index] if ln.size_index >= 0 else None,
            ln.color,
            ln.unit_cents,
            ln.quantity,
            ln.discount_cents,
        )
        for ln in lines
    ]
    line = events.order_placed(
        eid,
        at,
        customer.customer_id,
        order_id=order_id,
        channel=channel,
        currency=customer.country.currency,
        lines=wire_lines,
        payment_method=payment,
        shipping_country=customer.country.code,
        campaign_id=campaign.campaign_id if tagged and campaign is not None else None,
        promo_code=promo_code,
    )
    timeline.add(t, "order_placed", line)
    timeline.orders += 1
    timeline.items += sum(ln.quantity for ln in lines)
    return PlacedOrder(order_id, eid, t, channel, payment, lines, campaign, off)
