"""One family of errors for everything a person can get wrong or be refused.

The command line turns each into one line and an exit code, never a traceback:
``UserError`` (and its kinds) exits 1, ``ConfigError`` exits 2. Modules raise
these (or a subclass naming their field) and never print.
"""

from __future__ import annotations


class UserError(Exception):
    """A request that cannot be done as asked; the message says why in one line. Exit 1."""

    exit_code = 1


class NotFound(UserError):
    """No application, permit, message or user by that name."""


class StepRefused(UserError):
    """A step that the application's status, the user's role or the input does not allow."""


class Busy(UserError):
    """Another process holds what is needed (a sweep's lock); try again later."""


class ConfigError(Exception):
    """The configuration, the rules or the storage location is wrong; the
    message names the file and key. Exit 2."""

    exit_code = 2
