"""The fake SNE over HTTPS with client certificates, on ``127.0.0.1`` (port 0 by default), in a thread.

    with SneServer(world, certfile=..., keyfile=..., ca_file=...) as server:
        server.url        # https://127.0.0.1:PORT/services/DemandeLogementImplService/
        server.wsdl_url   # …/services/DemandeLogementImplService?wsdl

TLS: the client must present a certificate chaining to `ca_file` (``ssl.CERT_REQUIRED``; an expired one
or one from another CA fails the handshake), TLS 1.2 at least; `minimum_version` / `maximum_version` pin
a version for tests. The handshake runs in the connection's own thread, not in ``accept()``, so a slow or
bad client holds up no one else (research §5.3); failed handshakes are listed in `tls_failures`.
HTTP/1.1 with keep-alive, bodies by Content-Length or chunked.
"""

from __future__ import annotations

import logging
import socket
import ssl
import struct
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aiguilleur.fakes.sne import wire
from aiguilleur.fakes.sne.refusal import Mode
from aiguilleur.fakes.sne.samples import demande_xml
from aiguilleur.fakes.sne.world import FakeSne

logger = logging.getLogger(__name__)

_TIMEOUT_S = 30.0
_MAX_BODY = 32 * 1024 * 1024


class _TlsHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, owner: SneServer) -> None:
        self.context = context
        self.owner = owner
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("fake SNE: connection from %s ended with an error", client_address, exc_info=True)


def _client_cn(peer: dict[str, Any] | None) -> str | None:
    for rdn in (peer or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Apache-CXF"
    sys_version = ""
    server: _TlsHttpServer
    request: ssl.SSLSocket

    def setup(self) -> None:
        self.handshake_failed = False
        self.request.settimeout(_TIMEOUT_S)
        # headers and body go in two writes: without this the body waits for the client's delayed ACK
        # (40 ms per answer on a kept-alive connection); Tomcat, behind the real CXF, sets it too
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            self.handshake_failed = True
            self.server.owner.tls_failures.append(getattr(exc, "reason", None) or type(exc).__name__)
        super().setup()

    def handle(self) -> None:
        if not self.handshake_failed:
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake SNE: " + format, *args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = bytearray()
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024).strip():  # trailers
                        pass
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline(8)
                if len(body) > _MAX_BODY:
                    raise ValueError("request body too large")
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length)

    def _serve(self) -> None:
        owner = self.server.owner
        path, _, query = self.path.partition("?")
        try:
            body = self._body()
        except ValueError:
            self.send_error(413)
            return
        try:
            with owner.lock:
                reply = owner.world.handle(
                    body,
                    list(self.headers.items()),
                    method=self.command,
                    path=path,
                    query=query,
                    client_cn=_client_cn(self.request.getpeercert()),
                    base_url=owner.base_url,
                )
        except ConnectionResetError:
            # an abortive close: SO_LINGER 0 makes close() send a TCP RST instead of a FIN
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.request.close()
            return
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


class SneServer:
    """Serve `world` over HTTPS with mandatory client certificates until `stop`."""

    def __init__(
        self,
        world: FakeSne,
        *,
        certfile: Path | str,
        keyfile: Path | str,
        ca_file: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
        maximum_version: ssl.TLSVersion | None = None,
    ) -> None:
        if minimum_version < ssl.TLSVersion.TLSv1_2:
            raise ValueError("the SNE requires TLS 1.2 or later")
        self.world = world
        self.host = host
        self.lock = threading.RLock()
        self.tls_failures: list[str] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = minimum_version
        if maximum_version is not None:
            context.maximum_version = maximum_version
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(ca_file))
        context.load_cert_chain(str(certfile), str(keyfile))
        self.context = context
        self._requested_port = port
        self._httpd: _TlsHttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The service endpoint to configure in a client."""
        return self.base_url + wire.SERVICE_PATH

    @property
    def wsdl_url(self) -> str:
        return self.base_url + wire.SERVICE_PATH.rstrip("/") + "?wsdl"

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("already started")
        self._httpd = _TlsHttpServer((self.host, self._requested_port), self.context, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-sne", daemon=True
        )
        self._thread.start()
        logger.info("fake SNE on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop accepting and join the thread (idempotent); open keep-alive connections are dropped."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(_TIMEOUT_S)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def demo_world(*, mode: Mode = Mode.STRICT) -> FakeSne:
    """A register with guichet G0000 (Nord, open to any client certificate) and four demandes registered
    about 40 days ago: one recognised DALO a week ago, two radiated since (attribution on a local
    authority's quota three days ago, abandonment yesterday)."""
    world = FakeSne(mode=mode, seed=None)
    world.add_guichet("G0000", departement="059")
    now = world.now()
    people = [
        ("MARTIN", "Claire", "1990-05-01"),
        ("DUBOIS", "Karim", "1984-11-30"),
        ("PETIT", "Léa", "1999-02-14"),
        ("LEROY", "Paul", "1975-07-08"),
    ]
    registered = [
        world.seed(
            demande_xml(
                nom=nom,
                prenom=prenom,
                date_naissance=born,
                date_creation=f"{now - timedelta(days=40):%Y-%m-%d}",
            ),
            at=now - timedelta(days=40 - i),
        )
        for i, (nom, prenom, born) in enumerate(people)
    ]
    world.declare_dalo(
        registered[1].num_unique,
        "ACTIF",
        date_decision=f"{now - timedelta(days=8):%Y-%m-%d}",
        at=now - timedelta(days=7),
    )
    world.radiate(registered[2].num_unique, "RADATT", type_reservataire="COLTER", at=now - timedelta(days=3))
    world.radiate(registered[3].num_unique, "RADABA", at=now - timedelta(days=1))
    return world


def serve_forever(
    port: int,
    certfile: Path | str,
    keyfile: Path | str,
    ca_file: Path | str,
    *,
    host: str = "127.0.0.1",
    mode: Mode = Mode.STRICT,
    stop: threading.Event | None = None,
) -> None:
    """Serve `demo_world` until interrupted (Ctrl-C) or `stop` is set (``aiguilleur fake sne``); prints
    the endpoint, the WSDL URL and the registered numéros uniques."""
    world = demo_world(mode=mode)
    with SneServer(
        world, certfile=certfile, keyfile=keyfile, ca_file=ca_file, host=host, port=port
    ) as server:
        print(f"url = {server.url}", flush=True)
        print(f"wsdl = {server.wsdl_url}", flush=True)
        print(f"mode = {mode.value}", flush=True)
        for demande in world.register.demandes.values():
            state = "radiée" if demande.radiation else f"DALO {demande.statut_dalo}"
            print(f"{demande.num_unique} {demande.nom} {demande.prenom} ({state})", flush=True)
        try:
            (stop or threading.Event()).wait()
        except KeyboardInterrupt:
            logger.info("fake SNE interrupted")
