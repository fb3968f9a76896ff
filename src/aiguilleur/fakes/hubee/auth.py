"""The platform's OAuth2 side: the client-credentials token endpoint (WSO2 IS) and the gateway's
bearer-token check (WSO2 API Manager), as research/hubee.md §2 and §14 describe them."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import parse_qs

import httpx

from aiguilleur.fakes.hubee import responses
from aiguilleur.fakes.hubee.faults import HubeeFaults
from aiguilleur.fakes.hubee.model import Subscription, Token


class TokenIssuer:
    """Known clients (`subscriptions` by client_id) and the tokens issued to them.

    Tokens last `lifetime_s` on the `now` clock and die early when `faults.expire_tokens()` is called.
    """

    def __init__(
        self,
        now: Callable[[], datetime],
        faults: HubeeFaults,
        new_token: Callable[[], str],
        lifetime_s: int = 3600,
    ) -> None:
        self.now = now
        self.faults = faults
        self.new_token = new_token
        self.token_lifetime_s = lifetime_s
        self.subscriptions: dict[str, Subscription] = {}
        self.tokens: dict[str, Token] = {}

    def token_endpoint(self, request: httpx.Request) -> httpx.Response:
        """Client credentials (RFC 6749 §4.4) as WSO2 IS answers them (research §2)."""
        if request.method != "POST":
            return responses.oauth_error(405, "invalid_request", "The token endpoint accepts POST only")
        media = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media != "application/x-www-form-urlencoded":
            # DINUM's own sender had to move from JSON to a form body in Nov 2025 (research §1, §13).
            return responses.oauth_error(400, "invalid_request", "The request body must be form-encoded")
        form = {k: v[0] for k, v in parse_qs(request.content.decode("utf-8", "replace")).items()}
        client_id, secret = self._client_credentials(request, form)
        sub = self.subscriptions.get(client_id or "")
        if client_id is None or secret is None:
            return responses.oauth_error(401, "invalid_client", "Client Authentication failed.")
        if sub is None:
            return responses.oauth_error(
                401, "invalid_client", f"A valid OAuth client could not be found for client_id: {client_id}"
            )
        if not hmac.compare_digest(secret.encode(), sub.client_secret.encode()):
            return responses.oauth_error(401, "invalid_client", "Client Authentication failed.")
        if form.get("grant_type") != "client_credentials":
            return responses.oauth_error(400, "unsupported_grant_type", "Unsupported grant_type value")
        # WSO2 drops the scopes a client may not have and falls back to "default", which the API refuses.
        requested = form.get("scope", "").split()
        scope = sub.role if sub.role in requested else "default"
        now = self.now()
        value = self.new_token()
        self.tokens[value] = Token(
            value,
            sub,
            scope,
            now,
            now + timedelta(seconds=self.token_lifetime_s),
            self.faults.token_generation,
        )
        body = {
            "access_token": value,
            "scope": scope,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime_s,
        }
        return responses.json_response(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    @staticmethod
    def _client_credentials(request: httpx.Request, form: dict[str, str]) -> tuple[str | None, str | None]:
        header = request.headers.get("Authorization", "")
        if header[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None, None
            client_id, sep, secret = decoded.partition(":")
            return (client_id, secret) if sep else (None, None)
        return form.get("client_id"), form.get("client_secret")

    def authenticate(self, request: httpx.Request) -> Token | httpx.Response:
        """The token of an API call, or the gateway's 401 (none, unknown, expired), or 403 for a
        token without the SI/OSL scope."""
        header = request.headers.get("Authorization", "")
        if header[:7].lower() != "bearer ":
            return responses.invalid_credentials(missing=True)
        token = self.tokens.get(header[7:].strip())
        if token is None:
            return responses.invalid_credentials()
        if self.now() >= token.expires_at or token.generation != self.faults.token_generation:
            return responses.invalid_credentials(expired=True)
        if token.scope == "default":
            # WSO2 would refuse the scope itself; the OpenAPI documents one 403 body for the API.
            return responses.forbidden()
        return token
