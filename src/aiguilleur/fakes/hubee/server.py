"""The fake HubEE over a real socket: a small ASGI adapter around the world, served by uvicorn in a
background thread on ``127.0.0.1``, port 0 by default, with optional TLS.

    with HubeeServer(world) as server:          # or server.start() / server.stop()
        HubeeConfig(api_url=server.base_url, token_url=server.token_url, ...)

Each request is turned into an ``httpx.Request``, answered by the world in a worker thread (so a slow
answer blocks only that request), and its body streamed back chunk by chunk.
"""

from __future__ import annotations

import logging
import socket
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import anyio.to_thread
import httpx
import uvicorn

from aiguilleur.fakes.hubee.samples import find_samples_dir
from aiguilleur.fakes.hubee.world import FakeHubee

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_TIMEOUT_S = 30.0
# A body goes to uvicorn by pieces of this size: asyncio's TLS encrypts each piece as it is written, so
# the client decrypts one piece while the next is encrypted (whole, a 5 MB body held the event loop for
# its encryption before its first byte left); uvicorn's flow control paces the pieces.
_SEND_BYTES = 256 * 1024
# Headers uvicorn writes itself; the world's own values would be duplicated.
_SPOOL_BYTES = 1024 * 1024  # a request body larger than this waits in a temporary file
_SKIPPED = frozenset({"transfer-encoding", "connection", "date", "server"})


class _SpooledStream(httpx.SyncByteStream):
    """A request body read from its spool file by pieces."""

    def __init__(self, spool: IO[bytes]) -> None:
        self._spool = spool

    def __iter__(self) -> Iterator[bytes]:
        self._spool.seek(0)
        while chunk := self._spool.read(_SEND_BYTES):
            yield chunk


def _next_chunk(chunks: Iterator[bytes]) -> bytes | None:
    return next(chunks, None)


class HubeeAsgi:
    """An ASGI application answering every HTTP request with `world(httpx.Request)`."""

    def __init__(self, world: Callable[[httpx.Request], httpx.Response]) -> None:
        self.world = world

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        # Spooled: a large upload goes to a temporary file as it arrives, never whole in memory.
        body = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - closed below
        try:
            while True:
                message = await receive()
                body.write(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body.seek(0)
            await self._answer(scope, _SpooledStream(body), send)
        finally:
            body.close()

    async def _answer(self, scope: Scope, body: httpx.SyncByteStream, send: Send) -> None:
        host, port = scope.get("server") or ("127.0.0.1", None)
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        url = httpx.URL(
            f"{scope.get('scheme', 'http')}://{host}{'' if port is None else f':{port}'}"
            f"{raw_path.decode('latin-1')}{'?' + query.decode('latin-1') if query else ''}"
        )
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        request = httpx.Request(scope["method"], url, headers=headers, stream=body)
        response = await anyio.to_thread.run_sync(self.world, request)
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [
                    (k.encode("latin-1"), v.encode("latin-1"))
                    for k, v in response.headers.multi_items()
                    if k.lower() not in _SKIPPED
                ],
            }
        )
        if response.is_stream_consumed:  # built from bytes: httpx read it already (no Content-Encoding)
            content = response.content
            for start in range(0, len(content), _SEND_BYTES):
                piece = content[start : start + _SEND_BYTES]
                await send({"type": "http.response.body", "body": piece, "more_body": True})
        else:
            chunks = response.iter_raw()
            try:
                while (chunk := await anyio.to_thread.run_sync(_next_chunk, chunks)) is not None:
                    if chunk:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
            finally:
                response.close()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class HubeeServer:
    """Serve `world` on `host`:`port` (0 = a free port) until `stop`; TLS when `certfile` and `keyfile`
    (PEM files) are given. `base_url` is the API root to configure (``…/teledossiers/v1`` is under it),
    `token_url` the OAuth2 endpoint."""

    def __init__(
        self,
        world: FakeHubee,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        certfile: Path | None = None,
        keyfile: Path | None = None,
    ) -> None:
        if (certfile is None) != (keyfile is None):
            raise ValueError("TLS needs both certfile and keyfile")
        self.world = world
        self.host = host
        self.certfile = certfile
        self.keyfile = keyfile
        self._requested_port = port
        self._port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def scheme(self) -> str:
        return "https" if self.certfile else "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth2/token"

    def start(self) -> Self:
        """Bind, start the thread, return once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("already started")
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without it
        # headers and body written apart wait for the client's delayed ACK (~40 ms a request).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self._socket = sock
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            HubeeAsgi(self.world),
            host=self.host,
            port=self._port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ssl_certfile=str(self.certfile) if self.certfile else None,
            ssl_keyfile=str(self.keyfile) if self.keyfile else None,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-hubee", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _TIMEOUT_S
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            self.stop()
            raise RuntimeError("the fake HubEE server did not start")
        logger.info("fake HubEE on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop accepting, finish the requests in flight, join the thread (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(_TIMEOUT_S)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None
        self._socket = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def demo_world(*, samples: bool = True, jdd_dir: Path | None = None) -> FakeHubee:
    """A platform with one SI credential pair per sample démarche for Nice, one sender (OSL) pair,
    and, with `samples`, one télédossier per sample folder."""
    from aiguilleur.fakes.hubee.samples import SAMPLE_DEMARCHES

    world = FakeHubee()
    for demarche in SAMPLE_DEMARCHES.values():
        world.add_subscription(demarche.process_code, client_secret=f"secret-{demarche.process_code}")
    world.add_osl_client(client_id="osl-dila", client_secret="secret-osl-dila")  # noqa: S106 - a fake's demo pair
    if samples:
        root = jdd_dir or find_samples_dir()
        if root is None:
            raise FileNotFoundError("no HubEE sample folder: pass jdd_dir or set AIGUILLEUR_HUBEE_JDD")
        world.samples_dir = root
        world.load_samples(root)
    return world


def serve_forever(
    port: int,
    samples: bool = True,
    *,
    host: str = "127.0.0.1",
    jdd_dir: Path | None = None,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serve `demo_world` until interrupted (Ctrl-C) or until `stop` is set (``aiguilleur fake hubee``).

    Prints the API and token URLs and every credential pair on standard output.
    """
    world = demo_world(samples=samples, jdd_dir=jdd_dir)
    with HubeeServer(world, host=host, port=port, certfile=certfile, keyfile=keyfile) as server:
        print(f"api_url = {server.base_url}", flush=True)
        print(f"token_url = {server.token_url}", flush=True)
        for sub in world.subscriptions.values():
            codes = ",".join(sorted(sub.process_codes)) or "*"
            print(
                f"{sub.role} {codes}: client_id={sub.client_id} client_secret={sub.client_secret}", flush=True
            )
        try:
            (stop or threading.Event()).wait()
        except KeyboardInterrupt:
            logger.info("fake HubEE interrupted")
