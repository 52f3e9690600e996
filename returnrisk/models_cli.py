"""`returnrisk train | score` and `returnrisk models list | show | promote | rollback`."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from models.registry import MANIFEST, METRICS, Registry, read_json
from returnrisk.cli_errors import CliError

console = Console(stderr=True, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
models_app = typer.Typer(
    help="The model registry: list versions, show one, promote one, roll back.",
    no_args_is_help=True,
)

NewRegistryOption = Annotated[
    Path,
    typer.Option(
        "--registry",
        help="Model registry directory (created on first train).",
        envvar="RETURNRISK_REGISTRY_DIR",
        file_okay=False,
    ),
]
RegistryOption = Annotated[
    Path,
    typer.Option(
        "--registry",
        help="Model registry directory (made by `returnrisk train`).",
        envvar="RETURNRISK_REGISTRY_DIR",
        exists=True,
        file_okay=False,
    ),
]


@contextmanager
def _steps(total: int) -> Iterator[Any]:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("[dim]{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("training", total=total)

        def step(description: str) -> None:
            progress.update(task, description=description, advance=1)
            console.log(description)

        yield step


def _auc(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "n/a"


def train(
    registry: NewRegistryOption,
    events: Annotated[
        Path | None,
        typer.Option(
            "--events",
            help="JSON-lines event log: the training table is built from it first.",
            exists=True,
            dir_okay=False,
            envvar="RETURNRISK_EVENTS",
        ),
    ] = None,
    dataset: Annotated[
        Path | None,
        typer.Option(
            "--dataset",
            help="Training table from `returnrisk features build` (parquet).",
            exists=True,
            dir_okay=False,
            envvar="RETURNRISK_DATASET",
        ),
    ] = None,
    segments: Annotated[
        Path | None,
        typer.Option(
            "--segments",
            help="Segment rules (YAML); default: the packaged models/segments.yaml.",
            exists=True,
            dir_okay=False,
            envvar="RETURNRISK_SEGMENTS",
        ),
    ] = None,
    calibration_share: Annotated[
        float,
        typer.Option(
            help="Share of rows, by time, for early stopping and calibration.",
            envvar="RETURNRISK_TRAIN_CALIBRATION_SHARE",
        ),
    ] = 0.15,
    validation_share: Annotated[
        float,
        typer.Option(
            help="Newest share of rows, only scored for the metrics.",
            envvar="RETURNRISK_TRAIN_VALIDATION_SHARE",
        ),
    ] = 0.15,
    min_segment_rows: Annotated[
        int,
        typer.Option(
            help="Training rows a segment needs for its own model.",
            min=1,
            envvar="RETURNRISK_TRAIN_MIN_SEGMENT_ROWS",
        ),
    ] = 1000,
    min_segment_positives: Annotated[
        int,
        typer.Option(
            help="Returned (and kept) orders it needs, each.",
            min=1,
            envvar="RETURNRISK_TRAIN_MIN_SEGMENT_POSITIVES",
        ),
    ] = 100,
    seed: Annotated[
        int,
        typer.Option(
            help="Seed of LightGBM and the calibration folds.", envvar="RETURNRISK_TRAIN_SEED"
        ),
    ] = 7,
) -> None:
    """Train, calibrate and register a model per segment from a training set.

    One LightGBM model per segment (a global model for segments too small), calibrated, and
    written as a new immutable version to the registry, with metrics.json and report.html.

    Rows are split by order time: train (oldest), calibration (early stopping and calibrators),
    validation (newest, only scored). Orders whose label window had not closed by the end of
    the log are left out. Prints data health (label rate per month, segment shares, missing
    features, heavy customers, segments with under 500 validation orders) and a table per
    segment; the last line is the overall validation AUC of the model, of both baselines and
    of one global model (no segments)."""
    from pydantic import ValidationError

    from features.config import FeatureConfig
    from features.replay import LabelRule, build_training_table
    from models.dataset import DatasetError, read_table, training_data
    from models.feature_set import FeatureSetMismatch
    from models.segments import load_segments_text, parse_config
    from models.training import TrainingConfig
    from models.training_run import train_version

    started = time.perf_counter()
    try:
        config = TrainingConfig(
            calibration_share=calibration_share,
            validation_share=validation_share,
            min_segment_rows=min_segment_rows,
            min_segment_positives=min_segment_positives,
            seed=seed,
        )
    except ValidationError as exc:  # the options' names are the config's fields
        raise CliError(
            "; ".join(
                f"--{str(e['loc'][0]).replace('_', '-')} {e['input']}: {e['msg']}"
                for e in exc.errors()
            )
        ) from None
    segments_text, segments_source = load_segments_text(segments)
    match events, dataset:
        case Path() as log_path, None:
            from returnrisk.features_cli import load_events

            log = load_events(log_path)
            with console.status("replaying orders into a training table"):
                table = build_training_table(log, FeatureConfig(), LabelRule())
            console.log(f"training table: {table.num_rows} orders from {log_path}")
            source = log_path
        case None, Path() as table_path:
            table = read_table(table_path)
            source = table_path
        case _:
            raise CliError("give exactly one of --events FILE.jsonl or --dataset FILE.parquet")
    try:
        data = training_data(table)
    except (DatasetError, FeatureSetMismatch) as exc:  # the table's own words; name its file
        raise CliError(f"{source}: {exc}") from None
    steps = len(parse_config(segments_text, segments_source).segments) + 4
    with _steps(total=steps) as step:
        run = train_version(Registry(registry), data, segments_text, segments_source, config, step)
    _print_summary(run.metrics)
    out.print(f"version {run.version} -> {run.path} in {time.perf_counter() - started:.1f} s")
    overall, baselines = run.metrics["overall"], run.metrics["baselines"]
    print(
        f"AUC model={_auc(overall['auc'])} "
        f"baseline_segment={_auc(baselines['segment_rate']['auc'])} "
        f"baseline_customer={_auc(baselines['customer_rate']['auc'])} "
        f"global_model={_auc(baselines['global_model']['auc'])}"
    )


def _print_summary(metrics: dict[str, Any]) -> None:
    """Data health, then one line per segment: size, which model scores it, AUC against both
    baselines and the global model, ECE."""
    from models.data_health import summary_lines

    if "data_health" in metrics:  # versions trained before it was recorded have none
        for line in summary_lines(metrics["data_health"]):
            out.print(line, markup=False, highlight=False)
    out.print(f"validation: {metrics['validation']['rows']} orders")
    header = ("segment", "n", "pos", "model", "AUC", "seg.rate", "cust.rate", "global", "ECE")
    rows = [header]
    overall, baselines = metrics["overall"], metrics["baselines"]
    rows.append(
        (
            "overall", str(overall["n"]), str(overall["positives"]), "per segment",
            _auc(overall["auc"]), _auc(baselines["segment_rate"]["auc"]),
            _auc(baselines["customer_rate"]["auc"]), _auc(_global_auc(baselines)),
            _auc(overall["ece"]),
        )
    )  # fmt: skip
    for name, m in metrics["segments"].items():
        rows.append(
            (
                name, str(m["n"]), str(m["positives"]),
                f"global ({m['fallback_reason']})" if m["fallback"] else f"own, {m['calibration']}",
                _auc(m["auc"]), _auc(m["baselines"]["segment_rate"]["auc"]),
                _auc(m["baselines"]["customer_rate"]["auc"]),
                _auc(_global_auc(m["baselines"])), _auc(m["ece"]),
            )
        )  # fmt: skip
    _print_rows(rows)
    own = [name for name, m in metrics["segments"].items() if not m["fallback"]]
    out.print(
        f"{len(own)} of {len(metrics['segments'])} segments have a model of their own "
        f"({', '.join(own) or 'none'}); the others use the global model"
    )
    behind = [n for n, m in metrics["segments"].items() if m.get("beats_global_model") is False]
    if behind:
        out.print(f"own model does not beat the global model in: {', '.join(behind)}")


def _global_auc(baselines: dict[str, Any]) -> object:
    """The global model's AUC (absent from versions trained before it was a baseline)."""
    return baselines.get("global_model", {}).get("auc")


def _print_rows(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def score(
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="Version id, 'promoted', 'latest', or the path of a version directory.",
            envvar="RETURNRISK_MODEL",
        ),
    ],
    dataset: Annotated[
        Path,
        typer.Option(
            "--dataset",
            help="Parquet table of feature rows (from `returnrisk features build`).",
            exists=True,
            dir_okay=False,
            envvar="RETURNRISK_SCORE_DATASET",
        ),
    ],
    out_path: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Scores, in the format the extension names: .parquet, .csv (reasons as a "
            "JSON column) or .jsonl (JSON lines).",
            envvar="RETURNRISK_SCORE_OUT",
            dir_okay=False,
        ),
    ],
    registry: Annotated[
        Path | None,
        typer.Option(
            "--registry",
            help="Model registry directory.",
            envvar="RETURNRISK_REGISTRY_DIR",
            exists=True,
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Score every row of a feature table with a model version, with its top 3 reasons.

    Writes segment, calibrated probability, risk band and the top 3 reasons per row. Refuses a
    dataset built with another feature set than the model's."""
    from models.dataset import read_table
    from models.inference import ScoringModel
    from models.offline import score_table, score_writer, write_scores

    started = time.perf_counter()
    score_writer(out_path)  # an unknown extension is refused before any scoring
    path = Path(model)
    if not path.is_dir():
        if registry is None:
            raise CliError("--model is not a directory: give --registry to look it up")
        path = Registry(registry).path(model)
    scoring_model = ScoringModel.load(path)
    table = read_table(dataset)
    if table.num_rows == 0:
        raise CliError(f"{dataset}: the table has no rows to score")
    with console.status(f"scoring {dataset.name} with {scoring_model.version}"):
        scores = score_table(scoring_model, table)
    write_scores(scores, out_path)
    console.print(
        f"{scores.num_rows} rows scored with {scoring_model.version} -> {out_path} "
        f"in {time.perf_counter() - started:.1f} s"
    )


@models_app.command("list")
def list_versions(registry: RegistryOption) -> None:
    """Every version, oldest first, with its validation AUC and ECE; * marks the promoted one."""
    store = Registry(registry)
    pointer = store.read_pointer()
    rows = [("", "version", "created", "rows", "AUC", "ECE", "fallbacks")]
    for summary in store.list_versions():
        metrics_path = summary.path / METRICS
        metrics = read_json(metrics_path, "metrics file") if metrics_path.is_file() else {}
        overall = metrics.get("overall", {})
        fallbacks = [n for n, s in summary.manifest["segments"].items() if s["fallback"]]
        rows.append(
            (
                "*" if pointer and pointer.version == summary.version else "",
                summary.version,
                summary.created_at,
                str(summary.manifest["data"]["labelled_rows"]),
                _auc(overall.get("auc")),
                _auc(overall.get("ece")),
                ",".join(fallbacks) or "-",
            )
        )
    _print_rows(rows)


@models_app.command("show")
def show(
    registry: RegistryOption,
    version: Annotated[str, typer.Argument(help="Version id, 'promoted' or 'latest'.")],
) -> None:
    """A version's manifest summary and metrics per segment; checks its files' checksums."""
    store = Registry(registry)
    path = store.path(version)
    damaged = store.verify(path.name)
    manifest = read_json(path / MANIFEST, "manifest")
    out.print(f"version      {manifest['version']}  ({path})")
    out.print(f"created      {manifest['created_at']}")
    out.print(f"features     {len(manifest['feature_names'])}, hash {manifest['feature_set_hash']}")
    window = manifest["training_window"]
    out.print(
        f"window       train from {window['train_from']}, calibration from "
        f"{window['calibration_from']}, validation {window['validation_from']} .. "
        f"{window['validation_to']}"
    )
    libraries = ", ".join(f"{k} {v}" for k, v in manifest["libraries"].items())
    out.print(f"libraries    {libraries}")
    out.print(f"files        {'intact' if not damaged else 'CHANGED: ' + ', '.join(damaged)}")
    metrics_path = path / METRICS
    if metrics_path.is_file():
        _print_summary(read_json(metrics_path, "metrics file"))
    if damaged:
        raise typer.Exit(1)


@models_app.command("promote")
def promote(
    registry: RegistryOption,
    version: Annotated[str, typer.Argument(help="Version id (or 'latest').")],
) -> None:
    """Make VERSION the one workers score with.

    Workers watch the pointer file. Refuses a version whose files fail their checksums, naming
    them."""
    pointer = Registry(registry).promote(version)
    out.print(f"promoted {pointer.version} (sequence {pointer.sequence})")


@models_app.command("rollback")
def rollback(registry: RegistryOption) -> None:
    """Promote again the version that was promoted before the current one.

    Refused if its files fail their checksums)."""
    pointer = Registry(registry).rollback()
    out.print(f"rolled back to {pointer.version} (sequence {pointer.sequence})")
