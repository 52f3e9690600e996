"""The worker's HTTP endpoint: `/metrics` for Prometheus and `/ready` for probes.

`/ready` answers 200 only while the worker's pipeline runs and its consumer has joined the
group (`streams.lifecycle.Lifecycle.ready`), 503 otherwise: a listening `/metrics` alone says
nothing about whether the worker scores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer


class _QuietHandler(WSGIRequestHandler):
    """No access log line per scrape or probe."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Not logged."""


def serve_health(host: str, port: int, ready: Callable[[], bool]) -> None:
    """Serve both paths from a daemon thread (it never holds up the worker's exit)."""
    metrics_app = make_wsgi_app()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/ready":
            ok = ready()
            start_response(
                "200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")]
            )
            return [b"ready\n" if ok else b"not ready\n"]
        return metrics_app(environ, start_response)  # type: ignore[no-any-return]

    server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="returnrisk-http", daemon=True).start()
