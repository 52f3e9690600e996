"""The registry: versions appear whole and stay as written; the pointer moves atomically."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models.registry import MANIFEST, Registry, RegistryError, new_version_id, write_json


def add_version(registry: Registry, when: datetime, payload: str = "model") -> str:
    with registry.staging() as staged:
        (staged / "models").mkdir()
        (staged / "models" / "global.txt").write_text(payload)
        version = new_version_id(when)
        write_json(
            staged / MANIFEST,
            {
                "version": version,
                "created_at": when.isoformat(),
                "files": {"models/global.txt": _sha(staged / "models" / "global.txt")},
            },
        )
        registry.publish(staged, version)
    return version


def _sha(path: Path) -> str:
    from models.registry import sha256_file

    return sha256_file(path)


def test_versions_are_listed_oldest_first_read_only_and_staging_is_cleaned(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    older = add_version(registry, datetime(2025, 1, 1, tzinfo=UTC))
    newer = add_version(registry, datetime(2025, 2, 1, tzinfo=UTC))
    assert [v.version for v in registry.list_versions()] == [older, newer]
    assert registry.path("latest").name == newer
    mode = (registry.path(older) / "models" / "global.txt").stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert list((tmp_path / ".staging").iterdir()) == []
    assert registry.verify(older) == []


def test_a_changed_file_is_detected(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    version = add_version(registry, datetime(2025, 1, 1, tzinfo=UTC))
    model = registry.path(version) / "models" / "global.txt"
    model.chmod(0o644)
    model.write_text("tampered")
    assert registry.verify(version) == ["models/global.txt"]


def test_publishing_never_overwrites(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    version = add_version(registry, datetime(2025, 1, 1, tzinfo=UTC))
    with registry.staging() as staged, pytest.raises(RegistryError, match="immutable"):
        registry.publish(staged, version)


def test_promote_rollback_and_the_pointer_a_worker_watches(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    first = add_version(registry, datetime(2025, 1, 1, tzinfo=UTC))
    second = add_version(registry, datetime(2025, 2, 1, tzinfo=UTC))
    assert registry.read_pointer() is None and registry.pointer_stamp() is None
    with pytest.raises(RegistryError, match="no earlier promoted version"):
        registry.rollback()

    pointer = registry.promote(first)
    assert (pointer.version, pointer.sequence, pointer.history) == (first, 1, ())
    stamp = registry.pointer_stamp()
    pointer = registry.promote(second)
    assert (pointer.version, pointer.sequence, pointer.history) == (second, 2, (first,))
    assert registry.pointer_stamp() != stamp  # a new file (os.replace): the inode changes
    assert registry.read_pointer() == pointer
    assert registry.path("promoted").name == second
    with pytest.raises(RegistryError, match="already the promoted version"):
        registry.promote(second)

    pointer = registry.rollback()
    assert (pointer.version, pointer.sequence, pointer.history) == (first, 3, ())
    assert json.loads(registry.pointer_path.read_text())["version"] == first
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".promoted")]  # no temp files


def test_unknown_or_malformed_versions_are_refused(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    with pytest.raises(RegistryError, match="not a version id"):
        registry.path("../../etc")
    with pytest.raises(RegistryError, match="no version '20250101T000000Z-abcdef'"):
        registry.promote("20250101T000000Z-abcdef")
    with pytest.raises(RegistryError, match="no version has been promoted"):
        registry.path("promoted")
