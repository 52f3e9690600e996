"""How every `returnrisk` command fails: one line on stderr, `error: ...`, and an exit code.

2 means what was given is wrong: an option, an input file (empty, wholly invalid, of another
kind), a `RETURNRISK_*` setting. 1 means what was found is wrong: a registry's damaged version
or corrupt pointer, nothing to report. Only errors a user can cause are turned into a line; any
other exception is a bug and keeps its traceback.

`OneLineErrors` is the top-level command group, so the rule holds for every subcommand, from
the shell and under `typer.testing.CliRunner` alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, get_args

import typer
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings
from typer.core import TyperGroup

USAGE = 2
RUNTIME = 1

UsageError: type[Exception] = typer.BadParameter.__mro__[1]
"""click's UsageError (unknown command or option, bad value), whether typer vendors click or
not: typer exports only its subclass BadParameter."""

KNOWN_ERRORS: dict[str, int] = {
    "features.replay.UnusableLog": USAGE,
    "ingest.errors.IngestError": USAGE,
    "models.dataset.DatasetError": USAGE,
    "models.feature_set.FeatureSetMismatch": USAGE,
    "models.offline.UnknownScoreFormat": USAGE,
    "models.segments.SegmentConfigError": USAGE,
    "simulator.config.ConfigError": USAGE,
    "models.registry.RegistryError": USAGE,
    "models.registry.RegistryDamaged": RUNTIME,
    "models.inference.ModelLoadError": RUNTIME,
    "builtins.OSError": RUNTIME,
    "redis.exceptions.ConnectionError": RUNTIME,
    "redis.exceptions.TimeoutError": RUNTIME,
}
"""Errors a user can cause, by qualified class name (matched along the class's MRO, so a
subclass may have its own code), so that naming them imports none of the heavy modules they
live in. OSError is here because its message names the path (a folder that cannot be created,
a file that cannot be read or written), Redis's errors because theirs name the address."""


class CliError(Exception):
    """A command cannot go on; `str()` is the whole message, one line."""

    def __init__(self, message: str, exit_code: int = USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def known_exit_code(exc: BaseException) -> int | None:
    """The exit code of a domain error listed in `KNOWN_ERRORS`, or None."""
    for cls in type(exc).__mro__:
        if (code := KNOWN_ERRORS.get(_qualified(cls))) is not None:
            return code
    return None


def settings_message(exc: ValidationError) -> str | None:
    """`RETURNRISK_X=value: what was expected` for a settings class's error, else None.

    Secret values are not shown: a URL with its password hidden, anything else as ***.
    """
    from returnrisk.settings import SETTINGS_CLASSES

    section = SETTINGS_CLASSES.get(exc.title)
    if section is None:
        return None
    prefix = str(section.model_config.get("env_prefix", ""))
    problems = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        shown = _shown(section, field, error.get("input"))
        problems.append(f"{prefix}{field}".upper() + f"={shown}: {error['msg']}")
    return "; ".join(problems)


def _shown(section: type[BaseSettings], field: str, value: Any) -> str:
    info = section.model_fields.get(field)
    annotation = info.annotation if info else None
    if annotation is SecretStr or SecretStr in get_args(annotation):
        from streams.settings import redact_url

        return (
            repr(redact_url(value)) if field.endswith("url") and isinstance(value, str) else "***"
        )
    return repr(value)


def one_line(message: str) -> str:
    return "; ".join(line.strip() for line in message.splitlines() if line.strip())


def print_error(message: str) -> None:
    typer.echo(f"{typer.style('error:', fg='red', bold=True)} {one_line(message)}", err=True)


def _usage_message(exc: Exception) -> str:
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"{getattr(exc, 'format_message', exc.__str__)()}{hint}"


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn a user's error into one printed line and `typer.Exit(code)`; let bugs through."""
    try:
        yield
    except CliError as exc:
        print_error(str(exc))
        raise typer.Exit(exc.exit_code) from None
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # no arguments: click shows the help
            raise
        print_error(_usage_message(exc))
        raise typer.Exit(USAGE) from None
    except ValidationError as exc:
        if (message := settings_message(exc)) is None:
            raise
        print_error(message)
        raise typer.Exit(USAGE) from None
    except Exception as exc:
        if (code := known_exit_code(exc)) is None:
            raise
        print_error(str(exc))
        raise typer.Exit(code) from None


class OneLineErrors(TyperGroup):
    """The `returnrisk` group: parsing and running any subcommand go through `one_line_errors`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        with one_line_errors():
            return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        with one_line_errors():
            return super().invoke(ctx)
