"""A worker's life: ready or not, why it must exit, and deadlines that bound its start and stop.

faust restarts a crashed agent every few seconds forever and keeps /metrics answering, so a
worker that cannot run looked alive to Kubernetes. Here a worker whose pipeline cannot start or
stops with an error exits non-zero with one line naming the cause (`fatal`), and `ready` is
true only while the pipeline runs and the consumer has joined its group (`/ready`,
`returnrisk_ready`).

A stop asked by SIGTERM or SIGINT, or by `fatal`, must end within `stop_timeout_s` whatever
Redis and the broker do (faust's own shutdown can wait on a frozen Redis or an unreachable
broker for minutes). Offsets are committed only for delivered batches, so a worker that has
to exit before its shutdown finishes leaves nothing committed for the unfinished batch: the
watchdog ends the process, and the batch is redelivered to whichever worker reads the partition
next.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from streams import metrics

logger = logging.getLogger(__name__)


class Lifecycle:
    def __init__(self, *, start_timeout_s: float, stop_timeout_s: float) -> None:
        self._start_timeout_s, self._stop_timeout_s = start_timeout_s, stop_timeout_s
        self._started_at = time.monotonic()
        self._pipeline_running = False
        self._joined = False
        self._stop: Callable[[], None] | None = None
        self._on_forced_exit: list[Callable[[], None]] = []
        self._watchdog: threading.Timer | None = None
        self.exit_code = 0
        self.stopping = False
        metrics.READY.set(0)

    @property
    def ready(self) -> bool:
        return self._pipeline_running and self._joined and not self.stopping

    def count_start_from(self, started_at: float) -> None:
        """When the worker's process began starting (`time.monotonic()`), so that the checks
        before the app was built count against the start timeout too."""
        self._started_at = started_at

    def set_stop(self, stop: Callable[[], None]) -> None:
        """How to ask the worker to stop (from its event loop)."""
        self._stop = stop

    def on_forced_exit(self, callback: Callable[[], None]) -> None:
        """Run just before the watchdog ends the process (e.g. kill the pipeline's process)."""
        self._on_forced_exit.append(callback)

    def pipeline_running(self, running: bool) -> None:
        self._pipeline_running = running
        self._show()

    def joined(self) -> None:
        """The consumer got an assignment (possibly empty) from its group."""
        self._joined = True
        self._show()

    def start_overdue(self) -> bool:
        """Not ready although the start timeout has passed since the worker started."""
        late = time.monotonic() - self._started_at > self._start_timeout_s
        return late and not self.ready and not self.stopping

    def fatal(self, message: str) -> None:
        """The worker cannot go on: say why once, on one line, and stop with exit code 1."""
        if self.exit_code == 0:
            self.exit_code = 1
            logger.critical("%s", message)
        self.stop()

    def stop(self) -> None:
        """Begin a stop bounded by the stop timeout (asked again, it changes nothing)."""
        if self.stopping:
            return
        self.stopping = True
        self._show()
        self._watchdog = threading.Timer(self._stop_timeout_s, self._force_exit)
        self._watchdog.daemon = True
        self._watchdog.start()
        if self._stop is not None:
            self._stop()

    def _force_exit(self) -> None:
        """In the watchdog's thread: the stop took too long."""
        logger.error(
            "the worker did not stop within %s s (RETURNRISK_WORKER_STOP_TIMEOUT_S); exiting "
            "now: its unfinished batch is not committed and will be delivered again",
            self._stop_timeout_s,
        )
        for callback in self._on_forced_exit:
            try:
                callback()
            except Exception:  # noqa: BLE001 - exiting anyway
                logger.exception("while exiting")
        logging.shutdown()
        os._exit(self.exit_code)

    def _show(self) -> None:
        metrics.READY.set(1 if self.ready else 0)
