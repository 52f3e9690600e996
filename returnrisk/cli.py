"""The `returnrisk` command: one entry point for every job the project does."""

from __future__ import annotations

import inspect
import json
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from returnrisk.bench_cli import bench
from returnrisk.cli_errors import OneLineErrors
from returnrisk.demo import demo
from returnrisk.dev_cli import dev_app
from returnrisk.features_cli import features_app
from returnrisk.import_cli import import_lines
from returnrisk.models_cli import models_app, score, train
from returnrisk.policy_cli import policy_app
from returnrisk.produce_cli import produce
from returnrisk.report_cli import report
from returnrisk.simulate_cli import simulate
from returnrisk.validate_cli import validate
from returnrisk.worker_cli import worker

console = Console()


class _Commands(OneLineErrors):
    """The `returnrisk` group: one-line errors, and help that is one sentence per command.

    A command's help is the first line of its docstring (its summary, PEP 257), or the
    `help=` it was registered with; the rest of a docstring is for readers of the code, and the
    manual pages are in docs/. tests/returnrisk/test_cli_help.py holds every command to it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _summaries_only(self)


def _summaries_only(command: Any) -> None:
    if command.help:
        command.help = inspect.cleandoc(command.help).split("\n", 1)[0].strip()
    for sub in getattr(command, "commands", {}).values():
        _summaries_only(sub)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"returnrisk {package_version('returnrisk')}")
        raise typer.Exit()


app = typer.Typer(
    cls=_Commands,
    name="returnrisk",
    # Every option can also be set with the RETURNRISK_* variable its help names (`returnrisk
    # config` shows what is in force); a command that cannot do its job prints one line,
    # `error: ...`, and exits 2 when what it was given is wrong, 1 when what it found is
    # (returnrisk/cli_errors.py).
    help="Event-streaming return-risk scoring for e-commerce, from simulated events to offers.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print `returnrisk <version>` and exit.",
        ),
    ] = False,
) -> None:
    """Event-streaming return-risk scoring for e-commerce, from simulated events to offers."""


schemas_app = typer.Typer(help="Event contracts: export JSON Schema files.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")
app.add_typer(dev_app, name="dev")
app.add_typer(features_app, name="features")
app.command("simulate")(simulate)
app.command("validate")(validate)
app.command("produce")(produce)
app.command("import")(import_lines)
app.command("train")(train)
app.command("score")(score)
app.add_typer(models_app, name="models")
app.add_typer(policy_app, name="policy")
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
