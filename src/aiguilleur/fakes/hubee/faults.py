"""Fault switches of the fake HubEE, flipped by tests while it serves.

The world reads them on every request, in process (``httpx.MockTransport(world)``) or behind the
loopback server alike, so a switch takes effect on the next request. Paths are matched as prefixes of
the request path (``/teledossiers/v1/notifications``, ``/oauth2/token``, ``/teledossiers/v1/cases``…).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

CorruptionKind = Literal["flip", "truncate", "digest"]


@dataclass(slots=True)
class _Failure:
    path_prefix: str
    status: int
    remaining: int
    retry_after_s: int | None
    method: str | None


@dataclass(slots=True)
class _Slow:
    path_prefix: str
    delay_s: float
    remaining: int | None


@dataclass(slots=True)
class _Corruption:
    attachment_id: str | None
    kind: CorruptionKind
    remaining: int


@dataclass(slots=True)
class HubeeFaults:
    """What the fake HubEE does wrong, on purpose.

    - `fail_next(prefix, status, times)`: the next `times` matching requests get `status` (500 and 503
      in the API's error envelope, 429 as WSO2 throttling with ``Retry-After``) before anything else
      happens: no state changes.
    - `slow(prefix, delay_s, times)`: matching requests wait `delay_s` through the world's `sleep` hook
      first (a test passes a hook that records, advances a clock or raises ``httpx.ReadTimeout``).
    - `expire_tokens()`: every token issued so far is expired now (401 900901 on the next call).
    - `duplicate_notifications`: each notification of a batch is listed twice (same id).
    - `shuffle_notifications`: the queue is listed in a random order (seeded), so an event's
      notification may come before its case's, as the SFD warns.
    - `corrupt_next_download(attachment_id, kind, times)`: the next downloads of that attachment (any
      if None) come with bytes that do not match the announced ``digest`` (``flip`` one byte, same
      size; ``truncate`` the last byte) or with a wrong ``digest`` header (``digest``).
    - `purge(attachment_id)`: that binary is purged now (status DELETED, download 404 "File is not
      found"); `purge_on_status`: binaries are purged as soon as every case that references them
      reaches this status or a later one (statusBeforeFileDeletion with no delay).
    - `gzip_responses`: JSON answers are sent with ``Content-Encoding: gzip``.
    - `no_si_attachments`: process codes whose démarche has ``siAttachmentFormatsEnabled`` false: an
      SI's ATTACH_DEPOSIT is refused (400) there (research §5.6).

    Counters: `failures_served`, `slow_served`, `corruptions_served`.
    """

    duplicate_notifications: bool = False
    shuffle_notifications: bool = False
    gzip_responses: bool = False
    purge_on_status: str | None = None
    token_generation: int = 0
    purged: set[str] = field(default_factory=set)
    no_si_attachments: set[str] = field(default_factory=set)
    failures_served: int = 0
    slow_served: int = 0
    corruptions_served: int = 0
    _failures: list[_Failure] = field(default_factory=list)
    _slow: list[_Slow] = field(default_factory=list)
    _corruptions: list[_Corruption] = field(default_factory=list)

    def fail_next(
        self,
        path_prefix: str,
        status: int = 500,
        times: int = 1,
        *,
        retry_after_s: int | None = None,
        method: str | None = None,
    ) -> None:
        """Answer `status` to the next `times` requests whose path starts with `path_prefix`.

        A 429 carries ``Retry-After`` (1 s unless `retry_after_s` says otherwise); a 503 carries it
        only when `retry_after_s` is given. `method` restricts the match (e.g. ``"DELETE"``).
        """
        if status == 429 and retry_after_s is None:
            retry_after_s = 1
        self._failures.append(
            _Failure(path_prefix, status, times, retry_after_s, method.upper() if method else None)
        )

    def slow(self, path_prefix: str, delay_s: float, times: int | None = None) -> None:
        """Delay matching requests by `delay_s` (`times` requests, or every one while set)."""
        self._slow.append(_Slow(path_prefix, delay_s, times))

    def expire_tokens(self) -> None:
        """Every token issued until now is expired from now on (new ones are fine)."""
        self.token_generation += 1

    def corrupt_next_download(
        self, attachment_id: str | None = None, kind: CorruptionKind = "flip", times: int = 1
    ) -> None:
        self._corruptions.append(_Corruption(attachment_id, kind, times))

    def purge(self, attachment_id: str) -> None:
        self.purged.add(attachment_id)

    def clear(self) -> None:
        """Back to a well-behaved platform (expired tokens and purged binaries stay so; counters kept)."""
        self.duplicate_notifications = False
        self.shuffle_notifications = False
        self.gzip_responses = False
        self.purge_on_status = None
        self.no_si_attachments.clear()
        self._failures.clear()
        self._slow.clear()
        self._corruptions.clear()

    # --- used by the world -------------------------------------------------------------------------

    def take_failure(self, method: str, path: str) -> tuple[int, int | None] | None:
        for failure in self._failures:
            if path.startswith(failure.path_prefix) and failure.method in (None, method):
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                self.failures_served += 1
                return failure.status, failure.retry_after_s
        return None

    def take_delay(self, path: str) -> float:
        for slow in self._slow:
            if path.startswith(slow.path_prefix):
                if slow.remaining is not None:
                    slow.remaining -= 1
                    if slow.remaining <= 0:
                        self._slow.remove(slow)
                self.slow_served += 1
                return slow.delay_s
        return 0.0

    def take_corruption(self, attachment_id: str) -> CorruptionKind | None:
        for corruption in self._corruptions:
            if corruption.attachment_id in (None, attachment_id):
                corruption.remaining -= 1
                if corruption.remaining <= 0:
                    self._corruptions.remove(corruption)
                self.corruptions_served += 1
                return corruption.kind
        return None
