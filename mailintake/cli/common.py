"""What every command shares: the configuration and the deployment, built
once per process and only when a command needs them (``init``, ``--help`` and
``backup verify`` need no storage); ``--now``; and the one mapping from the
error family to one line on stderr and an exit code.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click

from mailintake.base.config import Config, load
from mailintake.base.deployment import Deployment
from mailintake.base.errors import ConfigError, UserError
from mailintake.base.rules import ServicesError
from mailintake.base.store import StorageError

F = TypeVar("F", bound=Callable[..., Any])


class ConfigClickError(click.ClickException):
    exit_code = 2


def _state(ctx: click.Context) -> dict[str, Any]:
    obj: dict[str, Any] = ctx.find_root().ensure_object(dict)
    return obj


def config(ctx: click.Context) -> Config:
    """The configuration named by ``--config`` (or the environment, or the
    defaults), loaded on first use; logging goes to stderr at its level."""
    state = _state(ctx)
    if "config" not in state:
        state["config"] = load(state.get("config_path"))
        logging.basicConfig(
            level=state["config"].log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    cfg: Config = state["config"]
    return cfg


def deployment(ctx: click.Context) -> Deployment:
    """The one deployment of this process, built on first use and closed when
    the command ends."""
    state = _state(ctx)
    if "deployment" not in state:
        dep = Deployment.build(config(ctx))
        state["deployment"] = dep
        ctx.find_root().call_on_close(dep.close)
    built: Deployment = state["deployment"]
    return built


def parse_now(value: str | None, cfg: Config) -> datetime:
    """``--now``: ISO 8601; a time without offset is read in the agency's zone."""
    if not value:
        return datetime.now(cfg.hours.timezone)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time, e.g. 2025-12-04T18:05+07:00", param_hint="--now") from None
    return moment.replace(tzinfo=cfg.hours.timezone) if moment.tzinfo is None else moment


def moment(ctx: click.Context, value: str | None) -> datetime:
    """The time a command acts at: ``--now``, or the clock."""
    return parse_now(value, config(ctx))


def now_option(f: F) -> F:
    return click.option("--now", "now", metavar="ISO", help="Act as if it were this time (ISO 8601).")(f)


# --- the error family, one line each ---------------------------------------------------------
def _config_name(ctx: click.Context) -> str:
    """How storage errors name the file: config.toml, or "defaults"."""
    cfg = _state(ctx).get("config")
    return cfg.source.name if cfg is not None and cfg.source is not None else "defaults"


def as_click_error(ctx: click.Context, exc: UserError | ConfigError) -> click.ClickException:
    """The one mapping: ``UserError`` (and its kinds) exit 1, ``ConfigError``
    (and its kinds) exit 2, the message as its one line."""
    if isinstance(exc, StorageError):
        return ConfigClickError(f"{_config_name(ctx)}: [storage] path: {exc}")
    if isinstance(exc, ServicesError) and exc.errors:
        more = len(exc.errors) - 1
        return ConfigClickError(f"{exc.errors[0]} (and {more} more; run `mailintake rules check`)" if more else exc.errors[0])
    if isinstance(exc, ConfigError):
        return ConfigClickError(str(exc))
    error = click.ClickException(str(exc))
    error.exit_code = exc.exit_code
    return error


class FamilyGroup(click.Group):
    """The root group: a command's ``UserError`` or ``ConfigError`` becomes one
    line on stderr, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (UserError, ConfigError) as exc:
            raise as_click_error(ctx, exc) from None
