"""Help that reads well (issue 21, item 5): every command says what it does in one sentence,
then lists its options; `returnrisk --version` prints the installed version.

The walk is the one tests/deploy/test_image_files.py runs every `--help` from the image with
(`tests.fixtures.cli.command_tree`); here each help is also read.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tests.fixtures.cli import command_tree

COMMANDS = command_tree()
COMMANDS_BY_NAME = {" ".join(["returnrisk", *p]): c for p, c in COMMANDS}
# A sentence ends at ., ! or ? followed by a space and a capital letter (or the end).
SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z]|$)")


def _name(path: list[str]) -> str:
    return " ".join(["returnrisk", *path])


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[_name(p) for p, _ in COMMANDS])
def test_every_help_is_one_sentence(path: list[str], command: Any) -> None:
    text = command.help or ""
    assert "\n" not in text, f"{_name(path)}: help is more than one line: {text!r}"
    assert text.endswith("."), f"{_name(path)}: help does not end with a period: {text!r}"
    assert len(SENTENCE_END.findall(text)) == 1, f"{_name(path)}: not one sentence: {text!r}"
    assert len(text) <= 100, f"{_name(path)}: {len(text)} characters is no summary"


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[_name(p) for p, _ in COMMANDS])
def test_every_help_runs_and_shows_only_its_sentence(cli_app: typer.Typer, path: list[str]) -> None:
    result = CliRunner().invoke(cli_app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    # What is printed between the usage line and the first panel is that sentence, nothing more.
    before_panels = result.output.split("╭", 1)[0].split("Usage:", 1)[1]
    described = [line.strip() for line in before_panels.splitlines()[1:] if line.strip()]
    assert described == [COMMANDS_BY_NAME[_name(path)].help], result.output


def test_a_docstring_past_its_first_line_is_not_help() -> None:
    build = COMMANDS_BY_NAME["returnrisk features build"]
    assert build.callback.__doc__.count("\n") > 2  # the longer text is still the code's
    assert build.help == build.callback.__doc__.split("\n", 1)[0]


def test_version_prints_the_installed_version(cli_app: typer.Typer) -> None:
    result = CliRunner().invoke(cli_app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"returnrisk {version('returnrisk')}\n"
