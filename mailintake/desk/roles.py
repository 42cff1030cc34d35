"""Who is acting and whether they may (R27).

The acting user is ``$MAILINTAKE_USER`` or the OS login name; their roles come
from ``[users]`` in config. A command outside the user's roles is refused with
one line naming the role it needs.
"""

from __future__ import annotations

import getpass
import os

from mailintake.base.config import Config, User
from mailintake.base.errors import StepRefused


class RoleError(StepRefused):
    """The acting user lacks the role a command needs (one line)."""


def acting_login() -> str:
    return os.environ.get("MAILINTAKE_USER") or getpass.getuser()


def require(cfg: Config, *roles: str) -> User:
    """The acting user, when they hold one of ``roles``."""
    login = acting_login()
    user = cfg.users.get(login)
    needed = " or ".join(roles)
    if user is None:
        if not cfg.users:
            raise RoleError(f"this needs the {needed} role, and no users are declared: add [users] to the config")
        raise RoleError(f"this needs the {needed} role; {login} is not a declared user")
    if not user.roles & set(roles):
        raise RoleError(f"this needs the {needed} role; {login} has {', '.join(sorted(user.roles))}")
    return user
