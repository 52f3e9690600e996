"""The `returnrisk` command: one entry point for every job the project does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from returnrisk.bench_cli import bench
from returnrisk.cli_errors import OneLineErrors
from returnrisk.demo import demo
from returnrisk.dev_cli import dev_app
from returnrisk.features_cli import features_app
from returnrisk.import_cli import import_lines
from returnrisk.models_cli import models_app, score, train
from returnrisk.produce_cli import produce
from returnrisk.report_cli import report
from returnrisk.simulate_cli import simulate
from returnrisk.worker_cli import worker

console = Console()

app = typer.Typer(
    cls=OneLineErrors,
    name="returnrisk",
    help=(
        "Event-streaming return-risk scoring for e-commerce.\n\n"
        "Reads order, return, campaign-touch and customer events from Kafka, keeps rolling "
        "per-customer features in Redis, scores return propensity per customer segment and "
        "emits risk scores, alerts and retention offers. Every option can also be set with a "
        "RETURNRISK_* environment variable; `returnrisk config` shows what is in force.\n\n"
        "A command that cannot do its job prints one line, `error: ...`, naming the file, "
        "line or setting, and exits 2 when what it was given is wrong (an option, an input "
        "file, a setting) or 1 when what it found is (a damaged model version, a corrupt "
        "pointer file)."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
schemas_app = typer.Typer(help="Event contracts: export JSON Schema files.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")
app.add_typer(dev_app, name="dev")
app.add_typer(features_app, name="features")
app.command("simulate")(simulate)
app.command("produce")(produce)
app.command("import")(import_lines)
app.command("train")(train)
app.command("score")(score)
app.add_typer(models_app, name="models")
app.command("worker")(worker)
app.command("report")(report)
app.command("demo")(demo)
app.command("bench")(bench)


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path, typer.Argument(help="Folder to write <event_type>.json files to.")],
) -> None:
    """Write one JSON Schema file per event type (order_placed.json, ..., risk_score.json)."""
    from schemas.export import export_json_schemas

    written = export_json_schemas(directory)
    console.print(f"wrote {len(written)} schemas to {directory}")


@app.command("config")
def show_config() -> None:
    """Print the settings in force (from RETURNRISK_* variables), with secrets hidden."""
    from returnrisk.settings import describe_settings

    console.print_json(json.dumps(describe_settings()))


def main() -> None:
    app()
