"""The root of aiguilleur's error tree (see STYLE.md "Errors").

Each concrete error also inherits the family the pipeline acts on: a ``TransientError`` is retried with
back-off, a ``PermanentError`` stops the source, a ``RejectedItemError`` sends one incoming item to the
error place while the rest keeps flowing.
"""

from __future__ import annotations


class AiguilleurError(Exception):
    """Base of every error aiguilleur raises on purpose."""


class ConfigError(AiguilleurError):
    """Bad settings: carries every problem found, each with its key path."""

    def __init__(self, problems: list[tuple[str, str]], source: str = "configuration") -> None:
        self.problems = problems
        self.source = source
        lines = "\n".join(f"  {path or '(racine)'}: {msg}" for path, msg in problems)
        super().__init__(f"{source}: {len(problems)} erreur(s)\n{lines}")


class PeerError(AiguilleurError):
    """Talking to a peer failed."""

    def __init__(self, message: str, *, peer: str = "", source: str = "") -> None:
        self.peer = peer
        self.source = source
        super().__init__(message)


class TransientError(PeerError):
    """Timeout, reset, 5xx, 429: retry later with back-off."""


class PermanentError(PeerError):
    """4xx, TLS or credentials refused: retrying will not help."""


class AuthError(PermanentError):
    """The peer refused our credentials."""


class ProtocolError(PeerError):
    """The peer answered something we cannot parse."""


class RejectedItemError(AiguilleurError):
    """One incoming item is unusable (bad archive, invalid XML, unsafe path): quarantine it."""


class DomainError(AiguilleurError):
    """A rule of the domain refuses the operation."""


class InvalidTransition(DomainError):
    """A status change or undo that the workflow does not allow from the current state."""

    def __init__(self, message: str, allowed: tuple[int, ...] = ()) -> None:
        self.allowed = allowed
        super().__init__(message)


class StoreError(AiguilleurError):
    """The store refuses or cannot find something."""


class NotFound(StoreError):
    """No such object (or not visible to the caller)."""


class Conflict(StoreError):
    """The object exists already or was changed concurrently."""


class AccessDenied(AiguilleurError):
    """Missing or bad credentials, or a role too weak for the operation."""
