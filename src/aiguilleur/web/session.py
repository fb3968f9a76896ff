"""Signed-cookie sessions for the dashboard, and the key that signs them.

The session is a small JSON dict (user id, login, CSRF token, flash messages) carried by the browser in
the ``aiguilleur_session`` cookie, signed with itsdangerous: readable by its holder, never forgeable.
It expires after ``IDLE_S`` without a request and ``MAX_S`` after the sign-in, whatever the activity.
The cookie is ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` when the request came over HTTPS.

The key is ``hub.secret_key`` from the configuration, else a random key generated once into
``data_dir/secret-key`` (mode 0600), so that sessions survive a restart and are shared by the
processes of one hub. It is read only when a session is used: API calls never need it.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aiguilleur.config import Config

COOKIE = "aiguilleur_session"
IDLE_S = 4 * 3600
MAX_S = 12 * 3600
SALT = "aiguilleur.web.session"
KEY_FILE = "secret-key"


def secret_key(config: Config) -> bytes:
    """The configured ``hub.secret_key``, else the key of ``data_dir/secret-key`` (created if missing)."""
    if config.hub.secret_key is not None and config.hub.secret_key.get_secret_value():
        return config.hub.secret_key.get_secret_value().encode()
    path = config.data_dir / KEY_FILE
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of the hub made it meanwhile
        return _read_key(path)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = path.read_text().strip()
    if len(key) < 32:
        raise ValueError(f"{path}: clé de session trop courte (32 caractères au moins)")
    return key.encode()


class SessionMiddleware:
    """Puts the session dict in ``scope["session"]`` (``request.session``) and writes it back as a cookie.

    ``key`` is called once, at the first request that carries or creates a session.
    """

    def __init__(
        self,
        app: ASGIApp,
        key: Callable[[], bytes],
        *,
        idle_s: int = IDLE_S,
        max_s: int = MAX_S,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self._key = key
        self._serializer: URLSafeTimedSerializer | None = None
        self._lock = threading.Lock()
        self.idle_s = idle_s
        self.max_s = max_s
        self.now = now

    def serializer(self) -> URLSafeTimedSerializer:
        with self._lock:
            if self._serializer is None:
                self._serializer = URLSafeTimedSerializer(self._key(), salt=SALT)
            return self._serializer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = HTTPConnection(scope).cookies.get(COOKIE)
        session = self._load(raw) if raw else {}
        scope["session"] = session
        secure = scope.get("scheme") == "https"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                current: dict[str, Any] = scope["session"]
                headers = MutableHeaders(scope=message)
                if current:
                    current.setdefault("since", int(self.now()))
                    value = self.serializer().dumps(current)
                    headers.append("Set-Cookie", _cookie(value, self.idle_s, secure))
                elif raw:
                    headers.append("Set-Cookie", _cookie("", 0, secure))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _load(self, raw: str) -> dict[str, Any]:
        try:
            data = self.serializer().loads(raw, max_age=self.idle_s)
        except BadSignature:  # also SignatureExpired: a forged, damaged or idle cookie is no session
            return {}
        if not isinstance(data, dict):
            return {}
        since = data.get("since")
        if not isinstance(since, int) or self.now() - since > self.max_s:
            return {}
        return data


def _cookie(value: str, max_age: int, secure: bool) -> str:
    parts = [f"{COOKIE}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
