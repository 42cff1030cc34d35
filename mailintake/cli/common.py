"""What every command shares: the configuration and the deployment, built
once per process and only when a command needs them (``init``, ``--help`` and
``backup verify`` need no configuration; ``demo`` makes its own); who is acting
and whether the command's door (``policy``) lets them in; ``--now``; and the
one mapping from the error family to one line on stderr and an exit code.

Loading the configuration is where the identity is settled (``base.identity``):
the account that owns the data directory acts itself, with every role; any
other account's command is handed whole to the daemon's socket (``peer``),
which runs it as the login the kernel names.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mailintake.base import identity, logs
from mailintake.base.config import ROLES, Config, User, load
from mailintake.base.errors import ConfigError, UserError
from mailintake.base.places import ConfigNotFound, locate
from mailintake.base.privacy import private_umask
from mailintake.base.rules import ServicesError
from mailintake.base.store import StorageError
from mailintake.cli import policy

if TYPE_CHECKING:  # imported when a command first needs storage: --help stays light
    from mailintake.base.deployment import Deployment

F = TypeVar("F", bound=Callable[..., Any])


class ConfigClickError(click.ClickException):
    exit_code = 2


# Set in a child of ``mailintake serve``: the daemon's own config, whatever
# ``--config`` the caller named.
SERVED_CONFIG: Path | None = None


class Forward(Exception):
    """This account cannot open the data: the command goes to the daemon."""

    def __init__(self, socket: Path | None, why: str):
        super().__init__(why)
        self.socket, self.why = socket, why


def _state(ctx: click.Context) -> dict[str, Any]:
    obj: dict[str, Any] = ctx.find_root().ensure_object(dict)
    return obj


def config(ctx: click.Context, *, system: bool = True) -> Config:
    """The configuration named by ``--config`` (or ``$MAILINTAKE_CONFIG``, or
    found in ``./config.toml`` or ``/etc/mailintake/config.toml``: see
    ``locate``), loaded on first use. Finding none is one line and exit 2."""
    state = _state(ctx)
    if "config" not in state:
        if SERVED_CONFIG is not None:
            cfg = use_config(ctx, SERVED_CONFIG)
        else:
            cfg = _own_config(ctx, system)
        admit(cfg)
    cfg = state["config"]
    return cfg


def _own_config(ctx: click.Context, system: bool) -> Config:
    """The config this account reads itself, when it owns the data; else
    ``Forward`` to the daemon."""
    from mailintake.cli.forward import socket_path

    try:
        path = locate(_state(ctx).get("config_path"), system=system)
    except ConfigNotFound:
        if command_path() not in policy.NO_DATA and socket_path(None).exists():  # a demo makes its own
            raise Forward(None, "no config.toml this account can read") from None
        raise
    try:
        cfg = load(path)
    except PermissionError:
        raise Forward(None, f"{path} is not readable by this account") from None
    if not identity.owns(cfg.storage_path):
        raise Forward(cfg.daemon.socket, f"the data in {cfg.storage_path} belongs to {identity.owner_of(cfg.storage_path)}")
    _state(ctx)["config"] = cfg
    setup_logging(ctx, cfg)
    me = identity.this_process()
    player = os.environ.get("MAILINTAKE_USER")
    if player and cfg.deployment.mode == "test":
        identity.become(identity.Identity(player, me.uid, "test", owner=False))
    else:
        identity.become(identity.Identity(me.login, me.uid, "owner", owner=True))
    return cfg


def command_path() -> str:
    """The running command's path without the program: "triage list"."""
    ctx = click.get_current_context(silent=True)
    return " ".join(ctx.command_path.split()[1:]) if ctx is not None else ""


def admit(cfg: Config) -> User:
    """Let the acting identity through the running command's door, or refuse
    in one line naming the roles it needs."""
    who = identity.current()
    path = command_path()
    door = policy.door(path) or policy.Door(policy.ADMIN, writes=True)  # a command the table forgot: the admin's
    if door.owner_only and who.via == "socket":
        raise UserError(
            f"{path} runs as the account that owns the data, not through the daemon: sudo -u {identity.login_of(os.geteuid())} mailintake {path}"
        )
    if who.owner:
        return cfg.users.get(who.login) or User(who.login, frozenset(ROLES), who.login, "")
    user = cfg.users.get(who.login)
    needed = " or ".join(door.roles)
    if user is None:
        raise UserError(f"{path} needs the {needed} role; {who.login} is not a declared user")
    if not user.roles & set(door.roles):
        raise UserError(f"{path} needs the {needed} role; {who.login} has {', '.join(sorted(user.roles))}")
    return user


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
    """The time a command acts at: ``--now``, or the clock. A command that
    changes the registry takes ``--now`` only in a deployment marked for
    testing or replay; every event it writes keeps the real time beside it."""
    cfg = config(ctx)
    when = parse_now(value, cfg)  # a malformed --now is a usage error first
    door = policy.door(command_path())
    if value and cfg.deployment.mode == "production" and (door is None or door.writes):
        raise UserError(
            f"--now: {command_path()} changes the registry, and this deployment is for production; "
            'only one marked [deployment] mode = "test" or "replay" acts at another time than the clock'
        )
    return when


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

    original_args: list[str] = []

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        self.original_args = list(sys.argv[1:] if args is None else args)
        return super().main(args, *rest, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with private_umask(), identity.scope():
                return super().invoke(ctx)
        except Forward as away:
            from mailintake.cli.forward import forward, socket_path

            try:
                code = forward(socket_path(away.socket), self.original_args, away.why)
            except UserError as exc:
                raise as_click_error(ctx, exc) from None
            ctx.exit(code)
        except (UserError, ConfigError) as exc:
            raise as_click_error(ctx, exc) from None
