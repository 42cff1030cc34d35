"""Where things are: the config.toml a command reads (``locate``), and the rules,
templates and samples that came with the program (``shipped``).

A command finds its configuration or refuses in one line: it never falls back to
the built-in defaults, which would show an empty list and make a registry in
whatever directory the clerk happened to be in.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Mapping
from pathlib import Path

from mailintake.base.errors import ConfigError

SYSTEM_CONFIG = Path("/etc/mailintake/config.toml")


def shipped(kind: str) -> Path | None:
    """The ``rules``, ``templates`` or ``samples`` directory that came with the
    program, or None.

    A wheel carries them inside the package, as ``mailintake/_shipped/<kind>``
    (setup.cfg maps the repository's top-level directories there). An editable
    install or a plain checkout reads the top-level directories themselves: the
    package's parent holds setup.cfg and them. No lookup under ``sys.prefix``:
    it misses ``pip install --user``, ``--prefix`` and Debian's /usr/local.
    """
    package = Path(str(importlib.resources.files("mailintake")))
    inside = package / "_shipped" / kind
    if inside.is_dir():
        return inside
    checkout = package.parent
    if (checkout / "setup.cfg").is_file() and (checkout / kind).is_dir():
        return checkout / kind
    return None


# --- the configuration file -----------------------------------------------------------------
class ConfigNotFound(ConfigError):
    """No config.toml where a command looks for one (exit 2, one line)."""


def locate(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None, *, system: bool = True) -> Path:
    """The config.toml a command reads: ``path`` (``--config``), else
    ``$MAILINTAKE_CONFIG``, else ``./config.toml``, else
    ``/etc/mailintake/config.toml`` (unless ``system`` is False).

    Finding none is ``ConfigNotFound`` naming the places looked, never a quiet
    fall back to the defaults: a command run in the wrong directory would show
    an empty list and make a registry (``./var``) there.
    """
    env = os.environ if environ is None else environ
    if path is not None:
        return Path(path)
    if env.get("MAILINTAKE_CONFIG"):
        return Path(env["MAILINTAKE_CONFIG"])
    here = Path.cwd() / "config.toml"
    places = [here, SYSTEM_CONFIG] if system else [here]
    for place in places:
        if place.is_file():
            return place
    looked = ", ".join(["$MAILINTAKE_CONFIG (not set)", *map(str, places)])
    raise ConfigNotFound(f"no config.toml found; looked in {looked}: give --config FILE, or make one with `mailintake init DIR`")
