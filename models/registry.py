"""The model registry: immutable version directories and a promoted-version pointer.

Layout of a registry directory::

    versions/<version>/manifest.json    what the version is: features, segments, windows,
                                        data statistics, library versions, file checksums
    versions/<version>/features.json    ordered feature list, hash, categorical vocabularies
    versions/<version>/calibrators.json one calibrator per segment, and the global one
    versions/<version>/segments.yaml    the segment rules, verbatim
    versions/<version>/models/*.txt     LightGBM models: one per segment, and global.txt
    versions/<version>/metrics.json     evaluation on the validation rows
    versions/<version>/report.html      the same, with charts, self-contained
    promoted.json                       the pointer: version, sequence, history

A version is assembled in a staging directory and appears under `versions/` in one
`os.rename`, so a reader never sees half a version; its files are then made read-only, and
the manifest holds the SHA-256 of every model artefact, which loading and `verify` check.
The pointer is rewritten with `os.replace` (atomic on POSIX): a worker polls
`pointer_stamp` (one `stat`) and re-reads `read_pointer` only when it changed; `sequence`
grows by one on every promote or rollback.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

VERSIONS = "versions"
STAGING = ".staging"
POINTER = "promoted.json"
LOCK = ".lock"
MANIFEST = "manifest.json"
FEATURES = "features.json"
CALIBRATORS = "calibrators.json"
SEGMENTS = "segments.yaml"
METRICS = "metrics.json"
REPORT = "report.html"
MODELS = "models"
FORMAT = 1
VERSION_PATTERN = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6,12}$")


class RegistryError(ValueError):
    """A registry operation that cannot be done; the message says which and why."""


class RegistryDamaged(RegistryError):
    """A registry file is not what was written: not JSON, fields missing, or a version's files
    no longer matching their checksums. The message names the file(s)."""


@dataclass(frozen=True, slots=True)
class Pointer:
    version: str
    sequence: int
    promoted_at: str
    history: tuple[str, ...]
    """Previously promoted versions, most recent first: what `rollback` goes back to."""


@dataclass(frozen=True, slots=True)
class VersionSummary:
    version: str
    created_at: str
    path: Path
    manifest: dict[str, Any]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_version_id(created_at: datetime) -> str:
    """A sortable, unique id: the UTC creation time and a random suffix."""
    return f"{created_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A registry file's JSON object; `RegistryError` naming the file when it is not one."""
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryDamaged(f"{path}: corrupt {what}, not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RegistryDamaged(f"{path}: corrupt {what}, not a JSON object")
    return data


class Registry:
    """A registry directory; created on first write."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def versions_dir(self) -> Path:
        return self.root / VERSIONS

    # versions ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A private directory to assemble a version in; removed unless published."""
        path = self.root / STAGING / uuid.uuid4().hex
        path.mkdir(parents=True)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def publish(self, staged: Path, version: str) -> Path:
        """Move a staged version into `versions/` and freeze its files; never overwrites."""
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        target = self.versions_dir / version
        if target.exists():
            raise RegistryError(f"{target} already exists; versions are immutable")
        os.rename(staged, target)
        for path in target.rglob("*"):
            if path.is_file():
                path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        logger.info("published model version %s", version)
        return target

    def path(self, version: str) -> Path:
        """The directory of `version`; 'promoted' and 'latest' are accepted as aliases."""
        if version == "promoted":
            pointer = self.read_pointer()
            if pointer is None:
                raise RegistryError(f"{self.root}: no version has been promoted yet")
            version = pointer.version
        elif version == "latest":
            versions = self.list_versions()
            if not versions:
                raise RegistryError(f"{self.root}: the registry has no versions")
            version = versions[-1].version
        if not VERSION_PATTERN.match(version):
            raise RegistryError(f"{version!r} is not a version id (like 20250101T120000Z-1a2b3c)")
        path = self.versions_dir / version
        if not (path / MANIFEST).is_file():
            raise RegistryError(
                f"{self.root}: no version {version!r} (see `returnrisk models list`)"
            )
        return path

    def list_versions(self) -> list[VersionSummary]:
        """Every complete version, oldest first."""
        if not self.versions_dir.is_dir():
            return []
        summaries = []
        for path in self.versions_dir.iterdir():
            manifest_path = path / MANIFEST
            if not (VERSION_PATTERN.match(path.name) and manifest_path.is_file()):
                continue
            manifest = read_json(manifest_path, "manifest")
            if not isinstance(created_at := manifest.get("created_at"), str):
                raise RegistryDamaged(f"{manifest_path}: corrupt manifest, no created_at")
            summaries.append(VersionSummary(path.name, created_at, path, manifest))
        return sorted(summaries, key=lambda s: (s.created_at, s.version))

    def verify(self, version: str) -> list[str]:
        """Files whose checksum differs from the manifest's (empty when intact)."""
        path = self.path(version)
        files = read_json(path / MANIFEST, "manifest").get("files")
        if not isinstance(files, dict) or not files:
            raise RegistryDamaged(f"{path / MANIFEST}: corrupt manifest, no file checksums")
        return [
            name
            for name, expected in sorted(files.items())
            if not (path / name).is_file() or sha256_file(path / name) != expected
        ]

    def require_intact(self, version: str) -> None:
        """Refuse a version whose files no longer match their checksums: promoted, it would
        fail to load in every worker, or score with a model nobody evaluated."""
        if damaged := self.verify(version):
            raise RegistryDamaged(
                f"{self.versions_dir / version}: {len(damaged)} file(s) fail their checksums "
                f"({', '.join(damaged)}); it cannot be promoted"
            )

    # the promoted pointer --------------------------------------------------------------------

    @property
    def pointer_path(self) -> Path:
        return self.root / POINTER

    def pointer_stamp(self) -> tuple[int, int] | None:
        """(mtime in ns, inode) of the pointer file, or None: one `stat`, cheap to poll."""
        try:
            info = self.pointer_path.stat()
        except FileNotFoundError:
            return None
        return info.st_mtime_ns, info.st_ino

    def read_pointer(self) -> Pointer | None:
        """The promoted version, or None before the first promote; `RegistryError` naming the
        file when it is corrupt."""
        try:
            text = self.pointer_path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
            return Pointer(
                str(data["version"]),
                int(data["sequence"]),
                str(data["promoted_at"]),
                tuple(str(v) for v in data["history"]),
            )
        except (KeyError, TypeError, ValueError) as exc:  # JSON and Unicode errors included
            raise RegistryDamaged(
                f"{self.pointer_path}: corrupt pointer file ({type(exc).__name__}: {exc}); "
                "restore it, or delete it and promote a version again"
            ) from None

    def promote(self, version: str) -> Pointer:
        """Point workers at `version`; the version it replaces can be rolled back to."""
        version = self.path(version).name  # pin aliases such as "latest" to a version id
        self.require_intact(version)
        with self._locked():
            current = self.read_pointer()
            if current is not None and current.version == version:
                raise RegistryError(f"{version} is already the promoted version")
            history = () if current is None else (current.version, *current.history)
            return self._write_pointer(version, current, history)

    def rollback(self) -> Pointer:
        """Re-promote the version that was promoted before the current one."""
        with self._locked():
            current = self.read_pointer()
            if current is None or not current.history:
                raise RegistryError(
                    f"{self.root}: there is no earlier promoted version to roll back to"
                )
            self.require_intact(current.history[0])
            return self._write_pointer(current.history[0], current, current.history[1:])

    def _write_pointer(
        self, version: str, current: Pointer | None, history: tuple[str, ...]
    ) -> Pointer:
        pointer = Pointer(
            version,
            1 if current is None else current.sequence + 1,
            datetime.now(UTC).isoformat(timespec="seconds"),
            history,
        )
        temporary = self.root / f".{POINTER}.{uuid.uuid4().hex}"
        with temporary.open("w") as handle:
            json.dump(
                {
                    "version": pointer.version,
                    "sequence": pointer.sequence,
                    "promoted_at": pointer.promoted_at,
                    "history": list(pointer.history),
                },
                handle,
                indent=2,
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.pointer_path)
        logger.info("promoted %s (sequence %d)", version, pointer.sequence)
        return pointer

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise pointer updates between processes (two promotes never lose one)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / LOCK).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
