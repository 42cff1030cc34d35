"""What every command shares: the configuration and the deployment, built
once per process and only when a command needs them (``init``, ``--help`` and
``backup verify`` need no configuration; ``demo`` makes its own); ``--now``; and
the one mapping from the error family to one line on stderr and an exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mailintake.base import logs
from mailintake.base.config import Config, load
from mailintake.base.errors import ConfigError, UserError
from mailintake.base.places import locate
from mailintake.base.privacy import private_umask
from mailintake.base.rules import ServicesError
from mailintake.base.store import StorageError

if TYPE_CHECKING:  # imported when a command first needs storage: --help stays light
    from mailintake.base.deployment import Deployment

F = TypeVar("F", bound=Callable[..., Any])


class ConfigClickError(click.ClickException):
    exit_code = 2


def _state(ctx: click.Context) -> dict[str, Any]:
    obj: dict[str, Any] = ctx.find_root().ensure_object(dict)
    return obj


def config(ctx: click.Context, *, system: bool = True) -> Config:
    """The configuration named by ``--config`` (or ``$MAILINTAKE_CONFIG``, or
    found in ``./config.toml`` or ``/etc/mailintake/config.toml``: see
    ``locate``), loaded on first use. Finding none is one line and exit 2."""
    state = _state(ctx)
    if "config" not in state:
        use_config(ctx, locate(state.get("config_path"), system=system))
    cfg: Config = state["config"]
    return cfg


def use_config(ctx: click.Context, path: Path) -> Config:
    """Load ``path`` as this process's configuration; logging goes to stderr at
    its level."""
    cfg = load(path)
    _state(ctx)["config"] = cfg
    setup_logging(ctx, cfg)
    return cfg


def setup_logging(ctx: click.Context, cfg: Config) -> None:
    """Our loggers at ``[log] level``, libraries at WARNING, on stderr as text
    or JSON (``--log-format``, else ``[log] format``): see ``base.logs``."""
    logs.configure(cfg.log.level, _state(ctx).get("log_format") or cfg.log.format)


def deployment(ctx: click.Context) -> Deployment:
    """The one deployment of this process, built on first use and closed when
    the command ends."""
    state = _state(ctx)
    if "deployment" not in state:
        from mailintake.base.deployment import Deployment

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
    return click.ClickException(str(exc))  # exit 1, as every UserError


class FamilyGroup(click.Group):
    """The root group: every command runs under umask 077 (``base.privacy``: what
    it creates is its owner's alone), and its ``UserError`` or ``ConfigError``
    becomes one line on stderr, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with private_umask():
                return super().invoke(ctx)
        except (UserError, ConfigError) as exc:
            raise as_click_error(ctx, exc) from None
