"""HubEE poll bench (issue 4): our channel against the seed script's way, through the fake on loopback.

The fake HubEE runs in its own process (so that its work does not share our interpreter), over TLS
like the platform (a trustme certificate), loaded with N télédossiers of 3 attachments each: the
business XML (1 KB), a PDF (100 KB) and a scan of 5 MB. Then, each in a fresh process and against a
freshly loaded fake:

- the baseline: what DINUM's script does (seed 001, research §8.1): a token per batch, one request at a
  time on a new connection each (``http.client``), every file read whole then written to
  ``<dir>/<externalId>/<fileName>``, then two status events (minimal, maximal) and the DELETE;
- ours: ``run_connector`` on a ``hubee`` connector over SQLite: the files streamed into the blob store
  with their size and digest checked, the dossier stored, the minimal status, the DELETE, the return of
  status 14; télédossiers in parallel on kept-alive connections.

Both are measured twice: on bare loopback, where nothing but CPU counts, then with ``--latency-ms``
(10 by default) added to every answer of the platform, as over a commune's link to HubEE (the fake's
``slow`` switch). Then the memory figure: one télédossier with a 1 GB attachment (generated on disk by
chunks, never held in memory), polled by our channel in a fresh process whose peak resident memory is
reported.

Beside each pair, the floor of the run, measured the same way against a fresh fake: the time the fake
needs just to serve every attachment to the leanest client (kept-alive ``http.client`` connections, one
per worker, bodies read into a reused buffer and dropped), and the time to write the same bytes on the
same disk as the blob store does (SHA-256, fsync, rename, fsync of the directory), SHA-256 alone apart.
Each side's CPU time (ours or the baseline, and the fake's) is printed too: on a small machine the
client and the fake share the cores.

Targets: ours ≥ 4 × faster than the baseline; peak RSS < 150 MB with the 1 GB attachment. A bench
reports and does not judge: the exit status is 0 unless the workload itself failed.

    .venv/bin/python bench/hubee_poll.py [--count 500] [--huge-mb 1024] [--workers 8] [--latency-ms 10]
                                         [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from base64 import b64encode
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import ROOT, cpu_s, emit, memory_mb, peak_mb, run_phase, timed

SCRIPT = Path(__file__).resolve()
PROCESS_CODE = "EtatCivil"
CLIENT_ID = "bench-etatcivil"
CLIENT_SECRET = "bench-secret"  # a fake's credential
BIG_BYTES = 5 * 1024 * 1024
PDF_BYTES = 100 * 1024
TARGET_RATIO = 4.0
TARGET_RSS_MB = 150.0
CHUNK = 1024 * 1024


# -- the fake HubEE, in its own process ------------------------------------------------------------------


def serve(count: int, huge_bytes: int, workdir: Path, latency_ms: float) -> None:
    """Load the fake, print ``READY <port>``, serve until stdin closes."""
    import time

    from aiguilleur.fakes.hubee import FakeHubee, HubeeServer, SeedFile

    world = FakeHubee(seed=3, sleep=time.sleep)
    if latency_ms:
        world.faults.slow("/", latency_ms / 1000)  # every answer, token included
    world.add_subscription(PROCESS_CODE, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    rng = __import__("random").Random(5)
    big = rng.randbytes(BIG_BYTES)
    pdf = rng.randbytes(PDF_BYTES)
    for i in range(count):
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<EnveloppeMetierType><DemandeActe><Numero>{i}</Numero>'
            "<TypeActe><Code>NAISSANCE</Code></TypeActe><NombreExemplaires>1</NombreExemplaires>"
            + "<Motif>bench</Motif>" * 40
            + "</DemandeActe></EnveloppeMetierType>\n"
        ).encode()
        files = [
            SeedFile("ActeEtatCivil-XML.xml", "ActeEtatCivil-XML", "application/xml", xml),
            SeedFile("ActeEtatCivil-PDF.pdf", "ActeEtatCivil-PDF", "application/pdf", pdf),
            SeedFile("scan-justificatif.pdf", "PJ", "application/pdf", big),
        ]
        world.create_teledossier(PROCESS_CODE, files, short_code="AEC")
    if huge_bytes:
        path = workdir / "huge.bin"
        block = rng.randbytes(CHUNK)
        with path.open("wb") as out:  # by chunks: never the whole file in memory
            for n in range(huge_bytes // CHUNK):
                out.write(n.to_bytes(8, "big") + block[8:])
        xml = b'<?xml version="1.0"?><EnveloppeMetierType><DemandeActe/></EnveloppeMetierType>'
        files = [
            SeedFile("ActeEtatCivil-XML.xml", "ActeEtatCivil-XML", "application/xml", xml),
            SeedFile("tres-gros.bin", "PJ", "application/octet-stream", path),
        ]
        world.create_teledossier(PROCESS_CODE, files, short_code="AEC")
    with HubeeServer(
        world, certfile=workdir.parent / "cert.pem", keyfile=workdir.parent / "key.pem"
    ) as server:
        print(f"READY {server.port}", flush=True)
        sys.stdin.read()  # the parent closes our stdin to stop us


class Fake:
    """The fake HubEE process, loaded and listening."""

    def __init__(self, count: int, workdir: Path, huge_bytes: int = 0, latency_ms: float = 0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "serve", "--count", str(count), "--huge-bytes", str(huge_bytes),
             "--dir", str(workdir), "--latency-ms", str(latency_ms)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"the fake HubEE did not start: {line!r}")
        self.port = int(line.split()[1])

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


# -- the baseline: the seed script's way -----------------------------------------------------------------


class SeedLikeClient:
    """One request at a time, a new connection for each, bodies read whole (like ``requests``)."""

    def __init__(self, port: int, ca_file: Path) -> None:
        self.port = port
        self.tls = ssl.create_default_context(cafile=str(ca_file))
        self.token = ""
        self.requests = 0
        self.headers = {
            "editorName": "SI_XYZ",
            "applicationName": "script_HUBEE_DINUM",
            "softwareVersion": "2.0.0",
        }

    def call(self, method: str, path: str, body: bytes | None = None, ctype: str = "application/json") -> Any:
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=300, context=self.tls)
        try:
            headers = dict(self.headers)
            if path != "/oauth2/token":
                headers["Authorization"] = f"Bearer {self.token}"
            if body is not None:
                headers["Content-Type"] = ctype
            if path == "/oauth2/token":
                headers["Authorization"] = (
                    "Basic " + b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                )
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            self.requests += 1
            if response.status >= 300:
                raise RuntimeError(f"{method} {path} -> {response.status}: {data[:200]!r}")
            return data
        finally:
            connection.close()

    def json(self, method: str, path: str, body: Any = None) -> Any:
        data = self.call(method, path, json.dumps(body).encode() if body is not None else None)
        return json.loads(data) if data else None

    def run(self, out: Path) -> int:
        api = "/teledossiers/v1"
        done = 0
        while True:
            form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "SI"}).encode()
            self.token = json.loads(
                self.call("POST", "/oauth2/token", form, "application/x-www-form-urlencoded")
            )["access_token"]
            batch = self.json("GET", f"{api}/notifications?eventDetails=true&maxResult=25")
            if not batch:
                return done
            for note in batch:
                case = self.json("GET", f"{api}/cases/{note['caseId']}")
                folder = out / case["externalId"]
                folder.mkdir(parents=True, exist_ok=True)
                for att in case["attachments"]:
                    data = self.call("GET", f"{api}/cases/{case['id']}/attachments/{att['id']}")
                    (folder / att["fileName"]).write_bytes(data)
                for status in ("IN_PROGRESS", "DONE"):
                    self.json(
                        "POST",
                        f"{api}/cases/{case['id']}/events",
                        {"actionType": "STATUS_UPDATE", "author": "me", "notification": True,
                         "caseNewStatus": status, "message": f"passage du télédossier à {status}"},
                    )  # fmt: skip
                self.call("DELETE", f"{api}/notifications/{note['id']}")
                done += 1


def baseline_phase(port: int, workdir: Path) -> dict[str, Any]:
    client = SeedLikeClient(port, workdir.parent / "ca.pem")
    cpu = cpu_s()
    with timed() as elapsed:
        done = client.run(workdir / "download")
    return {
        "count": done,
        "requests": client.requests,
        "s": elapsed["s"],
        "cpu_s": (cpu_s() or 0) - (cpu or 0),
        "memory": memory_mb(),
    }


# -- the floor: serving alone, writing alone -------------------------------------------------------------


class LeanClient:
    """The least a client can do to fetch binaries: a kept-alive connection per thread, each body read
    into a reused buffer and dropped."""

    def __init__(self, port: int, ca_file: Path, token: str) -> None:
        self.port = port
        self.tls = ssl.create_default_context(cafile=str(ca_file))
        self.headers = {"Authorization": f"Bearer {token}", "editorName": "bench", "applicationName": "bench",
                        "softwareVersion": "1"}  # fmt: skip
        self.local = threading.local()

    def fetch(self, path: str) -> int:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=300, context=self.tls)
            self.local.connection = connection
        connection.request("GET", path, headers=self.headers)
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"GET {path} -> {response.status}")
        buffer = memoryview(bytearray(CHUNK))
        size = 0
        while n := response.readinto(buffer):
            size += n
        return size


def disk_floor(sizes: list[int], where: Path, workers: int) -> tuple[float, float]:
    """Seconds to write files of `sizes` as the blob store does (SHA-256, fsync, rename, fsync of the
    directory) with `workers` threads, and seconds of SHA-256 alone over the same bytes (one thread)."""
    where.mkdir()
    data = memoryview(__import__("random").Random(7).randbytes(max(sizes)))

    def write(i: int, size: int) -> None:
        digest = hashlib.sha256()
        tmp = where / f"{i}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            for start in range(0, size, CHUNK):
                piece = data[start : min(size, start + CHUNK)]
                digest.update(piece)
                os.write(fd, piece)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, where / f"{i}-{digest.hexdigest()[:8]}")
        directory = os.open(where, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    with timed() as written, ThreadPoolExecutor(workers) as pool:
        list(pool.map(write, range(len(sizes)), sizes))
    with timed() as hashed:
        for size in sizes:
            hashlib.sha256(data[:size]).digest()
    return written["s"], hashed["s"]


def floor_phase(port: int, workdir: Path, workers: int) -> dict[str, Any]:
    """The fake serving every attachment to `LeanClient` (`workers` threads), then `disk_floor`."""
    seed = SeedLikeClient(port, workdir.parent / "ca.pem")
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "SI"}).encode()
    token = json.loads(seed.call("POST", "/oauth2/token", form, "application/x-www-form-urlencoded"))
    seed.token = token["access_token"]
    api = "/teledossiers/v1"
    paths, sizes = [], []
    for note in seed.json("GET", f"{api}/notifications?maxResult=100000"):
        case = seed.json("GET", f"{api}/cases/{note['caseId']}")
        for att in case["attachments"]:
            paths.append(f"{api}/cases/{case['id']}/attachments/{att['id']}")
            sizes.append(att["size"])
    lean = LeanClient(port, workdir.parent / "ca.pem", seed.token)
    cpu = cpu_s()
    with timed() as served, ThreadPoolExecutor(workers) as pool:
        got = sum(pool.map(lean.fetch, paths))
    served_cpu = (cpu_s() or 0) - (cpu or 0)
    if got != sum(sizes):
        raise RuntimeError(f"the fake served {got} bytes, {sum(sizes)} announced")
    written_s, hashed_s = disk_floor(sizes, workdir / "floor", workers)
    return {"bytes": got, "serve_s": served["s"], "serve_cpu_s": served_cpu, "write_s": written_s,
            "sha256_s": hashed_s}  # fmt: skip


# -- ours ------------------------------------------------------------------------------------------------


def ours_phase(port: int, workdir: Path, workers: int, *, watch: bool = False) -> dict[str, Any]:
    from aiguilleur.config import Config, ConnectorEntry, HubSettings, OrganisationConfig
    from aiguilleur.connectors.hubee import HubeeChannel, HubeeConfig
    from aiguilleur.connectors.registry import Registry
    from aiguilleur.engine.hub import Hub
    from aiguilleur.engine.runner import run_connector

    settings = HubeeConfig(
        api_url=f"https://127.0.0.1:{port}",
        token_url=f"https://127.0.0.1:{port}/oauth2/token",
        ca_file=str(workdir.parent / "ca.pem"),
        process_code=PROCESS_CODE,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,  # type: ignore[arg-type]
        editor_name="COMMUNE DE NICE",
        workers=workers,
        timeout_s=300,
    )
    nice = OrganisationConfig(id="nice", name="Ville de Nice", siret="21060088800015", insee="06088")
    registry = Registry()
    registry.register(HubeeChannel)
    config = Config(
        hub=HubSettings(data_dir=workdir / "var"),
        organisations=[nice],
        connectors={"hubee": ConnectorEntry("hubee", "hubee", settings)},
    )
    hub = Hub.open(config, registry=registry)
    peak = {"rss": 0.0}
    stop = threading.Event()

    def sample() -> None:  # VmHWM covers it, this shows the peak while the poll runs
        while not stop.wait(0.05):
            peak["rss"] = max(peak["rss"], memory_mb().get("VmRSS", 0.0))

    sampler = threading.Thread(target=sample, daemon=True)
    if watch:
        sampler.start()
    before = memory_mb()
    cpu = cpu_s()
    try:
        with timed() as elapsed:
            outcome = run_connector(hub, "hubee", trigger="bench")
    finally:
        stop.set()
        hub.close()
    if not outcome.is_ok:
        raise RuntimeError(f"run failed: {outcome.error}")
    return {
        "count": outcome.counts.get("imported", 0),
        "counts": outcome.counts,
        "s": elapsed["s"],
        "cpu_s": (cpu_s() or 0) - (cpu or 0),
        "memory_before": before,
        "memory": memory_mb(),
        "sampled_peak_mb": peak["rss"],
    }


# -- the bench -------------------------------------------------------------------------------------------


def certificates(workdir: Path) -> None:
    """A CA and a certificate for 127.0.0.1: ``ca.pem``, ``cert.pem``, ``key.pem`` in `workdir`."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(workdir / "ca.pem"))
    cert.private_key_pem.write_to_path(str(workdir / "key.pem"))
    for i, pem in enumerate(cert.cert_chain_pems):
        pem.write_to_path(str(workdir / "cert.pem"), append=i > 0)


def cpu(result: dict[str, Any]) -> str:
    fake = result.get("fake_cpu_s")
    return f"CPU {result['cpu_s']:.1f} s, faux HubEE {fake or 0:.1f} s"


def measure(
    phase: str, count: int, workdir: Path, workers: int, huge_bytes: int = 0, latency_ms: float = 0
) -> dict[str, Any]:
    phase_dir = workdir / f"{phase}-{latency_ms:g}"
    phase_dir.mkdir(parents=True)
    fake = Fake(count, phase_dir, huge_bytes, latency_ms)
    try:
        cpu = cpu_s(fake.proc.pid)
        result = run_phase(
            SCRIPT, phase, "--port", str(fake.port), "--dir", str(phase_dir), "--workers", str(workers)
        )
        after = cpu_s(fake.proc.pid)  # the phase's setup (token, listing) included: a few requests
        result["fake_cpu_s"] = after - cpu if after is not None and cpu is not None else None
        return result
    finally:
        fake.stop()
        shutil.rmtree(phase_dir, ignore_errors=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "phase", nargs="?", default="bench", choices=["bench", "serve", "baseline", "ours", "huge", "floor"]
    )
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--huge-mb", type=int, default=1024)
    parser.add_argument("--huge-bytes", type=int, default=0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=10.0, help="added to every answer, 2nd measure")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--tmp", type=Path, default=None, help="where the files go (default: the system's)")
    parser.add_argument("--quick", action="store_true", help="100 télédossiers and a 256 MB attachment")
    args = parser.parse_args(argv)

    if args.phase == "serve":
        serve(args.count, args.huge_bytes, args.dir, args.latency_ms)
        return 0
    if args.phase == "baseline":
        emit(baseline_phase(args.port, args.dir))
        return 0
    if args.phase == "floor":
        emit(floor_phase(args.port, args.dir, args.workers))
        return 0
    if args.phase in ("ours", "huge"):
        emit(ours_phase(args.port, args.dir, args.workers, watch=args.phase == "huge"))
        return 0

    count = 100 if args.quick else args.count
    huge_mb = 256 if args.quick else args.huge_mb
    workdir = Path(tempfile.mkdtemp(prefix="hubee-bench-", dir=args.tmp))
    try:
        certificates(workdir)
        what = "3 pièces (XML 1 KB, PDF 100 KB, scan 5 MB)"
        print(f"{count} télédossiers × {what}, faux HubEE en TLS sur 127.0.0.1")
        failed = False
        for latency in (0.0, args.latency_ms) if args.latency_ms else (0.0,):
            where = "boucle locale nue" if not latency else f"{latency:g} ms de latence par réponse"
            print(f"- {where}")
            base = measure("baseline", count, workdir, args.workers, latency_ms=latency)
            print(f"    référence (comme le script DINUM) : {base['s']:6.1f} s, {base['requests']} requêtes, "
                  f"{count / base['s']:.0f} télédossiers/s ; {cpu(base)}")  # fmt: skip
            ours = measure("ours", count, workdir, args.workers, latency_ms=latency)
            rss = peak_mb(ours["memory"])
            print(f"    aiguilleur ({args.workers} en parallèle)   : {ours['s']:6.1f} s, "
                  f"{count / ours['s']:.0f} télédossiers/s, pic mémoire {rss:.0f} Mo ; "
                  f"{cpu(ours)}")  # fmt: skip
            ratio = base["s"] / ours["s"]
            verdict = "atteint" if ratio >= TARGET_RATIO else "NON atteint"
            print(f"    rapport : {ratio:.2f} × plus rapide (objectif ≥ {TARGET_RATIO:.0f} ×, {verdict})")
            floor = measure("floor", count, workdir, args.workers, latency_ms=latency)
            mb = floor["bytes"] / 1e6
            print(f"    plancher : le faux HubEE sert seul les {mb:.0f} Mo de pièces en "
                  f"{floor['serve_s']:.1f} s (client minimal, {args.workers} connexions gardées ; CPU client "
                  f"{floor['serve_cpu_s']:.1f} s, faux {floor['fake_cpu_s'] or 0:.1f} s) ; les écrire comme "
                  f"le magasin (SHA-256, fsync, renommage) : {floor['write_s']:.1f} s, dont SHA-256 seul "
                  f"{floor['sha256_s']:.1f} s ; {os.cpu_count()} cœurs pour les deux processus")  # fmt: skip
            bound = max(floor["serve_s"], floor["write_s"])
            print(f"    aiguilleur à {ours['s'] / bound:.1f} × du plus lent des deux planchers "
                  f"({bound:.1f} s), référence à {base['s'] / bound:.1f} ×")  # fmt: skip
            failed = failed or base["count"] != count or ours["count"] != count

        huge = measure("huge", 0, workdir, args.workers, huge_bytes=huge_mb * 1024 * 1024)
        rss = peak_mb(huge["memory"])
        verdict = "atteint" if rss < TARGET_RSS_MB else "NON atteint"
        print(f"- une pièce de {huge_mb} Mo : {huge['s']:.1f} s, pic mémoire {rss:.0f} Mo (dont "
              f"{peak_mb(huge['memory_before']):.0f} Mo avant la synchronisation ; objectif < "
              f"{TARGET_RSS_MB:.0f} Mo, {verdict})")  # fmt: skip
        return 1 if failed or huge["count"] != 1 else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
