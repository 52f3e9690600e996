"""The README's commands are true: every `returnrisk` command it shows exists with the options
it shows, and every file it links exists."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from typer.testing import CliRunner

from tests.fixtures.cli import cli_app  # noqa: F401  (fixture)

README = Path(__file__).resolve().parents[2] / "README.md"


def _shown_commands() -> list[list[str]]:
    """`returnrisk ...` invocations in code spans and code blocks, as words."""
    text = README.read_text()
    spans = re.findall(r"`(returnrisk [^`]+)`", text)
    blocks = re.findall(r"^(returnrisk [^\n#]+)", text, flags=re.MULTILINE)
    return [span.split() for span in [*spans, *blocks]]


def test_every_command_the_readme_shows_exists_with_its_options(cli_app: typer.Typer) -> None:  # noqa: F811
    runner = CliRunner()
    checked = 0
    for words in _shown_commands():
        path = []
        for word in words[1:]:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            path.append(word)
        result = runner.invoke(cli_app, [*path, "--help"])
        assert result.exit_code == 0, f"README shows `{' '.join(words)}`: {result.output}"
        for option in (w.strip("[]()|") for w in words if w.lstrip("[(").startswith("--")):
            assert option.split("=")[0] in result.output, f"{' '.join(words)}: no {option}"
        checked += 1
    assert checked >= 15


def test_every_document_the_readme_links_exists() -> None:
    links = re.findall(r"\]\(([^)#]+)\)", README.read_text())
    assert links
    for link in links:
        if not link.startswith("http"):
            assert (README.parent / link).exists(), link


def test_the_readme_is_a_manual_not_a_book() -> None:
    assert len(README.read_text().splitlines()) < 250
