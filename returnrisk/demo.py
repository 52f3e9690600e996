"""`returnrisk demo`: the whole loop on local infrastructure, watched live.

Starts a worker process (its own topics, consumer group and Redis keys, so demos never mix),
produces an event log to it at a steady rate, and shows a live table read from the worker's
`/metrics` until every event is processed. Ctrl-C stops the worker cleanly. The table names,
per segment, whether the promoted version gives it a model of its own or the global one (too
few orders to train on), since per-segment models are what the worker is for.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from bench.worker_metrics import Samples, scrape, total
from devstack.topics import ensure_topics
from models.registry import MANIFEST, Registry, RegistryError, read_json
from models.settings import registry_settings
from producer.send import produce_file
from streams.settings import TopicSettings, kafka_settings

console = Console()
BANDS = ("low", "medium", "high")


@dataclass(frozen=True)
class PromotedModels:
    """The promoted version and, per segment, why it falls back to the global model (None when
    it has its own)."""

    version: str
    fallbacks: dict[str, str | None]

    @classmethod
    def read(cls, registry_dir: Path) -> PromotedModels:
        path = Registry(registry_dir).path("promoted")
        segments = read_json(path / MANIFEST, "manifest")["segments"]
        return cls(
            path.name,
            {
                name: (info.get("fallback_reason") or "too small") if info["fallback"] else None
                for name, info in segments.items()
            },
        )

    def describe(self, segment: str) -> tuple[str, str]:
        """(model, why) as the live table shows them."""
        if segment not in self.fallbacks:
            return "?", "not in the promoted version"
        reason = self.fallbacks[segment]
        return ("own", "") if reason is None else ("global", reason)


def _scores_table(metrics: Samples, models: PromotedModels) -> Table:
    own = sum(reason is None for reason in models.fallbacks.values())
    scores = Table(
        title=(
            f"scores by segment and band: model {models.version}, "
            f"{own} of {len(models.fallbacks)} segments with a model of their own"
        )
    )
    for column in ("segment", "model", *BANDS, "why global"):
        scores.add_column(column, justify="right" if column in BANDS else "left")
    by_segment: dict[str, dict[str, float]] = defaultdict(dict)
    for labels, value in metrics.get("returnrisk_scores_total", {}).items():
        score_labels = dict(labels)
        by_segment[score_labels["segment"]][score_labels["band"]] = value
    for segment in sorted(models.fallbacks.keys() | by_segment.keys()):
        model, why = models.describe(segment)
        bands = by_segment.get(segment, {})
        scores.add_row(segment, model, *(f"{bands.get(b, 0):,.0f}" for b in BANDS), why)
    return scores


def _view(metrics: Samples, produced: int, rate: float, models: PromotedModels) -> Group:
    processed = total(metrics, "returnrisk_events_total")
    head = Table(title="returnrisk worker", show_header=False)
    head.add_row("events produced", f"{produced:,}")
    head.add_row("events processed", f"{processed:,.0f}")
    head.add_row("events / s (last second)", f"{rate:,.0f}")
    head.add_row("dead letters", f"{total(metrics, 'returnrisk_dead_letters_total'):,.0f}")
    scores = _scores_table(metrics, models)
    actions = Table(title="alerts and offers")
    actions.add_column("kind")
    actions.add_column("type")
    actions.add_column("count", justify="right")
    for labels, value in sorted(metrics.get("returnrisk_alerts_total", {}).items()):
        actions.add_row("alert", dict(labels)["alert_type"], f"{value:,.0f}")
    for labels, value in sorted(metrics.get("returnrisk_offers_total", {}).items()):
        offer = dict(labels)
        held = " (held out)" if offer["outcome"] == "held_out" else ""
        actions.add_row("offer", f"{offer['rule']}: {offer['offer_type']}{held}", f"{value:,.0f}")
    return Group(head, scores, actions)


def demo(
    events: Annotated[
        Path, typer.Option("--events", exists=True, dir_okay=False, help="Event log to stream.")
    ],
    rate: Annotated[float, typer.Option(help="Events per second to produce (0: as fast).")] = 5000,
    metrics_port: Annotated[int, typer.Option(help="Port of the worker's /metrics.")] = 9108,
) -> None:
    """Stream an event log through a live worker and watch its scores, alerts and offers.

    The
    promoted model of RETURNRISK_REGISTRY_DIR scores, the local broker and Redis carry it."""
    try:
        models = PromotedModels.read(registry_settings().dir)
    except RegistryError as exc:
        console.print(f"[red]{exc}[/] (train and promote a version first, as `make demo` does)")
        raise typer.Exit(1) from None
    run = uuid.uuid4().hex[:8]
    topics = TopicSettings.model_validate(
        {name: f"{field.default}-demo-{run}" for name, field in TopicSettings.model_fields.items()}
    )
    kafka = kafka_settings()
    asyncio.run(ensure_topics(kafka, [*topics.inputs, *topics.outputs], kafka.partitions))
    env = {
        **os.environ,
        **{f"RETURNRISK_TOPIC_{k.upper()}": v for k, v in topics.model_dump().items()},
        "RETURNRISK_REGISTRY_DIR": str(registry_settings().dir),
        "RETURNRISK_WORKER_APP_ID": f"returnrisk-demo-{run}",
        "RETURNRISK_WORKER_REDIS_KEY_PREFIX": f"rr:demo:{run}",
        "RETURNRISK_WORKER_METRICS_PORT": str(metrics_port),
    }
    log = Path(f".returnrisk/demo-worker-{run}.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    console.print(f"worker log: {log}; metrics: http://127.0.0.1:{metrics_port}/metrics")
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "returnrisk", "worker", "--loglevel", "warn"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    produced = sum(1 for _ in events.open("rb"))
    producer = threading.Thread(
        target=produce_file, args=(events, kafka, topics, rate), daemon=True
    )
    producer.start()
    try:
        _watch(worker, metrics_port, produced, log, models)
    except KeyboardInterrupt:
        console.print("stopping the worker")
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def _watch(
    worker: subprocess.Popen[bytes], port: int, produced: int, log: Path, models: PromotedModels
) -> None:
    last, last_at, idle_since = 0.0, time.monotonic(), None
    with Live(console=console, refresh_per_second=2) as live:
        while True:
            time.sleep(1)
            if worker.poll() is not None:
                console.print(f"[red]the worker stopped; see {log}[/]")
                raise typer.Exit(1)
            metrics = scrape(port)
            processed = total(metrics, "returnrisk_events_total")
            now = time.monotonic()
            rate, last, last_at = (processed - last) / (now - last_at), processed, now
            live.update(_view(metrics, produced, rate, models))
            if processed >= produced:
                idle_since = idle_since or now
                if now - idle_since > 2:  # let the last outputs flush before stopping
                    break
    console.print(f"all {produced:,} events processed")
