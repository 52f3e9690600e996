"""The image's file set is complete: what the Dockerfile copies installs into an empty folder
from which every first-party import resolves and every command's --help runs.

No Docker engine is needed: the build stage's COPY lines are read from the Dockerfile, exactly
those files are copied to an empty folder and installed with pip (`--target`, no dependencies),
and the commands run with only that folder and the venv's site-packages on the path (`-S`: the
venv's editable install of this checkout is not loaded).
"""

from __future__ import annotations

import ast
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import setuptools

from tests.fixtures.cli import command_tree

REPO = Path(__file__).parents[2]
METADATA_FILES = {"pyproject.toml", "README.md", "LICENSE"}


def build_stage_copies(dockerfile: Path) -> list[str]:
    """Sources of the COPY lines of the first stage (the one that runs `pip install .`)."""
    sources: list[str] = []
    stages = 0
    for line in dockerfile.read_text().replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0].upper() == "FROM":
            stages += 1
        elif words[0].upper() == "COPY" and stages == 1:
            sources += [word for word in words[1:-1] if not word.startswith("--")]
    return sources


def setuptools_top_level_packages() -> set[str]:
    """Top-level packages that pyproject's [tool.setuptools.packages.find] selects here."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    found = setuptools.find_namespace_packages(where=str(REPO), include=include)
    return {name.split(".")[0] for name in found}


def first_party_packages() -> set[str]:
    """Every top-level Python package of the checkout but the tests."""
    return {init.parent.name for init in REPO.glob("*/__init__.py") if init.parent.name != "tests"}


def install_image_files(sources: list[str], tmp_path: Path) -> Path:
    """Copy only `sources` to an empty folder, install it into another; return that one."""
    context, target = tmp_path / "context", tmp_path / "target"
    context.mkdir()
    for source in sources:
        origin = REPO / source
        if origin.is_dir():
            shutil.copytree(origin, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, context / source)
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--no-index", "--target", str(target), str(context)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return target


def installed_packages(target: Path) -> set[str]:
    return {
        path.name
        for path in target.iterdir()
        if path.is_dir() and path.name != "bin" and not path.name.endswith(".dist-info")
    }


def _imported_modules(source: Path, package: str) -> Iterator[tuple[str, int]]:
    """Every module an installed file imports, at top level or inside a function."""
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                yield ".".join([*base, *([node.module] if node.module else [])]), node.lineno
            elif node.module:
                yield node.module, node.lineno


def _resolves(target: Path, module: str) -> bool:
    path = target.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or path.is_dir()


def unresolved_first_party_imports(target: Path, first_party: set[str]) -> list[str]:
    """`file:line module` for each first-party import that no installed file provides."""
    missing = []
    for source in sorted(target.rglob("*.py")):
        relative = source.relative_to(target)
        if relative.parts[0] not in first_party:
            continue
        package = ".".join(relative.parent.parts)  # what `from . import x` names
        for module, line in _imported_modules(source, package):
            if module.split(".")[0] in first_party and not _resolves(target, module):
                missing.append(f"{relative}:{line} {module}")
    return missing


PUBLIC_COMMANDS: list[list[str]] = [
    [],
    ["bench"],
    ["config"],
    ["demo"],
    ["dev"],
    ["dev", "down"],
    ["dev", "status"],
    ["dev", "up"],
    ["features"],
    ["features", "build"],
    ["features", "parity"],
    ["import"],
    ["models"],
    ["models", "list"],
    ["models", "promote"],
    ["models", "rollback"],
    ["models", "show"],
    ["policy"],
    ["policy", "backtest"],
    ["produce"],
    ["report"],
    ["schemas"],
    ["schemas", "export"],
    ["score"],
    ["simulate"],
    ["train"],
    ["validate"],
    ["worker"],
]
"""Every command and subcommand users and scripts may call; each one's --help must run."""


@pytest.fixture(scope="module")
def image_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sources = build_stage_copies(REPO / "Dockerfile")
    return install_image_files(sources, tmp_path_factory.mktemp("image"))


def test_the_dockerfile_copies_every_package_setuptools_installs() -> None:
    copied = set(build_stage_copies(REPO / "Dockerfile"))
    assert METADATA_FILES <= copied
    assert copied - METADATA_FILES == setuptools_top_level_packages()
    # a package of the checkout that pyproject does not select would be missing everywhere
    assert first_party_packages() <= setuptools_top_level_packages()


def test_every_first_party_import_of_the_image_resolves_in_it(image_target: Path) -> None:
    assert installed_packages(image_target) == first_party_packages()
    assert unresolved_first_party_imports(image_target, first_party_packages()) == []


def test_an_image_without_analytics_is_caught(tmp_path: Path) -> None:
    """The defect this test was written for: `returnrisk report` imports analytics lazily."""
    sources = [s for s in build_stage_copies(REPO / "Dockerfile") if s != "analytics"]
    target = install_image_files(sources, tmp_path)
    missing = unresolved_first_party_imports(target, first_party_packages())
    assert any(entry.startswith("returnrisk/report_cli.py:") for entry in missing), missing


def test_every_command_help_runs_from_the_image_files(image_target: Path, tmp_path: Path) -> None:
    site_packages = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(image_target), site_packages])}
    script = str(image_target / "bin" / "returnrisk")
    where = subprocess.run(
        [sys.executable, "-S", "-c", "import returnrisk, analytics; print(returnrisk.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(image_target)), where.stdout
    paths = [path for path, _ in command_tree()]
    assert sorted(paths) == sorted(PUBLIC_COMMANDS), "a command was added or lost: update the list"
    for path in paths:
        ran = subprocess.run(
            [sys.executable, "-S", script, *path, "--help"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert ran.returncode == 0, (path, ran.stderr[-2000:])
        assert "Usage:" in ran.stdout, (path, ran.stdout[-500:])
