"""The one exception the dev commands raise for problems a user can fix."""

from __future__ import annotations


class DevError(RuntimeError):
    """A reason on one line, shown as is by the CLI (no traceback): what failed and what to do."""
