"""Start one server and wait, in a bounded loop, until it answers.

The command lines live here: tansu with memory storage, Redis with no persistence; both bound
to the endpoint's loopback address only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from devstack import processes
from devstack.endpoints import Endpoint, require_loopback
from devstack.errors import DevError
from devstack.state import ServiceRecord

logger = logging.getLogger(__name__)

_POLL_INTERVAL_S = 0.05


def tansu_argv(binary: str, endpoint: Endpoint) -> list[str]:
    # Flags, not tansu's environment variables (LISTENER_URL, STORAGE_ENGINE, ...), so that a
    # stray variable in the user's shell cannot change where it listens or what it stores.
    return [
        binary,
        "broker",
        "--listener-url",
        f"tcp://{endpoint.bind}",
        "--advertised-listener-url",
        f"tcp://{endpoint}",
        "--storage-engine",
        "memory://tansu/",
    ]


def redis_argv(binary: str, endpoint: Endpoint, work_dir: Path) -> list[str]:
    return [
        binary,
        "--bind",
        endpoint.bind.host,
        "--port",
        str(endpoint.port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "yes",
        "--daemonize",
        "no",
        "--dir",
        str(work_dir),
    ]


def launch(
    name: str,
    argv: list[str],
    endpoint: Endpoint,
    log_file: Path,
    ready: Callable[[], bool],
    timeout_s: float,
) -> ServiceRecord:
    """Spawn `argv` and return its record once `ready()`; on failure stop it and raise."""
    require_loopback(endpoint, name)
    process = processes.spawn(argv, log_file)
    record = ServiceRecord(
        name=name,
        pid=process.pid,
        created_at=processes.created_at(process.pid),
        host=endpoint.host,
        port=endpoint.port,
        binary=argv[0],
        log_file=str(log_file),
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            logger.info("%s answers on %s (pid %d)", name, endpoint, process.pid)
            return record
        code = process.poll()
        if code is not None:
            processes.stop(record.pid, record.created_at, timeout_s=1.0)
            raise DevError(
                f"{name} exited during startup (code {code}): {_last_line(log_file)} "
                f"(log: {log_file})"
            )
        time.sleep(_POLL_INTERVAL_S)
    processes.stop(record.pid, record.created_at, timeout_s=5.0)
    raise DevError(f"{name} did not answer on {endpoint} within {timeout_s:g} s (log: {log_file})")


def _last_line(log_file: Path) -> str:
    try:
        lines = log_file.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1].strip() if lines else "no output"
