"""`returnrisk policy backtest`: what a policy would have decided, cost and saved on past events."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from models.registry import Registry, RegistryError
from returnrisk.cli_errors import CliError
from returnrisk.models_cli import RegistryOption

console = Console(stderr=True, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
policy_app = typer.Typer(
    help="Retention and resolution policy: backtest it on past events.", no_args_is_help=True
)


@policy_app.command("backtest")
def backtest(
    events: Annotated[
        Path,
        typer.Option(
            "--events", help="JSON-lines event log.", exists=True, dir_okay=False, readable=True
        ),
    ],
    registry: RegistryOption,
    policy: Annotated[
        Path,
        typer.Option(
            "--policy", help="Policy file (YAML) to backtest.", exists=True, dir_okay=False
        ),
    ],
    from_: Annotated[
        datetime,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First day (UTC) of decisions."),
    ],
    to: Annotated[
        datetime,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (UTC, inclusive) of decisions."),
    ],
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for backtest.json, backtest.html, one CSV per table and offers.jsonl.",
            file_okay=False,
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option("--model", help="Model version to score with (default: the promoted one)."),
    ] = None,
    compare: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            help="A second policy file, decided on the same events and shown side by side.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Replay an event log through the worker's features, model and policy, and price it.

    Decisions on events from --from to --to (the events before warm up features and offer
    caps), outcomes read from the whole log: returns, received condition, repurchase. The model
    must be trained before --from. Writes OUT/backtest.json, OUT/backtest.html, one CSV per
    table, and the offer records of --policy (OUT/offers.jsonl) and --compare
    (OUT/compare-offers.jsonl) for `returnrisk report --offers`."""
    from backtest.ledger import BacktestError, require_economics
    from backtest.run import Window, check_model_window, run_backtest
    from features.replay import paused_gc
    from models.inference import ScoringModel
    from policy.rules import Policy, PolicyError
    from returnrisk.features_cli import load_events

    started = time.perf_counter()
    since, until = from_.replace(tzinfo=UTC), to.replace(tzinfo=UTC) + timedelta(days=1)
    if since >= until:
        raise CliError(f"--from {from_.date()} is after --to {to.date()}")
    store = Registry(registry)
    try:
        version = model or _promoted(store)
        store.require_intact(version)
        warning = check_model_window(store, version, Window(since, until))
        policies = [Policy.load(path) for path in (policy, compare) if path is not None]
        for each in policies:
            require_economics(each)
    except (RegistryError, PolicyError, BacktestError) as exc:
        raise CliError(str(exc)) from None
    if warning:
        console.print(f"[bold yellow]warning: {warning}[/]")
    with paused_gc():
        log = load_events(events)
        scorer = ScoringModel.load(store.path(version))
        for each in policies:
            try:
                each.check_categories(scorer.categories(), f"model {version}")
            except PolicyError as exc:
                raise CliError(str(exc)) from None
        decided = sum(1 for event in log if event.occurred_at < until) * len(policies)
        with Progress(
            TextColumn("deciding"),
            BarColumn(),
            TextColumn("[dim]{task.completed:,.0f}/{task.total:,.0f} events"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("deciding", total=decided)
            try:
                summary = run_backtest(
                    log,
                    scorer,
                    policies,
                    Window(since, until),
                    out_dir,
                    on_batch=lambda done: progress.advance(task, done),
                )
            except BacktestError as exc:
                raise CliError(str(exc)) from None
    for row in summary["tables"]["total"]:
        out.print(
            f"{row['policy']}: {row['orders']:,} orders and {row['requests']:,} return requests "
            f"decided, {row['offers_made']:,} offers made ({row['offers_held_out']:,} held out), "
            f"{row['instant_credits']:,} instant credits; offer cost {row['offer_cost']:,.2f}, "
            f"credit lost {row['credit_lost']:,.2f}, protected {row['protected']:,.2f}, "
            f"net {row['net']:,.2f}{_with_effect(row)}"
        )
    out.print(f"wrote {out_dir}/backtest.html in {time.perf_counter() - started:.1f} s")


def _with_effect(row: dict[str, Any]) -> str:
    effect = row["measured_effect"]
    if effect is None:
        return ""
    with_effect = row["net_with_measured_effect"]
    return f"; measured effect of offers {effect:,.2f}, net with it {with_effect:,.2f}"


def _promoted(registry: Registry) -> str:
    pointer = registry.read_pointer()
    if pointer is None:
        raise CliError(f"{registry.root}: no promoted model; give --model VERSION")
    return pointer.version
