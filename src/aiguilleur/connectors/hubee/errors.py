"""The HubEE error tree and the classification of the platform's answers (STYLE.md shape 4).

Each error also inherits the family the engine acts on: `HubeeUnavailable` is retried with back-off
(5xx, 429, timeouts, resets), `HubeeRejected` is not (other 4xx), `HubeeAuthRefused` stops the run and
keeps the returns pending (401 after one token renewal, 403 "Unauthorized user": a credential of another
démarche, research §2).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from aiguilleur.errors import AuthError, PeerError, PermanentError, ProtocolError, TransientError

PEER = "hubee"
_DETAIL_MAX = 300


class HubeeError(PeerError):
    """Talking to HubEE failed; `status` is the HTTP status when there was an answer."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after_s: float | None = None, source: str = ""
    ) -> None:
        super().__init__(message, peer=PEER, source=source)
        self.status = status
        self.retry_after_s = retry_after_s


class HubeeUnavailable(HubeeError, TransientError):
    """5xx, 429 (throttled, with Retry-After), timeout, connection refused or reset."""


class HubeeRejected(HubeeError, PermanentError):
    """A 4xx other than 401/403: the request itself is refused, sending it again will not help."""


class HubeeNotFound(HubeeRejected):
    """404: the notification, case, event or file is not (or no longer) there."""


class HubeeAuthRefused(HubeeRejected, AuthError):
    """The token endpoint refused the credential pair, or the API refused the token (401, 403)."""


class HubeeProtocolError(HubeeError, ProtocolError):
    """HubEE answered something we cannot read (not JSON, missing fields)."""


def peer_message(response: httpx.Response) -> str:
    """The platform's own words from an error body: ``{"errors":[{"message"}]}`` (API),
    ``{"fault":{"message","description"}}`` (WSO2 gateway), ``{"error_description"}`` (OAuth2)."""
    try:
        body = json.loads(response.content or b"null")
    except (ValueError, UnicodeDecodeError):
        return ""
    parts: list[str] = []
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list):
            parts += [str(e.get("message", "")) for e in errors if isinstance(e, dict)]
        fault = body.get("fault")
        if isinstance(fault, dict):
            parts += [str(fault.get("message", "")), str(fault.get("description", ""))]
        for key in ("error_description", "error", "message"):
            if not parts and isinstance(body.get(key), str):
                parts.append(body[key])
    text = " ".join(" ".join(p.split()) for p in parts if p)
    return text[:_DETAIL_MAX]


def retry_after_s(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds asked by ``Retry-After`` (a number or an HTTP date), None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify(response: httpx.Response, operation: str = "") -> HubeeError | None:
    """The error the pipeline must act on, or None for a success. The body must have been read."""
    if response.is_success:
        return None
    status = response.status_code
    what = operation or f"{response.request.method} {response.request.url.path}"
    detail = peer_message(response)
    message = f"HubEE {what} -> {status}" + (f" : {detail}" if detail else "")
    if status in (401, 403):
        return HubeeAuthRefused(message, status=status)
    if status == 429 or status >= 500:
        return HubeeUnavailable(message, status=status, retry_after_s=retry_after_s(response))
    if status == 404:
        return HubeeNotFound(message, status=status)
    return HubeeRejected(message, status=status)


def unreachable(exc: httpx.TransportError, operation: str) -> HubeeUnavailable:
    """A timeout, refused or reset connection, translated where it enters (STYLE.md shape 5)."""
    kind = "délai dépassé" if isinstance(exc, httpx.TimeoutException) else "connexion impossible ou coupée"
    return HubeeUnavailable(f"HubEE {operation} : {kind} ({type(exc).__name__})")
