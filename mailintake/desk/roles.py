"""Who is acting and whether they may (R27).

The acting identity comes from the kernel (``base.identity``): the account that
owns the data, or the login the daemon's socket saw. The owner holds every
role; anyone else has the roles ``[users]`` in the daemon's config gives them.
A step outside the user's roles is refused with one line naming the role.
"""

from __future__ import annotations

from mailintake.base import identity
from mailintake.base.config import ROLES, Config, User
from mailintake.base.errors import StepRefused


class RoleError(StepRefused):
    """The acting user lacks the role a command needs (one line)."""


def acting_login() -> str:
    return identity.current().login


def require(cfg: Config, *roles: str) -> User:
    """The acting user, when they hold one of ``roles``."""
    who = identity.current()
    user = cfg.users.get(who.login)
    if who.owner:
        return user or User(who.login, frozenset(ROLES), who.login, "")
    needed = " or ".join(roles)
    if user is None:
        if not cfg.users:
            raise RoleError(f"this needs the {needed} role, and no users are declared: add [users] to the config")
        raise RoleError(f"this needs the {needed} role; {who.login} is not a declared user")
    if not user.roles & set(roles):
        raise RoleError(f"this needs the {needed} role; {who.login} has {', '.join(sorted(user.roles))}")
    return user
