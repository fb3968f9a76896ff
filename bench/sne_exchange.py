"""SNE exchange bench (issue 6): 500 getDemandeLogement calls against the fake SNE, ours vs libsne's way.

The fake SNE runs in its own process (``aiguilleur fake sne``, strict mode) over mutual TLS with trustme
certificates, so that its work does not share our interpreter. Then, in this process:

- the baseline, what libsne does (seed 000, research §2.1 and §5.5): for every call a new SSL context
  loading the client certificate and key, a new TLS connection (``http.client``), one POST, the answer
  read whole, the connection closed; it sends the very bytes our client builds, so only the way of
  connecting differs;
- ours: one `SneClient` per round making the same calls on a kept-alive connection, answers fully
  parsed (MIME, SOAP, the returned demande, its anomalies and duplicates).

The calls run in five interleaved rounds (baseline, ours, baseline…) so that a change in the
machine's load hits both sides alike. Target: ours ≥ 3 × faster. A bench reports and does not judge:
the exit status is 0 unless the workload itself failed.

    .venv/bin/python bench/sne_exchange.py [--count 500] [--tls 1.2|1.3]
"""

from __future__ import annotations

import argparse
import http.client
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import trustme

from aiguilleur.connectors.sne import soap
from aiguilleur.connectors.sne.client import SneClient
from aiguilleur.connectors.sne.config import SneConfig

# The fake in its own process, as ``aiguilleur fake sne`` runs it, with TCP_NODELAY on its sockets as
# Tomcat (CXF's usual container) sets by default: the fake writes the headers and the body of an answer
# separately, and with Nagle's algorithm the body waits for the client's delayed ACK (40 ms on Linux),
# a stall that would hide what the bench measures, on both sides alike.
_SERVE = """
import socket, sys
from aiguilleur.fakes.sne import server
setup = server._Handler.setup
def nodelay_setup(self):
    self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    setup(self)
server._Handler.setup = nodelay_setup
server.serve_forever(0, sys.argv[1], sys.argv[1], sys.argv[2])
"""


def start_fake(folder: Path) -> tuple[subprocess.Popen[str], str, str]:
    """The fake in a child process; returns it, its URL and one registered numéro unique."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client.example", common_name="G0000")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    server.private_key_and_cert_chain_pem.write_to_path(str(folder / "server.pem"))
    for i, pem in enumerate(client.cert_chain_pems):
        pem.write_to_path(str(folder / "client.crt"), append=i > 0)
    client.private_key_pem.write_to_path(str(folder / "client.key"))
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(folder / "server.pem"), str(folder / "ca.pem")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = number = ""
    while not number:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the fake SNE did not start")
        if line.startswith("url = "):
            url = line.split(" = ", 1)[1].strip()
        elif len(line.split(" ", 1)[0]) == 18:
            number = line.split(" ", 1)[0]
    return process, url, number


def baseline(url: str, folder: Path, number: str, count: int, pem: bytes, version: ssl.TLSVersion) -> float:
    """libsne's way: a new context and a new TLS connection per call."""
    parts = urlsplit(url)
    started = time.perf_counter()
    for _ in range(count):
        context = ssl.create_default_context(cafile=str(folder / "ca.pem"))
        context.minimum_version = context.maximum_version = version
        context.load_cert_chain(str(folder / "client.crt"), str(folder / "client.key"))
        request = soap.build_request(
            soap.DEMANDE_LOGEMENT,
            [
                ("numUnique", number),
                ("nomCertificat", "CERG0000.pem"),
                ("certificat", soap.Binary(pem, "application/octet-stream", soap.CERTIFICATE_TYPE)),
            ],
        )
        connection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, context=context, timeout=30
        )
        connection.request("POST", parts.path, body=request.body, headers=request.headers)
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
        if answer.status != 200 or b"interfaceNuu" not in body:  # libsne looked for a substring too
            raise RuntimeError(f"baseline: HTTP {answer.status}")
    return time.perf_counter() - started


def ours(url: str, folder: Path, number: str, count: int, version: ssl.TLSVersion) -> float:
    config = SneConfig(
        url=url,
        num_guichet="G0000",
        cert_file=str(folder / "client.crt"),
        key_file=str(folder / "client.key"),
        ca_file=str(folder / "ca.pem"),
    )
    started = time.perf_counter()
    with SneClient(config) as client:
        client.material.context.minimum_version = client.material.context.maximum_version = version
        for _ in range(count):
            result = client.get_demande_logement(number)
            if result.num_unique != number:
                raise RuntimeError("ours: wrong answer")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--tls", choices=["1.2", "1.3"], default="1.3")
    args = parser.parse_args()
    version = ssl.TLSVersion.TLSv1_3 if args.tls == "1.3" else ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="sne-bench-") as name:
        folder = Path(name)
        process, url, number = start_fake(folder)
        try:
            pem = (folder / "client.crt").read_bytes().split(b"-----END CERTIFICATE-----")[0]
            pem += b"-----END CERTIFICATE-----\n"
            ours(url, folder, number, 5, version)  # warm-up: imports, first handshake
            # interleaved rounds, so that a change in the machine's load hits both sides alike
            rounds = [args.count // 5] * 5
            rounds[-1] += args.count - sum(rounds)
            base_s = ours_s = 0.0
            for n in rounds:
                base_s += baseline(url, folder, number, n, pem, version)
                ours_s += ours(url, folder, number, n, version)
        finally:
            process.terminate()
            process.wait(timeout=10)
    print(f"getDemandeLogement x {args.count} over TLS {args.tls} against the fake SNE")
    print(
        f"  baseline (libsne: new context + connection per call): {base_s:7.2f} s"
        f"  {args.count / base_s:7.1f} calls/s"
    )
    print(
        f"  ours (SneClient, kept-alive connection, full parse):  {ours_s:7.2f} s"
        f"  {args.count / ours_s:7.1f} calls/s"
    )
    ratio = base_s / ours_s
    print(f"  ratio: {ratio:.1f} x (target >= 3 x) {'OK' if ratio >= 3 else 'BELOW TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
