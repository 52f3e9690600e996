"""report.html and backtest.html, written by the real commands, open in headless Chromium with
every chart decoded and no JavaScript error.

Chromium is Debian's chromium-headless-shell, which `make test` unpacks into .returnrisk/tools
(see the Makefile). The check copies a page with a small script first in its <head>: it records
uncaught errors, rejected promises and console.error calls, and on the load event (which waits
for every image) writes each <img>'s natural size into the DOM that --dump-dom prints.

Screenshots for the docs, from any page (docs/images come from the pages of a 2,000-customer
log), from the repository's root:
.venv/bin/python -m tests.pages.test_pages_render PAGE.html[#ID] OUT.png [HEIGHT]
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from models.registry import MANIFEST
from simulator.config import load_config
from simulator.runner import run_simulation
from tests.fixtures.models import TrainedRegistry

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]
TOOLS_BIN = REPO / ".returnrisk" / "tools" / "usr" / "bin"
MARKER = "returnrisk-page-check"
PROBE = """<script>
(() => {
  const errors = [];
  let loaded = false;
  const write = () => {
    if (!loaded) return;
    const images = Array.from(document.images, (img) => ({
      alt: img.alt,
      src: img.src.slice(0, 40),
      complete: img.complete,
      width: img.naturalWidth,
      height: img.naturalHeight,
    }));
    let out = document.getElementById("MARKER");
    if (!out) {
      out = document.createElement("script");
      out.type = "application/json";
      out.id = "MARKER";
      document.documentElement.appendChild(out);
    }
    out.textContent = JSON.stringify({ images, errors }).replace(/</g, "\\\\u003c");
  };
  addEventListener("error", (event) => {
    const target = event.target;
    errors.push(target && target !== window && target.tagName
      ? `${target.tagName.toLowerCase()} failed to load: ${String(target.src).slice(0, 40)}`
      : `${event.message} (${event.filename}:${event.lineno})`);
    write();
  }, true);
  addEventListener("unhandledrejection", (event) => {
    errors.push(`unhandled rejection: ${event.reason}`);
    write();
  });
  const consoleError = console.error.bind(console);
  console.error = (...args) => {
    errors.push(`console.error: ${args.join(" ")}`);
    write();
    consoleError(...args);
  };
  addEventListener("load", () => { loaded = true; write(); });
})();
</script>
""".replace("MARKER", MARKER)


@dataclass(frozen=True)
class PageCheck:
    images: list[dict[str, Any]]
    errors: list[str]

    @property
    def broken(self) -> list[dict[str, Any]]:
        return [i for i in self.images if not (i["complete"] and i["width"] > 0)]


def chromium() -> str:
    """Debian's headless Chromium: on PATH under `make test`, else where the Makefile puts it."""
    binary = shutil.which("chromium-headless-shell") or shutil.which(
        "chromium-headless-shell", path=str(TOOLS_BIN)
    )
    assert binary, (
        "no chromium-headless-shell: run `make .returnrisk/tools/usr/bin/chromium-headless-shell`"
        " (make test does)"
    )
    return binary


def _run_chromium(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        command = [
            chromium(),
            "--headless",
            "--no-sandbox",  # root in containers; the pages are our own
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def with_probe(html: str) -> str:
    """The page with PROBE as the first thing its scripts see (right after <head>)."""
    head = re.search(r"<head(\s[^>]*)?>", html, re.IGNORECASE)  # not <header>
    if head is None:
        raise ValueError("the page has no <head>")
    return html[: head.end()] + PROBE + html[head.end() :]


def check_page(page: Path) -> PageCheck:
    """Opens `page` (a copy with the probe, beside it) in Chromium; what its images and scripts
    did up to the load event and a few virtual seconds after."""
    probe = page.with_name(f".{page.stem}.probe.html")
    probe.write_text(with_probe(page.read_text(encoding="utf-8")), encoding="utf-8")
    try:
        done = _run_chromium("--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    finally:
        probe.unlink()
    assert done.returncode == 0, done.stderr[-3000:]
    found = re.search(rf'<script type="application/json" id="{MARKER}">(.*?)</script>', done.stdout)
    assert found, f"the probe never reported (no load event?): {done.stderr[-3000:]}"
    result = json.loads(found.group(1))
    return PageCheck(result["images"], result["errors"])


def screenshot(
    page: Path, png: Path, width: int = 1280, height: int = 1500, section: str = ""
) -> None:
    """`height` CSS pixels of `page` as a PNG: its top, or its body from the element with id
    `section` on (a copy without what comes before it, beside the page)."""
    png.parent.mkdir(parents=True, exist_ok=True)
    shown = page
    if section:
        html = page.read_text(encoding="utf-8")
        body = re.search(r"<body[^>]*>", html, re.IGNORECASE)
        element = re.search(rf"<[a-z0-9]+[^>]*\sid=\"{re.escape(section)}\"", html)
        assert body and element, f"{page}: no <body> or no element with id {section!r}"
        shown = page.with_name(f".{page.stem}.{section}.html")
        shown.write_text(html[: body.end()] + html[element.start() :], encoding="utf-8")
    try:
        done = _run_chromium(
            f"--window-size={width},{height}",
            "--virtual-time-budget=5000",
            f"--screenshot={png.resolve()}",
            shown.resolve().as_uri(),
        )
    finally:
        if shown != page:
            shown.unlink()
    assert done.returncode == 0 and png.stat().st_size > 0, done.stderr[-3000:]


def assert_renders(page: Path) -> PageCheck:
    checked = check_page(page)
    html = page.read_text(encoding="utf-8")
    assert len(checked.images) == len(re.findall(r"<img\b", html, re.IGNORECASE)) > 0
    assert all(i["src"].startswith("data:image/png;base64,") for i in checked.images)
    assert not checked.broken, checked.broken
    assert not checked.errors, checked.errors
    return checked


# --- the helper itself: it must see a broken chart and a script error --------------------------

PNG_1X1 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ"
    "AAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
"""A 1x1 PNG."""


def _page(tmp_path: Path, body: str) -> Path:
    page = tmp_path / "page.html"
    page.write_text(
        f"<!doctype html>\n<html><head><title>t</title></head><body>{body}</body></html>",
        encoding="utf-8",
    )
    return page


def test_the_check_passes_a_good_chart(tmp_path: Path) -> None:
    checked = assert_renders(
        _page(tmp_path, f'<img alt="ok" src="data:image/png;base64,{PNG_1X1}">')
    )
    assert [(i["width"], i["height"]) for i in checked.images] == [(1, 1)]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(PNG_1X1[:30] + "AAAA" + PNG_1X1[34:], id="corrupted-header"),
        pytest.param(PNG_1X1[:40], id="cut-short"),
        pytest.param("bm90IGEgcG5n", id="not-a-png"),
    ],
)
def test_the_check_sees_a_broken_chart(tmp_path: Path, data: str) -> None:
    body = f'<img alt="good" src="data:image/png;base64,{PNG_1X1}">'
    body += f'<img alt="broken" src="data:image/png;base64,{data}">'
    checked = check_page(_page(tmp_path, body))
    assert [i["alt"] for i in checked.broken] == ["broken"]
    with pytest.raises(AssertionError):
        assert_renders(tmp_path / "page.html")


@pytest.mark.parametrize(
    "script",
    [
        pytest.param("undefinedFunction();", id="reference-error"),
        pytest.param("let x = ;", id="syntax-error"),
        pytest.param("Promise.reject(new Error('late'));", id="unhandled-rejection"),
        pytest.param("console.error('drawn wrong');", id="console-error"),
        pytest.param("window.addEventListener('load', () => null.x);", id="error-after-load"),
    ],
)
def test_the_check_sees_a_script_error(tmp_path: Path, script: str) -> None:
    page = _page(
        tmp_path, f'<img alt="ok" src="data:image/png;base64,{PNG_1X1}"><script>{script}</script>'
    )
    checked = check_page(page)
    assert checked.errors and not checked.broken


# --- the real pages -----------------------------------------------------------------------------


def returnrisk(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "returnrisk", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@dataclass(frozen=True)
class Pages:
    backtest: Path
    report: Path


@pytest.fixture(scope="module")
def pages(trained_registry: TrainedRegistry, tmp_path_factory: pytest.TempPathFactory) -> Pages:
    """A backtest of the promoted model on a log that goes on after its training data, and the
    report of that log with the backtest's offers."""
    registry = trained_registry.registry
    promoted = registry.read_pointer()
    assert promoted is not None
    manifest = json.loads((registry.path(promoted.version) / MANIFEST).read_text())
    trained_to = datetime.fromisoformat(manifest["training_window"]["validation_to"]).date()
    since = trained_to + timedelta(days=1)
    until = since + timedelta(days=59)
    folder = tmp_path_factory.mktemp("pages")
    log = folder / "events.jsonl"
    start = since - timedelta(days=90)  # features and offer caps warm up before --from
    days = (until - start).days + 30  # and outcomes come after --to
    run_simulation(load_config(), customers=600, days=days, seed=21, start=start, out=log)
    backtest = folder / "backtest"
    returnrisk(
        "policy", "backtest", "--events", str(log), "--registry", str(registry.root),
        "--policy", str(REPO / "policy" / "policy.yaml"),
        "--from", since.isoformat(), "--to", until.isoformat(), "--out", str(backtest),
    )  # fmt: skip
    report = folder / "report"
    returnrisk(
        "report", "--events", str(log), "--out", str(report),
        "--offers", str(backtest / "offers.jsonl"),
    )  # fmt: skip
    return Pages(backtest / "backtest.html", report / "report.html")


def test_backtest_html_renders_every_chart(pages: Pages) -> None:
    checked = assert_renders(pages.backtest)
    assert len(checked.images) >= 3, checked.images


def test_report_html_with_offers_renders_every_chart(pages: Pages) -> None:
    html = pages.report.read_text(encoding="utf-8")
    assert 'id="offers"' in html
    offers = html[html.index('id="offers"') :]
    assert "<img" in offers, "the Offers section has no chart"
    assert_renders(pages.report)


def test_a_screenshot_of_the_backtest(pages: Pages, tmp_path: Path) -> None:
    png = tmp_path / "backtest.png"
    screenshot(pages.backtest, png, height=600)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


if __name__ == "__main__":
    page, out, *rest = sys.argv[1:]
    path, _, section = page.partition("#")
    screenshot(Path(path), Path(out), height=int(rest[0]) if rest else 1500, section=section)
    print(f"{out}: {Path(out).stat().st_size:,} bytes")
