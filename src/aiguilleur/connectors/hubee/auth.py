"""OAuth2 client credentials for the HubEE API as an ``httpx.Auth`` with a token cache.

The token lives one hour (research §2); it is reused until shortly before ``expires_in`` runs out,
and renewed once when the API answers 401 anyway (the gateway's "900901": expired or revoked early).
A second 401 is the caller's to classify. Thread-safe: one connector's workers share one token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import httpx

MARGIN_S = 60.0  # renew this long before the announced expiry (clock skew, a request in flight)


@dataclass(frozen=True, slots=True)
class CachedToken:
    value: str
    expires_at: float  # on the cache's monotonic clock


class TokenCache:
    """The current token, fetched by `fetch` (returns the token and its lifetime in seconds)."""

    def __init__(
        self, fetch: Callable[[], tuple[str, float]], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: CachedToken | None = None
        self.fetched = 0  # how many tokens were asked for (tests, logs)

    def get(self) -> str:
        """A token valid for a while yet; fetches one when there is none or it is about to expire."""
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.expires_at:
                value, lifetime_s = self._fetch()
                self.fetched += 1
                margin = min(MARGIN_S, lifetime_s / 10)
                token = CachedToken(value, self._clock() + max(lifetime_s - margin, 0.0))
                self._token = token
            return token.value

    def invalidate(self, value: str) -> None:
        """Forget `value` if it is still the current token (another thread may have renewed it)."""
        with self._lock:
            if self._token is not None and self._token.value == value:
                self._token = None


class HubeeAuth(httpx.Auth):
    """Bearer token from the cache; on 401, one renewal and one more try of the same request."""

    def __init__(self, cache: TokenCache) -> None:
        self.cache = cache

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        value = self.cache.get()
        request.headers["Authorization"] = f"Bearer {value}"
        response = yield request
        if response.status_code == 401:
            self.cache.invalidate(value)
            request.headers["Authorization"] = f"Bearer {self.cache.get()}"
            yield request
