"""SneError tree: every way an SNE exchange can fail, each in the family the pipeline acts on.

- `SneValidationError`: the demande file fails our checks before anything is sent (no network call).
- `SneTlsRefused` (an `AuthError`): the TLS handshake failed: client certificate refused, unknown CA,
  server name or certificate not trusted.
- `SneUnavailable` (a `TransientError`): timeout, connection reset, HTTP 5xx without a SOAP fault, 429.
- `SneRejected` (a `PermanentError`): another HTTP status without a SOAP fault (4xx); `SneAuthRefused`
  (also an `AuthError`) for 401 and 403.
- `SneFault` (a `PermanentError`): a SOAP 1.2 fault, with its `code`, `reason` and `detail`;
  `SneUnexpectedFault` for the SNE's "erreur inattendue", `SneCertificateRefused` (also an `AuthError`)
  for "Le nom du certificat associé [...] n'est pas conforme." (research/sne.md §3).
- `SneProtocolError` (a `ProtocolError`): an answer we cannot parse.

Business outcomes (anomalies, probable duplicates, empty answers) are values (`results.py`), not errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiguilleur.errors import (
    AuthError,
    PeerError,
    PermanentError,
    ProtocolError,
    RejectedItemError,
    TransientError,
)

PEER = "sne"
UNEXPECTED_ERROR = "Une erreur inattendue est survenue lors du traitement de la demande."
CERTIFICATE_NAME_ERROR = "Le nom du certificat associé"


class SneError(PeerError):
    """Root of the SNE errors; `operation` names the SOAP operation, `response` keeps the raw answer."""

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        source: str = "",
        status: int | None = None,
        response: bytes | None = None,
    ) -> None:
        self.operation = operation
        self.status = status  # the HTTP status, when an answer came
        self.response = response
        super().__init__(message, peer=PEER, source=source)


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in a demande file: `path` is the element path (``/interfaceNuu/entete/…``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path} : {self.message}"


class SneValidationError(SneError, RejectedItemError):
    """The file to send fails the structural or XSD checks: every problem, each with its element path."""

    def __init__(self, problems: list[Problem], *, operation: str = "", source: str = "") -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(
            f"{source or 'SNE'} : fichier refusé avant envoi ({operation}), {len(problems)} problème(s)\n"
            f"{lines}",
            operation=operation,
            source=source,
        )


class SneUnavailable(SneError, TransientError):
    """The SNE could not answer now (timeout, reset, 5xx, 429): retry later."""


class SneRejected(SneError, PermanentError):
    """The SNE (or a proxy before it) refused the request without a SOAP fault."""


class SneAuthRefused(SneRejected, AuthError):
    """The SNE refused our credentials (HTTP 401 or 403)."""


class SneTlsRefused(SneAuthRefused):
    """The TLS handshake failed: our certificate refused or the server's not trusted."""


class SneProtocolError(SneError, ProtocolError):
    """The SNE answered something we cannot parse (not SOAP, bad MIME, missing wrapper or part)."""


class SneFault(SneError, PermanentError):
    """A SOAP 1.2 fault: `code` (Sender, Receiver, VersionMismatch…), `reason`, `detail` (or None)."""

    def __init__(
        self,
        code: str,
        reason: str,
        detail: str | None = None,
        *,
        subcode: str | None = None,
        operation: str = "",
        source: str = "",
        status: int | None = None,
        response: bytes | None = None,
    ) -> None:
        self.code = code
        self.subcode = subcode
        self.reason = reason
        self.detail = detail
        text = f"{source or 'SNE'} : faute SOAP {code} sur {operation or '?'} : {reason}"
        if detail and detail != reason:
            text += f" ({detail})"
        super().__init__(text, operation=operation, source=source, status=status, response=response)


class SneUnexpectedFault(SneFault):
    """The SNE's "erreur inattendue" (known on getDoublons for an association's demande, research §3)."""


class SneCertificateRefused(SneFault, AuthError):
    """The SNE refused the ``certificat`` attachment or its name (research §2.4)."""


def fault_error(
    code: str,
    reason: str,
    detail: str | None,
    *,
    subcode: str | None = None,
    operation: str = "",
    source: str = "",
    status: int | None = None,
    response: bytes | None = None,
) -> SneFault:
    """The SneFault subclass for a fault's texts."""
    cls: type[SneFault] = SneFault
    if UNEXPECTED_ERROR in reason or (detail is not None and UNEXPECTED_ERROR in detail):
        cls = SneUnexpectedFault
    elif CERTIFICATE_NAME_ERROR in reason:
        cls = SneCertificateRefused
    return cls(
        code,
        reason,
        detail,
        subcode=subcode,
        operation=operation,
        source=source,
        status=status,
        response=response,
    )
