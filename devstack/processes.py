"""Start servers detached from the CLI, and stop only the exact process that was started.

A pid alone is not an identity: once a process is gone its number can be reused by an
unrelated one, so records keep the creation time too and nothing is signalled unless both match.
"""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

from devstack.errors import DevError

try:
    import psutil
except ImportError:  # pragma: no cover - psutil comes with the `local` extra
    raise DevError("psutil is not installed: pip install 'returnrisk[local]'") from None

logger = logging.getLogger(__name__)

_POLL_INTERVAL_S = 0.05

# Popen objects of servers started by this Python process, so that stopping one also reaps it
# (matters when `dev up` and `dev down` run in one process, as in tests).
_children: dict[int, subprocess.Popen[bytes]] = {}


def spawn(argv: list[str], log_file: Path) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session (Ctrl-C on the CLI does not reach it), output to a log."""
    with log_file.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - argv is a resolved binary and our own flags
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    _children[process.pid] = process
    logger.debug("started %s (pid %d), log %s", argv[0], process.pid, log_file)
    return process


def created_at(pid: int) -> float:
    return float(psutil.Process(pid).create_time())


def find(pid: int, created: float) -> psutil.Process | None:
    """The running process with this pid and creation time, or None."""
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - created) > 1.0:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.NoSuchProcess:
        return None
    return process


def stop(pid: int, created: float, timeout_s: float) -> bool:
    """SIGTERM, then SIGKILL after `timeout_s`; False when the process had already gone."""
    process = find(pid, created)
    if process is None:
        _reap(pid)
        return False
    process.terminate()
    if not _wait_gone(pid, created, timeout_s):
        logger.warning("pid %d ignored SIGTERM for %.0f s, killing it", pid, timeout_s)
        process.kill()
        _wait_gone(pid, created, timeout_s)
    _reap(pid)
    return True


def _wait_gone(pid: int, created: float, timeout_s: float) -> bool:
    # A bounded poll rather than psutil's wait(): that one waits for the parent to reap, and
    # an exited server whose parent (the finished `dev up`) is gone may stay a zombie for a while.
    deadline = time.monotonic() + timeout_s
    while find(pid, created) is not None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_INTERVAL_S)
    return True


def _reap(pid: int) -> None:
    child = _children.pop(pid, None)
    if child is not None:
        child.wait()


def rss_bytes(pid: int, created: float) -> int | None:
    process = find(pid, created)
    if process is None:
        return None
    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return None
