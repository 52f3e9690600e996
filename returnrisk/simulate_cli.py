"""`returnrisk simulate`: write a reproducible, time-ordered JSON-lines log of input events."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from schemas.offer_log import OffersFileError, read_offers
from simulator.config import ConfigError, load_config
from simulator.offer_effects import OfferPlan
from simulator.runner import Summary, run_simulation
from simulator.timeline import EVENT_TYPES

_STAGES = {"simulate": "simulating customers", "write": "writing events"}


def _summary_table(summary: Summary, out: Path) -> Table:
    table = Table(title=f"wrote {out}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for event_type in EVENT_TYPES:
        table.add_row(event_type, f"{summary.events_by_type[event_type]:,}")
    table.add_row("events", f"{summary.events:,}")
    table.add_row("customers", f"{summary.customers:,}")
    table.add_row("orders", f"{summary.orders:,}")
    table.add_row("orders with a return", f"{summary.order_return_rate:.1%}")
    table.add_row("items returned", f"{summary.item_return_rate:.1%}")
    table.add_row("seconds", f"{summary.seconds:.1f}")
    return table


def simulate(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            dir_okay=False,
            envvar="RETURNRISK_SIM_OUT",
            help="JSON-lines file to write: one input event per line, in time order.",
        ),
    ],
    customers: Annotated[
        int,
        typer.Option(
            "--customers",
            min=1,
            envvar="RETURNRISK_SIM_CUSTOMERS",
            help="Customers to simulate; the default config gives ~50 events per customer-year.",
        ),
    ] = 1000,
    days: Annotated[
        int,
        typer.Option(
            "--days",
            min=1,
            max=3660,
            envvar="RETURNRISK_SIM_DAYS",
            help="Length of the simulated window in days.",
        ),
    ] = 365,
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            envvar="RETURNRISK_SIM_SEED",
            help="Random seed: the same seed and options give the same bytes.",
        ),
    ] = 42,
    start: Annotated[
        datetime,
        typer.Option(
            "--start",
            formats=["%Y-%m-%d"],
            show_default="2025-01-01",
            envvar="RETURNRISK_SIM_START",
            help="First day of the window (from 00:00 UTC), as YYYY-MM-DD.",
        ),
    ] = datetime(2025, 1, 1),  # noqa: B008 - typer needs a literal default, not a factory
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            dir_okay=False,
            envvar="RETURNRISK_SIM_CONFIG",
            help=(
                "YAML file with the shop, customer and return-model knobs. Default: the "
                "packaged default.yaml, which documents every knob. The packaged "
                "no_marketing_effects.yaml is a null control with no channel or campaign "
                "effects on returns."
            ),
        ),
    ] = None,
    offers: Annotated[
        Path | None,
        typer.Option(
            "--offers",
            dir_okay=False,
            exists=True,
            envvar="RETURNRISK_SIM_OFFERS",
            help=(
                "Offer records (JSON lines, e.g. a policy backtest's offers.jsonl) decided on "
                "an earlier run with the same seed, customers, days, start and config: the "
                "config's offer_effects are planted on the orders they were made on (held-out "
                "records plant nothing); every other event stays the same."
            ),
        ),
    ] = None,
) -> None:
    """Simulate customers' orders, returns, campaign touches and profile updates.

    Writes the five input event types (order_placed, return_requested,
    return_received, campaign_touch, customer_updated) as one JSON-lines log
    in event-time order. Every line is a valid, canonical event contract, and
    the same seed gives the same bytes.

    Return drivers (category, bracketing, tier, tenure, serial returners,
    marketing channel and campaign, discount, season, payment) are planted as
    the config says, so models and analyses can be checked against them.
    """
    try:
        settings = load_config(config)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--config'") from None
    plan = None
    if offers is not None:
        try:
            plan = OfferPlan.build(read_offers(offers), settings.offer_effects, start.date())
        except OffersFileError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--offers'") from None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot create {out.parent}: {exc}", param_hint="'--out'"
        ) from None
    console = Console()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(_STAGES[stage], total=total)
            progress.update(tasks[stage], completed=done)

        summary = run_simulation(
            settings,
            customers=customers,
            days=days,
            seed=seed,
            start=start.date(),
            out=out,
            progress=report,
            offers=plan,
        )
    console.print(_summary_table(summary, out))
    if plan is not None:
        _print_planted(console, plan)


def _print_planted(console: Console, plan: OfferPlan) -> None:
    console.print(
        f"offers: {plan.records:,} records, {plan.made:,} made ({plan.held_out:,} held out, "
        f"{plan.without_order:,} without an order id), {len(plan.matched):,} of them on "
        "orders and events of this run"
    )
    if plan.unmatched:
        console.print(
            f"[bold red]warning:[/] {plan.unmatched:,} offers are on orders or events this "
            "run never produced: simulate with the seed, customers, days, start and config "
            "of the run the offers were decided on"
        )
