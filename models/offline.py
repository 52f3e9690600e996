"""`returnrisk score`: score every row of a training-table-shaped parquet file with a version.

The rows go through the same `ScoringModel.score_matrix` as a worker's batches (segments by
the version's rules, one call per model, calibrated probability, band and reasons); only the
way rows are read differs (parquet columns instead of feature dicts).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from explain.reasons import Getter
from models.dataset import feature_columns, segment_rows, table_hash
from models.inference import ScoringModel

logger = logging.getLogger(__name__)

PASSED_THROUGH = ("order_id", "customer_id", "event_id", "occurred_at", "label")
REASON_TYPE = pa.list_(
    pa.struct([("code", pa.string()), ("text", pa.string()), ("contribution", pa.float64())])
)


def score_table(model: ScoringModel, table: pa.Table) -> pa.Table:
    """The id columns of `table` with segment, probability, band, reasons and model version.

    Refuses (`FeatureSetMismatch`) a table built with another feature set than the model's.
    """
    model.check_feature_set(table_hash(table), "the dataset")
    columns, attributes = feature_columns(table)
    segments = model.segments.assign(
        segment_rows(columns, attributes, model.segments.referenced_names)
    )
    matrix = model.encoder.encode_columns(columns)

    def row_getter(index: int) -> Getter:
        return lambda name: columns[name][index] if name in columns else None

    scores = model.score_matrix(matrix, segments, row_getter)
    output = {name: table.column(name) for name in PASSED_THROUGH if name in table.column_names}
    output["segment"] = pa.array([s.segment for s in scores], pa.string())
    output["probability"] = pa.array([s.probability for s in scores], pa.float64())
    output["band"] = pa.array([s.band.value for s in scores], pa.string())
    output["reasons"] = pa.array([[r.model_dump() for r in s.reasons] for s in scores], REASON_TYPE)
    output["model_version"] = pa.array([model.version] * len(scores), pa.string())
    return pa.table(output, metadata={b"returnrisk.model_version": model.version.encode()})


def _write_jsonl(scores: pa.Table, out: Path) -> None:
    with out.open("w", encoding="utf-8") as handle:
        for row in scores.to_pylist():
            row["occurred_at"] = row["occurred_at"].isoformat() if row.get("occurred_at") else None
            handle.write(json.dumps(row, sort_keys=True) + "\n")


def _write_csv(scores: pa.Table, out: Path) -> None:
    """CSV has no nested values: the reasons column holds each row's reasons as JSON."""
    reasons = [json.dumps(r, sort_keys=True) for r in scores.column("reasons").to_pylist()]
    flat = scores.set_column(
        scores.column_names.index("reasons"), "reasons", pa.array(reasons, pa.string())
    )
    pa_csv.write_csv(flat, out)


def _write_parquet(scores: pa.Table, out: Path) -> None:
    pq.write_table(scores, out, compression="zstd")


class UnknownScoreFormat(ValueError):
    """An output path whose extension names no format `write_scores` writes."""


Writer = Callable[[pa.Table, Path], None]
_WRITERS: dict[str, Writer] = {
    ".parquet": _write_parquet,
    ".csv": _write_csv,
    ".jsonl": _write_jsonl,
}


def score_writer(out: Path) -> Writer:
    """The writer of the format `out`'s extension names; call it before scoring to refuse an
    unknown extension early (a .csv once silently got Parquet)."""
    writer = _WRITERS.get(out.suffix)
    if writer is None:
        raise UnknownScoreFormat(
            f"{out}: unknown extension {out.suffix!r}; scores are written as {', '.join(_WRITERS)}"
        )
    return writer


def write_scores(scores: pa.Table, out: Path) -> None:
    """In the format `out`'s extension names: Parquet, CSV (reasons as JSON text) or JSONL."""
    writer = score_writer(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer(scores, out)
