"""The HTTP transport of the HubEE client: httpx's own, except that a TLS read returns every record
already received (up to what httpcore asks, 64 KB) instead of one.

An SSL socket's ``recv`` returns one TLS record, 16 KB at most, and httpx runs its Python layers (h11,
httpcore, httpx streams) once per read: for attachments of up to 1 GB that per-record work, with the GIL
held, was most of the client's CPU. The records that are already decrypted or waiting in the socket are
taken without blocking; nothing else changes (timeouts, errors and pooling stay httpcore's).

`https_transport` returns None when an environment proxy is set, so that httpx keeps handling it.
"""

from __future__ import annotations

import ssl
import typing
import urllib.request
from typing import Any

import httpcore
import httpx


def https_transport(verify: ssl.SSLContext | bool, limits: httpx.Limits) -> httpx.HTTPTransport | None:
    """httpx's transport with gathering TLS reads; None when a proxy comes from the environment."""
    if any(scheme != "no" for scheme in urllib.request.getproxies()):  # "no": NO_PROXY alone
        return None
    transport = httpx.HTTPTransport(verify=verify, limits=limits)
    pool = transport._pool  # httpx 0.28 (pinned) builds it; only its network backend differs
    transport._pool = httpcore.ConnectionPool(
        ssl_context=pool._ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_GatheringBackend(),
    )
    return transport


class _GatheringBackend(httpcore.SyncBackend):
    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _GatheringStream(super().connect_tcp(*args, **kwargs))


class _GatheringStream(httpcore.NetworkStream):
    """A stream whose reads on TLS also take the records that are there already."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        first = self._inner.read(max_bytes, timeout)
        sock = self._inner.get_extra_info("socket")
        if not first or len(first) >= max_bytes or not isinstance(sock, ssl.SSLSocket):
            return first
        parts, size = [first], len(first)
        sock.settimeout(0)  # the inner read sets the timeout again before each blocking read
        try:
            while size < max_bytes:
                more = sock.recv(max_bytes - size)
                if not more:
                    break
                parts.append(more)
                size += len(more)
        except OSError:
            # nothing more for now (SSLWantReadError, BlockingIOError), or a failure that the next
            # blocking read meets again and reports through httpcore
            pass
        return b"".join(parts) if len(parts) > 1 else first

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _GatheringStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)
