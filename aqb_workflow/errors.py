"""The one exception family of aqb-workflow, and the only place exit codes live.

Every error carries a message a person can act on; the CLI prints it as one line on stderr
and exits with the error's ``exit_code``.
"""

from __future__ import annotations


class AqbError(Exception):
    """Base of all errors a user may see."""

    exit_code = 1


class BadInput(AqbError):
    """Usage, unknown key, bad date or amount."""

    exit_code = 2


class ConfigError(BadInput):
    """A broken config, workflow or registry file: names file and key."""


class NotFound(BadInput):
    """An agreement, measure or contact that does not exist."""


class Refused(AqbError):
    """The workflow, a guard or the actor's role forbids the action."""

    exit_code = 1


class Forbidden(Refused):
    """The actor's roles do not allow it (logged as a refused attempt)."""


class Conflict(Refused):
    """Someone else changed the agreement between reading and writing."""


class AuditBroken(AqbError):
    """``audit verify`` found a changed, removed, reordered or cut-off event."""

    exit_code = 1

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq
