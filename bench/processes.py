"""Child processes of the bench (faust forwarder, worker): environment, start and stop.

They run in a scratch folder (faust writes `<app id>-data/` into its working directory), with
the project on PYTHONPATH so `python -m returnrisk` works from there.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from bench.errors import BenchError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_STOP_TIMEOUT_S = 20.0


def python_command(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


OWN_SETTINGS = ("RETURNRISK_KAFKA_", "RETURNRISK_REDIS_")
"""Children get these sections from the bench's own settings objects (`streams.settings.
settings_env`), never from the bench's environment: a variable the bench's settings left unset
(a SASL mechanism, say) must not reach a child either."""


def subprocess_env(extra: Mapping[str, str]) -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(OWN_SETTINGS)}
    return {
        **inherited,
        "PYTHONPATH": f"{PROJECT_ROOT}{os.pathsep}{path}" if path else str(PROJECT_ROOT),
        **extra,
    }


class ChildProcess:
    """One child with its output in a log file; `stop` terminates it, then kills if needed."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], cwd: Path) -> None:
        self.name, self.log = name, cwd / f"{name}.log"
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(  # noqa: S603 - our own modules, fixed arguments
                argv,
                env=subprocess_env(env),
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def check_alive(self) -> None:
        """Raise with the tail of its log if it has exited."""
        code = self._process.poll()
        if code is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise BenchError(f"the {self.name} exited with {code}; its log ends:\n{tail}")

    def stop(self) -> None:
        if self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=_STOP_TIMEOUT_S)


def free_port() -> int:
    """A loopback port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
