"""What `dev up` started, kept in a JSON file so that `dev down` stops exactly that and no more.

A server that was already answering (a system Redis, a broker from another tool) is never
recorded, hence never stopped.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from devstack.endpoints import Endpoint
from devstack.errors import DevError

STATE_FILE = "state.json"


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    """One server `dev up` started: enough to find it again, stop it and point at its log."""

    name: str
    pid: int
    created_at: float
    host: str
    port: int
    binary: str
    log_file: str

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.host, self.port)


def load(state_dir: Path) -> dict[str, ServiceRecord]:
    path = state_dir / STATE_FILE
    try:
        raw = json.loads(path.read_text())
        return {name: ServiceRecord(**fields) for name, fields in raw["services"].items()}
    except FileNotFoundError:
        return {}
    except (ValueError, KeyError, TypeError) as exc:
        raise DevError(f"unreadable dev state file {path} ({exc}); delete it and retry") from None


def save(state_dir: Path, records: dict[str, ServiceRecord]) -> None:
    """Write atomically, so an interrupted `dev up` never leaves half a file."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / STATE_FILE
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    payload = {"services": {name: asdict(record) for name, record in records.items()}}
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)


def clear(state_dir: Path, records: dict[str, ServiceRecord]) -> None:
    """Remove the state file and the recorded logs, then the folder if nothing else is in it."""
    for path in [state_dir / STATE_FILE, *(Path(r.log_file) for r in records.values())]:
        path.unlink(missing_ok=True)
    try:
        state_dir.rmdir()
    except OSError:
        pass
