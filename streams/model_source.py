"""The promoted model, swapped when the registry's pointer moves: hot reload without restart.

Each micro-batch asks for the current model once, so a batch is scored by one version and a
promotion takes effect at the next batch boundary: nothing is lost or processed twice. The
pointer is polled with one `stat` at most every `poll_s`; a version that fails to load is
logged and counted, and the running one keeps scoring.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from models.inference import ScoringModel
from models.registry import Registry
from streams import metrics

logger = logging.getLogger(__name__)


class NoPromotedModel(RuntimeError):
    """The registry has no promoted version: nothing to score with."""


class PromotedModel:
    def __init__(
        self,
        registry: Registry,
        *,
        feature_set_hash: str,
        poll_s: float = 2.0,
        predict_threads: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._predict_threads = predict_threads
        self._feature_set_hash = feature_set_hash
        self._poll_s = poll_s
        self._clock = clock
        self._next_check = clock() + poll_s
        self._stamp = registry.pointer_stamp()  # before the read: a promotion after it shows
        pointer = registry.read_pointer()
        if pointer is None:
            raise NoPromotedModel(
                f"no promoted model in {registry.root}: train one with `returnrisk train` and "
                "promote it with `returnrisk models promote VERSION`"
            )
        self._model = load_checked(
            registry.path(pointer.version), feature_set_hash, predict_threads
        )
        metrics.MODEL.info({"version": self._model.version})
        metrics.MODEL_RELOADS.labels("loaded").inc()
        logger.info("scoring with model %s", self._model.version)

    def current(self) -> ScoringModel:
        """The model to score this batch with (reloaded first if a new one was promoted)."""
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + self._poll_s
            stamp = self._registry.pointer_stamp()
            if stamp != self._stamp:
                self._stamp = stamp
                self._reload()
        return self._model

    def _reload(self) -> None:
        try:
            pointer = self._registry.read_pointer()
            if pointer is None or pointer.version == self._model.version:
                return
            model = load_checked(
                self._registry.path(pointer.version), self._feature_set_hash, self._predict_threads
            )
        except Exception as exc:  # noqa: BLE001 - a bad promotion must not stop a running worker
            logger.error(
                "cannot load the promoted version (%s); keeping %s", exc, self._model.version
            )
            metrics.MODEL_RELOADS.labels("failed").inc()
            return
        previous = self._model.version
        self._model = model
        metrics.MODEL.info({"version": model.version})
        metrics.MODEL_RELOADS.labels("loaded").inc()
        logger.info("scoring with model %s (was %s)", model.version, previous)


def load_checked(path: Path, feature_set_hash: str, predict_threads: int = 0) -> ScoringModel:
    """Load a version and refuse it if it was trained on another feature set."""
    model = ScoringModel.load(path, predict_threads)
    model.check_feature_set(feature_set_hash, "the stream's features")
    return model
