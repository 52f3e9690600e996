"""The worker starts and scores with its working directory and home read-only (issue 25).

What production gives the process (Dockerfile, deploy/kubernetes/worker.yaml): a read-only root
filesystem (`readOnlyRootFilesystem: true`) with HOME and the working directory
/home/returnrisk on it, a writable /tmp (an emptyDir, also numba's kernel cache:
NUMBA_CACHE_DIR=/tmp/numba-cache) and a writable RETURNRISK_WORKER_DATA_DIR (another emptyDir).
The model registry is a read-only volume.

Tests run as root, which ignores permission bits, so the worker runs in a private mount
namespace (`unshare --mount`): there its two writable folders (TMPDIR and the data dir) are
bind-mounted onto themselves and then the root filesystem, with HOME, the working directory, the
checkout, the venv and the registry on it, is remounted read-only. Nothing outside the worker's
namespace changes. A second case points the data dir into the read-only home, so the worker must
fail there: proof that the folders really are read-only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Literal

import pytest

from features.replay import read_log
from producer.send import produce_file
from streams.settings import KafkaSettings, TopicSettings
from tests.fixtures.models import TrainedRegistry
from tests.fixtures.topics import read_until
from tests.fixtures.worker import WorkerProcess

pytestmark = pytest.mark.integration

READY_WITHIN_S = 60
START_FAILS_WITHIN_S = 30

# Run as `sh -c SCRIPT read-only-root HOST_NS WRITABLE... -- COMMAND...` inside `unshare
# --mount`: refuses to touch mounts unless it really is in a mount namespace of its own.
_READ_ONLY_ROOT = """
set -eu
host_ns=$1; shift
if [ "$(readlink /proc/self/ns/mnt)" = "$host_ns" ]; then
    echo "read-only-root: not in a private mount namespace" >&2; exit 97
fi
while [ "$1" != "--" ]; do mount --bind "$1" "$1"; shift; done; shift
mount -o remount,bind,ro /
exec "$@"
"""


def _read_only_root(writable: list[Path], command: list[str]) -> list[str]:
    """`command` with the root filesystem read-only except the folders in `writable`."""
    if shutil.which("unshare") is None:
        pytest.fail("util-linux `unshare` is needed to run the worker read-only", pytrace=False)
    probe = subprocess.run(
        ["unshare", "--mount", "--", "true"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:  # not root, or no CAP_SYS_ADMIN (a container without it)
        pytest.fail(f"cannot make a private mount namespace: {probe.stderr}", pytrace=False)
    host_ns = os.readlink("/proc/self/ns/mnt")
    return [
        "unshare", "--mount", "--propagation", "private", "--",
        "sh", "-c", _READ_ONLY_ROOT, "read-only-root", host_ns,
        *map(str, writable), "--", *command,
    ]  # fmt: skip


class ReadOnlyRootWorker(WorkerProcess):
    """`returnrisk worker` as the image runs it: cwd = HOME, only TMPDIR and the data dir
    writable. `unshare` and `sh` exec the worker, so its pid is the one started here."""

    def __init__(self, env: dict[str, str], log: Path, home: Path, writable: list[Path]) -> None:
        super().__init__(env, log)
        self.home, self.writable = home, writable

    def argv(self) -> list[str]:
        worker = [sys.executable, "-m", "returnrisk", "worker", "--loglevel", "warn"]
        return _read_only_root(self.writable, worker)

    def start(self) -> None:
        with self.log.open("ab") as out:  # opened here, outside the read-only namespace
            self.process = subprocess.Popen(
                self.argv(), env=self.env, cwd=self.home, stdout=out, stderr=subprocess.STDOUT
            )


def _production_like(
    worker_env: dict[str, str], tmp_path: Path, data_dir: Path | None | Literal["default"]
) -> tuple[ReadOnlyRootWorker, dict[str, str]]:
    """A worker with the image's environment. `data_dir` None: the volume the manifest mounts
    (RETURNRISK_WORKER_DATA_DIR=/var/lib/returnrisk); "default": the setting left unset."""
    home, tmp = tmp_path / "home" / "returnrisk", tmp_path / "tmp"
    volume = tmp_path / "var-lib-returnrisk"
    for folder in (home, tmp, volume):
        folder.mkdir(parents=True)
    env = {
        **worker_env,
        "HOME": str(home),
        "TMPDIR": str(tmp),  # /tmp, the emptyDir
        "NUMBA_CACHE_DIR": str(tmp / "numba-cache"),
        "RETURNRISK_WORKER_DATA_DIR": str(data_dir or volume),
    }
    if data_dir == "default":
        del env["RETURNRISK_WORKER_DATA_DIR"]
    worker = ReadOnlyRootWorker(env, tmp_path / "worker.log", home, [tmp, volume])
    return worker, env


def _wait_ready(worker: WorkerProcess, port: str) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while True:
        worker.check_alive()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not ready within {READY_WITHIN_S} s: {worker.log.read_text()[-3000:]}"
            )
        time.sleep(0.5)


def _slice_of(log: Path, out: Path, fraction: float) -> set[str]:
    """The first `fraction` of the log's lines in `out`; the ids of its orders and returns."""
    lines = log.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[: int(len(lines) * fraction)]))
    events, _ = read_log(out)
    return {e.event_id for e in events if e.event_type in ("order_placed", "return_requested")}


@pytest.mark.parametrize("data_dir", ["manifest volume", "default"])
def test_the_worker_starts_scores_and_stops_with_its_home_and_working_directory_read_only(
    data_dir: str,
    worker_env: dict[str, str],
    kafka_settings: KafkaSettings,
    fresh_topics: TopicSettings,
    trained_registry: TrainedRegistry,
    tmp_path: Path,
) -> None:
    """`manifest volume`: the data dir the manifest mounts; `default`: no setting, so faust's
    folder goes to $TMPDIR/returnrisk (the default must work under a read-only root too)."""
    worker, env = _production_like(
        worker_env, tmp_path, data_dir="default" if data_dir == "default" else None
    )
    written = Path(env.get("RETURNRISK_WORKER_DATA_DIR", Path(env["TMPDIR"]) / "returnrisk"))
    log = tmp_path / "events.jsonl"
    expected = _slice_of(trained_registry.log, log, 0.25)
    worker.start()
    try:
        _wait_ready(worker, env["RETURNRISK_WORKER_METRICS_PORT"])
        produce_file(log, kafka_settings, fresh_topics)

        def scored_all(values: dict[str, list[bytes]]) -> bool:
            worker.check_alive()
            sources = {json.loads(v)["source_event_id"] for v in values[fresh_topics.scores]}
            return sources >= expected

        values = read_until(kafka_settings, [fresh_topics.scores], scored_all, timeout_s=90)
        sources = [json.loads(v)["source_event_id"] for v in values[fresh_topics.scores]]
        assert set(sources) == expected, worker.log.read_text()[-3000:]
        worker.terminate_cleanly()
    finally:
        worker.stop()
    assert list(worker.home.iterdir()) == []
    # it wrote where production lets it: faust's folder in the data dir, numba's kernels in /tmp
    assert any(written.iterdir()), f"nothing of faust's in {written}"
    assert any(Path(env["NUMBA_CACHE_DIR"]).rglob("*.nbi"))


def test_the_check_can_fail_a_data_dir_in_the_read_only_home_stops_the_start(
    worker_env: dict[str, str], tmp_path: Path
) -> None:
    """The same worker with its data dir in its home: the home really is read-only there."""
    home = tmp_path / "home" / "returnrisk"
    worker, env = _production_like(worker_env, tmp_path, data_dir=home / "data")
    started = time.monotonic()
    done = subprocess.run(
        worker.argv(),
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=START_FAILS_WITHIN_S + 30,
        check=False,
    )
    took = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode not in (0, 97), output
    assert took < START_FAILS_WITHIN_S, output
    assert "Read-only file system" in output, output
    assert not (home / "data").exists()
