"""Order-line tables in chunks: CSV, gzip CSV (told apart by their first bytes) and Parquet.

Each chunk is a pyarrow record batch holding only the mapped columns, renamed to the mapping's
field names, with the 1-based number of every data row (the header is not a row; in a CSV
whose values never span lines, data row n is line n + 1). A CSV row with too few or too many
fields is not a chunk row: it is handed back as a `MalformedRow` for the rejects file, and the
rows after it keep their numbers. A file that cannot be read at all raises `InputFileError`
naming the file and the problem; nothing is read past it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ingest.errors import InputFileError
from ingest.mapping import Mapping

Format = Literal["csv", "gzip", "parquet"]

CHUNK_BYTES = 4 << 20
"""CSV block size: about 40,000 order lines per chunk."""
CHUNK_ROWS = 50_000
"""Parquet rows per chunk."""
_SNIFF = 4096


@dataclass(frozen=True, slots=True)
class MalformedRow:
    """A CSV row that could not be split into the header's fields."""

    row: int
    reason: str


@dataclass(frozen=True, slots=True)
class Chunk:
    batch: pa.RecordBatch
    rows: np.ndarray[Any, np.dtype[np.int64]]
    malformed: list[MalformedRow] = field(default_factory=list)
    done_bytes: int = 0
    """How far into the file (its bytes on disk) reading has got, for a progress bar."""


def detect_format(path: Path) -> Format:
    """gzip and Parquet by their magic bytes; anything else is read as CSV text."""
    try:
        with path.open("rb") as f:
            head = f.read(_SNIFF)
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"PAR1":
        return "parquet"
    if b"\x00" in head:
        raise InputFileError(path, "not a CSV, gzip CSV or Parquet file (binary content)")
    return "csv"


def check_file(path: Path, mapping: Mapping) -> None:
    """Raise `InputFileError` unless `path` is a table of a known kind with the mapped columns
    (reads only its header), so every input is checked before any is imported."""
    kind = detect_format(path)
    if kind == "parquet":
        _missing(path, _parquet_names(path), mapping)
    else:
        _missing(path, _csv_names(path, mapping, gzipped=kind == "gzip"), mapping)


def read_chunks(path: Path, mapping: Mapping) -> Iterator[Chunk]:
    """The mapped columns of `path` in chunks, in file order."""
    kind = detect_format(path)
    if kind == "parquet":
        yield from _parquet_chunks(path, mapping)
    else:
        yield from _csv_chunks(path, mapping, gzipped=kind == "gzip")


def _missing(path: Path, names: list[str], mapping: Mapping) -> None:
    wanted = mapping.columns.named()
    missing = [column for column in wanted.values() if column not in names]
    if missing:
        shown = ", ".join(repr(n[:40]) for n in names[:10]) + (", ..." if len(names) > 10 else "")
        raise InputFileError(
            path,
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} named by "
            f"mapping {mapping.name} (its columns: {shown or 'none'})",
        )


def _renamed(batch: pa.RecordBatch, mapping: Mapping) -> pa.RecordBatch:
    wanted = mapping.columns.named()
    return pa.RecordBatch.from_arrays(
        [batch.column(column) for column in wanted.values()], names=list(wanted)
    )


def _open_csv(
    path: Path, mapping: Mapping, gzipped: bool, columns: list[str] | None, handler: Any = None
) -> tuple[pa.NativeFile, pa_csv.CSVStreamingReader]:
    raw = pa.OSFile(str(path), "rb")
    source = pa.CompressedInputStream(raw, "gzip") if gzipped else raw
    convert = pa_csv.ConvertOptions(
        include_columns=columns or [],
        column_types=dict.fromkeys(columns or [], pa.string()),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    reader = pa_csv.open_csv(
        source,
        read_options=pa_csv.ReadOptions(
            use_threads=False, block_size=CHUNK_BYTES, encoding=mapping.encoding
        ),
        parse_options=pa_csv.ParseOptions(delimiter=mapping.delimiter, invalid_row_handler=handler),
        convert_options=convert,
    )
    return raw, reader


def _problem(exc: BaseException, gzipped: bool) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, EOFError) or "truncated" in text.lower():
        return "the file ends early (a truncated gzip stream)" if gzipped else text
    if "invalid UTF8" in text or "decode" in text.lower():
        return f"not text in the mapping's encoding ({text})"
    if "Empty CSV file" in text:
        return "the file is empty"
    return text


def _csv_names(path: Path, mapping: Mapping, *, gzipped: bool) -> list[str]:
    try:
        # The first block is parsed to find the header: its bad rows are skipped here and
        # reported by the real read.
        raw, header_reader = _open_csv(path, mapping, gzipped, None, lambda _row: "skip")
        raw.close()
        return list(header_reader.schema.names)
    except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputFileError(path, _problem(exc, gzipped)) from None


def _csv_chunks(path: Path, mapping: Mapping, *, gzipped: bool) -> Iterator[Chunk]:
    _missing(path, _csv_names(path, mapping, gzipped=gzipped), mapping)
    bad: list[MalformedRow] = []

    def on_bad_row(row: Any) -> str:
        number = int(row.number) - 1 if row.number is not None else 0
        reason = f"{row.actual_columns} fields where the header has {row.expected_columns}"
        bad.append(MalformedRow(number, reason))
        return "skip"

    next_row = 1
    try:
        columns = list(mapping.columns.named().values())
        raw, reader = _open_csv(path, mapping, gzipped, columns, on_bad_row)
        with raw:
            for batch in reader:
                rows, next_row = _number_rows(batch.num_rows, next_row, bad)
                chunk_bad = [b for b in bad if b.row < next_row]
                bad[:] = [b for b in bad if b.row >= next_row]
                yield Chunk(_renamed(batch, mapping), rows, chunk_bad, raw.tell())
    except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputFileError(path, _problem(exc, gzipped)) from None
    if bad:  # rows past the last parsed one
        empty = _renamed(_empty(mapping), mapping)
        yield Chunk(empty, np.empty(0, np.int64), bad, path.stat().st_size)


def _empty(mapping: Mapping) -> pa.RecordBatch:
    columns = list(mapping.columns.named().values())
    return pa.RecordBatch.from_arrays([pa.array([], pa.string()) for _ in columns], names=columns)


def _number_rows(
    count: int, first: int, bad: list[MalformedRow]
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], int]:
    """Numbers of `count` parsed rows from `first` on, passing over the skipped rows' numbers."""
    skipped = sorted(b.row for b in bad if b.row >= first)
    numbers = np.arange(first, first + count + len(skipped), dtype=np.int64)
    if skipped:
        numbers = numbers[~np.isin(numbers, skipped)][:count]
    last = int(numbers[-1]) if count else first - 1
    # Skipped rows right after this batch's last row belong to it (they are before the next).
    end = last + 1
    while end in skipped:
        end += 1
    return numbers, end


def _parquet_file(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(str(path))
    except (pa.ArrowException, OSError) as exc:
        raise InputFileError(
            path, f"not a readable Parquet file ({_problem(exc, False)})"
        ) from None


def _parquet_names(path: Path) -> list[str]:
    return list(_parquet_file(path).schema_arrow.names)


def _parquet_chunks(path: Path, mapping: Mapping) -> Iterator[Chunk]:
    table = _parquet_file(path)
    _missing(path, list(table.schema_arrow.names), mapping)
    total = max(table.metadata.num_rows, 1)
    size = path.stat().st_size
    next_row = 1
    try:
        for batch in table.iter_batches(
            batch_size=CHUNK_ROWS, columns=list(mapping.columns.named().values())
        ):
            rows = np.arange(next_row, next_row + batch.num_rows, dtype=np.int64)
            next_row += batch.num_rows
            yield Chunk(_renamed(batch, mapping), rows, [], size * (next_row - 1) // total)
    except (pa.ArrowException, OSError) as exc:
        raise InputFileError(path, _problem(exc, False)) from None
