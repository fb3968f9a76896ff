"""HubeeClient: the subscriber ("SI") side of the Folder API 1.2.7, one method per endpoint.

Every call carries the partner headers and a bearer token (`auth.py`); connections are kept alive and
shared by the connector's workers. Transient failures (5xx, 429, timeouts, resets) are retried with
exponential back-off, honouring ``Retry-After``, `config.retries` tries in all (the seed's 5); other
answers are classified once (`errors.classify`). Downloads stream: the body goes chunk by chunk to the
caller's sink, never whole in memory, and a retry starts the download again.

    with HubeeClient(config) as client:
        for notification in client.list_notifications(process_codes=["EtatCivil"]):
            ...
"""

from __future__ import annotations

import base64
import binascii
import logging
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import tenacity
from pydantic import BaseModel, TypeAdapter, ValidationError

from aiguilleur.connectors.hubee import wire
from aiguilleur.connectors.hubee.auth import HubeeAuth, TokenCache
from aiguilleur.connectors.hubee.config import HubeeConfig
from aiguilleur.connectors.hubee.errors import (
    HubeeAuthRefused,
    HubeeError,
    HubeeNotFound,
    HubeeProtocolError,
    HubeeUnavailable,
    classify,
    unreachable,
)
from aiguilleur.connectors.hubee.network import https_transport

logger = logging.getLogger(__name__)

API_ROOT = "/teledossiers/v1"
RETRY_AFTER_MAX_S = 300.0  # a longer Retry-After fails this run; the next run asks again
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
_NOTIFICATIONS = TypeAdapter(list[wire.Notification])


@dataclass(frozen=True, slots=True)
class Download:
    """A binary being received: its chunks (read once), and what the platform announces about it."""

    chunks: Iterator[bytes]
    size: int | None  # Content-Length
    sha256: str | None  # from the ``digest`` header, as lowercase hex; None when absent or unreadable


def digest_hex(header: str | None) -> str | None:
    """The ``digest`` header (base64 SHA-256, research §3; ``SHA-256=`` prefix tolerated) as hex."""
    if not header:
        return None
    value = header.strip()
    if "=" in value[:8]:
        algorithm, _, rest = value.partition("=")
        if algorithm.strip().lower() not in ("sha-256", "sha256"):
            return None
        value = rest
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


class HubeeClient:
    """HubEE for one credential pair. `transport` replaces the network (tests: the fake HubEE);
    `sleep` is how the back-off waits; `clock` (monotonic seconds) dates the token."""

    def __init__(
        self,
        config: HubeeConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_connections: int | None = None,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self.tokens = TokenCache(self._fetch_token, clock=clock)
        connections = max_connections or config.workers + 2
        verify: ssl.SSLContext | bool = True
        if config.ca_file is not None:
            verify = ssl.create_default_context(cafile=config.ca_file)
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._http = httpx.Client(
            base_url=config.api_url + API_ROOT,
            headers=config.partner_headers,
            auth=HubeeAuth(self.tokens),
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            limits=limits,
            transport=transport if transport is not None else https_transport(verify, limits),
            verify=verify,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- token ---------------------------------------------------------------------------------------

    def _fetch_token(self) -> tuple[str, float]:
        """POST the token endpoint: HTTP Basic, form body ``grant_type=client_credentials&scope=SI``."""
        cfg = self.config
        try:
            response = self._http.post(
                cfg.token_url,
                auth=httpx.BasicAuth(cfg.client_id, cfg.client_secret.get_secret_value()),
                data={"grant_type": "client_credentials", "scope": cfg.scope},
            )
        except httpx.TransportError as exc:
            raise unreachable(exc, "jeton") from exc
        error = classify(response, "jeton")
        if isinstance(error, HubeeAuthRefused) or (error is not None and response.status_code == 400):
            # 400 invalid_grant / invalid_scope: the credential pair cannot get a token either
            raise HubeeAuthRefused(
                f"{error} (couple de la démarche {cfg.process_code})", status=response.status_code
            )
        if error is not None:
            raise error
        token = _parse(wire.Token, response, "jeton")
        logger.info("hubee %s: new token (%d s)", cfg.process_code, token.expires_in)
        return token.access_token, float(token.expires_in)

    # -- plumbing ------------------------------------------------------------------------------------

    def _wait_s(self, state: tenacity.RetryCallState) -> float:
        cfg = self.config
        wait = min(cfg.backoff_s * 2.0 ** (state.attempt_number - 1), cfg.backoff_max_s)
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        asked = exc.retry_after_s if isinstance(exc, HubeeError) else None
        if asked is not None:
            wait = min(max(wait, asked), RETRY_AFTER_MAX_S)
        return wait

    def _retrying(self, operation: str, fn: Callable[[], T]) -> T:
        def log(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome is not None else None
            wait = state.next_action.sleep if state.next_action is not None else 0.0
            logger.warning(
                "hubee %s: %s failed (try %d of %d), again in %.1f s: %s",
                self.config.process_code,
                operation,
                state.attempt_number,
                self.config.retries,
                wait,
                exc,
            )

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.config.retries),
            wait=self._wait_s,
            retry=tenacity.retry_if_exception_type(HubeeUnavailable),
            sleep=self._sleep,
            before_sleep=log,
            reraise=True,
        )
        return retrying(fn)

    def _once(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise unreachable(exc, f"{method} {path}") from exc
        error = classify(response)
        if error is not None:
            raise error
        return response

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._retrying(f"{method} {path}", lambda: self._once(method, path, **kwargs))

    def _download(self, path: str, sink: Callable[[Download], T]) -> T:
        operation = f"GET {path}"

        def once() -> T:
            try:
                with self._http.stream("GET", path) as response:
                    if not response.is_success:
                        response.read()
                        error = classify(response)
                        assert error is not None
                        raise error
                    length = response.headers.get("Content-Length")
                    download = Download(
                        chunks=_guarded(response.iter_bytes(), operation),
                        size=int(length) if length and length.isdigit() else None,
                        sha256=digest_hex(response.headers.get("digest")),
                    )
                    return sink(download)
            except httpx.TransportError as exc:
                raise unreachable(exc, operation) from exc

        return self._retrying(operation, once)

    # -- notifications -------------------------------------------------------------------------------

    def list_notifications(
        self,
        *,
        max_result: int | None = None,
        process_codes: Sequence[str] = (),
        event_details: bool = True,
    ) -> list[wire.Notification]:
        """GET /notifications: the oldest pending notifications (a queue: they come back until
        deleted). `event_details` adds the event's action type and current status (research §7)."""
        params: list[tuple[str, str]] = [("maxResult", str(max_result or self.config.notifications_batch))]
        params += [("processCode", code) for code in process_codes]
        if event_details:
            params.append(("eventDetails", "true"))
        response = self._call("GET", "/notifications", params=params)
        try:
            return _NOTIFICATIONS.validate_json(response.content)
        except ValidationError as exc:
            raise HubeeProtocolError(f"HubEE GET /notifications : réponse illisible ({_first(exc)})") from exc

    def delete_notification(self, notification_id: str) -> bool:
        """DELETE /notifications/{id}: the acknowledgement. False when it was already gone (404)."""
        try:
            self._call("DELETE", f"/notifications/{notification_id}")
        except HubeeNotFound:
            return False
        return True

    # -- cases and events ----------------------------------------------------------------------------

    def get_case(self, case_id: str, *, lite: bool = False) -> wire.Case:
        """GET /cases/{id}: metadata, attachments and events (`lite`: metadata only)."""
        params = {"lite": "true"} if lite else None
        return _parse(wire.Case, self._call("GET", f"/cases/{case_id}", params=params), f"case {case_id}")

    def update_case_status(self, case_id: str, status: str) -> None:
        """PATCH /cases/{id} ``{"status"}``: the legacy way; an event should follow (research §5.6)."""
        self._call("PATCH", f"/cases/{case_id}", json={"status": status})

    def create_event(self, case_id: str, body: dict[str, Any]) -> wire.Event:
        """POST /cases/{id}/events (a status change, a message); returns the event created.

        POST is not idempotent: when an attempt failed without an answer we can trust (timeout, reset,
        5xx), the event may exist all the same. With a ``partnerAttributes`` marker, each retry first
        looks for an event carrying it on the case and returns that one instead of posting again.
        """
        path = f"/cases/{case_id}/events"
        marker = body.get("partnerAttributes")
        tries = 0

        def once() -> wire.Event:
            nonlocal tries
            tries += 1
            if tries > 1 and marker:
                case = _parse(wire.Case, self._once("GET", f"/cases/{case_id}"), f"case {case_id}")
                found = next((e for e in case.events if e.partner_attributes == marker), None)
                if found is not None:
                    logger.info(
                        "hubee %s: event %s was created by the lost try", self.config.process_code, found.id
                    )
                    return found
            return _parse(wire.Event, self._once("POST", path, json=body), f"event of case {case_id}")

        return self._retrying(f"POST {path}", once)

    def get_event(self, case_id: str, event_id: str) -> wire.Event:
        """GET /cases/{id}/events/{id}."""
        response = self._call("GET", f"/cases/{case_id}/events/{event_id}")
        return _parse(wire.Event, response, f"event {event_id}")

    def acknowledge_event(self, case_id: str, event_id: str) -> None:
        """PATCH /cases/{id}/events/{id} ``{"status":"RECEIVED"}``: we took the event into account."""
        self._call("PATCH", f"/cases/{case_id}/events/{event_id}", json={"status": wire.EVENT_RECEIVED})

    def finish_event(self, case_id: str, event_id: str) -> None:
        """PATCH /cases/{id}/events/{id} ``{"status":"SENT"}``: the author releases its ATTACH_DEPOSIT
        once every binary is RECEIVED (research §6.4); a retry first checks that a lost try did not."""
        path = f"/cases/{case_id}/events/{event_id}"

        def sent() -> bool:
            return self._event_once(case_id, event_id).status in (wire.EVENT_SENT, wire.EVENT_RECEIVED)

        self._call_unless_done("PATCH", path, sent, json={"status": wire.EVENT_SENT})

    def delete_event(self, case_id: str, event_id: str) -> bool:
        """DELETE /cases/{id}/events/{id}: cancel our ATTACH_DEPOSIT still IN_PROGRESS. False when it
        was gone already (404)."""
        try:
            self._call("DELETE", f"/cases/{case_id}/events/{event_id}")
        except HubeeNotFound:
            return False
        return True

    def _event_once(self, case_id: str, event_id: str) -> wire.Event:
        response = self._once("GET", f"/cases/{case_id}/events/{event_id}")
        return _parse(wire.Event, response, f"event {event_id}")

    def _call_unless_done(self, method: str, path: str, done: Callable[[], bool], **kwargs: Any) -> None:
        """`_call` for a request that must not be repeated once it worked: a retry (the previous try
        may have worked, its answer lost) first asks `done`."""
        tries = 0

        def once() -> None:
            nonlocal tries
            tries += 1
            if tries > 1 and done():
                logger.info(
                    "hubee %s: %s %s was done by the lost try", self.config.process_code, method, path
                )
                return
            self._once(method, path, **kwargs)

        self._retrying(f"{method} {path}", once)

    # -- binaries ------------------------------------------------------------------------------------

    def download_case_attachment(self, case_id: str, attachment_id: str, sink: Callable[[Download], T]) -> T:
        """GET /cases/{id}/attachments/{id}, streamed into `sink`; returns what `sink` returns.

        An exception from `sink` (e.g. a digest mismatch) ends the download and propagates, unretried.
        """
        return self._download(f"/cases/{case_id}/attachments/{attachment_id}", sink)

    def upload_event_attachment(
        self,
        case_id: str,
        event_id: str,
        attachment_id: str,
        chunks: Callable[[], Iterator[bytes]],
        *,
        size: int,
        sha256: str | None = None,
    ) -> None:
        """PUT /cases/{id}/events/{id}/attachments/{id}: the binary of a declared attachment, streamed
        from `chunks()` (called again for each try), with its exact Content-Length and, when `sha256`
        (hex) is given, the ``digest`` header as the platform sends it (base64 SHA-256).

        HubEE refuses (400) a size differing from the declared one. A retry first checks that the
        attachment did not become RECEIVED through a try whose answer was lost.
        """
        path = f"/cases/{case_id}/events/{event_id}/attachments/{attachment_id}"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        if sha256:
            headers["digest"] = base64.b64encode(bytes.fromhex(sha256)).decode("ascii")

        def received() -> bool:
            event = self._event_once(case_id, event_id)
            return any(
                a.id == attachment_id and a.status == wire.ATTACHMENT_RECEIVED for a in event.attachments
            )

        self._call_unless_done("PUT", path, received, content=_Replayable(chunks), headers=headers)

    def download_event_attachment(
        self, case_id: str, event_id: str, attachment_id: str, sink: Callable[[Download], T]
    ) -> T:
        """GET /cases/{id}/events/{id}/attachments/{id}, streamed into `sink` (see above)."""
        return self._download(f"/cases/{case_id}/events/{event_id}/attachments/{attachment_id}", sink)


class _Replayable:
    """A request body read from `chunks()` anew each time httpx sends it (a retry, a 401 renewal)."""

    def __init__(self, chunks: Callable[[], Iterator[bytes]]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks()


def _guarded(chunks: Iterator[bytes], operation: str) -> Iterator[bytes]:
    """The body's chunks, a connection lost midway translated like any other transport failure."""
    try:
        yield from chunks
    except httpx.TransportError as exc:
        raise unreachable(exc, operation) from exc


def _parse(model: type[M], response: httpx.Response, what: str) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise HubeeProtocolError(f"HubEE {what} : réponse illisible ({_first(exc)})") from exc


def _first(exc: ValidationError) -> str:
    err = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in err["loc"]) or "(racine)"
    return f"{where} : {err['msg']}"
