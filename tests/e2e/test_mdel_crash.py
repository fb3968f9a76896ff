"""Crash safety of the MDEL channel: ``aiguilleur sync`` processes killed with SIGKILL, again and again.

The input directory holds good demands (some with a ``-2`` version), bad ones, and later a second
delivery of a zip already imported. ``python -m aiguilleur.cli sync`` is started and killed at a random
moment many times, with status changes made through ``aiguilleur status set`` in between so that
returns are pending when the kills land; then sync runs to completion. Whatever the kills
interrupted, every input file must end in done or error exactly once, every dossier exist once with
the right versions, and every transmitted status change have exactly one return zip, numbered
without gap or repeat.

Kill delays are drawn (seeded) uniformly within the duration of an uninterrupted run measured first
on a copy of the same input: kills land before, during and after the work. That is a choice of
timing, never an assertion on it. A killed worker's claim on a return lasts `LEASE_S`; instead of
waiting that long, the test expires the claims before each restart, as if the restart came later.

Random kills reach the narrow windows (between a link and an unlink, between a move and its log)
only by luck, so the same invariants are also checked after a kill at each such point in turn.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from aiguilleur.store import tables as t
from aiguilleur.store.database import is_up_to_date
from aiguilleur.store.repository import Store
from aiguilleur.transport.xml import find_text, parse_xml
from tests.connectors.mdel.builders import AEC, FLOWS, demand_zip, zip_name

pytestmark = pytest.mark.integration

AIGUILLEUR = [sys.executable, "-m", "aiguilleur.cli"]
NAME = "msp"
SEED = int(os.environ.get("MDEL_CRASH_SEED", "20261124"))  # another seed: another series of kills
GOOD_DEMANDS = 22  # in the input at the start, with VERSIONED -2 zips and 3 bad ones: 30 files
VERSIONED = 5
ROUNDS = 15  # sync started, then killed at a random moment unless it finished first
ARRIVALS_PER_ROUND = 2  # the portal keeps delivering while the hub crashes
STATUS_CHANGES_PER_ROUND = 2
PDF_BYTES = 64 * 1024
MAX_FINAL_RUNS = 5
RETURN_NAME = re.compile(r"(?P<numero>.+)-(?P<flow>[A-Z]{3}-LA)-(?P<increment>[0-9]+)\.zip")
DONE_NAME = re.compile(r"(?P<stem>.+?)(?:\.[0-9]+)?\.zip")  # atomic_move's "name.1.zip" for a name taken

CONFIG = """\
[hub]
data_dir = "data"
log_level = "WARNING"

[[organisations]]
id = "nice"
name = "Ville de Nice"
insee = "06088"

[[organisations]]
id = "cannes"
name = "Ville de Cannes"
insee = "06029"

[connectors.mdel.msp]
min_age = "0s"
input_dir = "mdel/in"
work_dir = "mdel/work"
output_dir = "mdel/out"
error_dir = "mdel/error"
done_dir = "mdel/done"
log_dir = "mdel/logs"
"""


@dataclass
class Plan:
    """What the input receives and what must come out of it."""

    initial: dict[str, bytes] = field(default_factory=dict)  # input name -> bytes, there at the start
    arrivals: list[dict[str, bytes]] = field(default_factory=list)  # dropped before each round
    good: dict[str, int] = field(default_factory=dict)  # numero -> expected number of versions
    bad: set[str] = field(default_factory=set)  # input names that must end in error
    redelivered: str | None = None  # a good zip delivered a second time, once the first copy is done

    @property
    def files(self) -> dict[str, bytes]:
        return {k: v for d in (self.initial, *self.arrivals) for k, v in d.items()}


def make_plan() -> Plan:
    plan = Plan()
    rng = random.Random(SEED)

    def good(i: int, versions: int = 1) -> dict[str, bytes]:
        flow, numero = FLOWS[i % len(FLOWS)], f"C-{i % 10}-K{i:06d}"
        plan.good[numero] = versions
        return {
            zip_name(flow, numero, n): demand_zip(
                flow, numero=numero, message_id_suffix=f" v{n}", pdf_bytes=PDF_BYTES, rng=rng
            )
            for n in range(1, versions + 1)
        }

    for i in range(GOOD_DEMANDS):
        plan.initial.update(good(i, 2 if i % (GOOD_DEMANDS // VERSIONED) == 1 and i < 20 else 1))
    not_for_us = (AEC.folder / "message.xml").read_bytes().replace(b"06088", b"75056")
    bad = {
        zip_name(AEC, "C-9-BAD0001"): b"PK\x03\x04 truncated",
        zip_name(AEC, "C-9-BAD0002"): demand_zip(AEC, numero="C-9-BAD0002", omit=("message.xml",)),
        zip_name(AEC, "C-9-BAD0003"): demand_zip(AEC, numero="C-9-BAD0003", message=not_for_us),
    }
    plan.initial.update(bad)
    plan.bad = set(bad)
    plan.redelivered = next(iter(plan.initial))
    plan.arrivals = [
        {k: v for i in range(ARRIVALS_PER_ROUND) for k, v in good(100 + r * ARRIVALS_PER_ROUND + i).items()}
        for r in range(ROUNDS)
    ]
    return plan


@dataclass
class Install:
    """One configuration and its directories, driven only through the command line."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "aiguilleur.toml"

    def dir(self, which: str) -> Path:
        return self.root / "mdel" / which

    def names(self, which: str) -> list[str]:
        """Every entry of a directory, hidden ones included."""
        path = self.dir(which)
        return sorted(p.name for p in path.iterdir()) if path.exists() else []

    def start_sync(self, log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                [*AIGUILLEUR, "--config", str(self.config), "sync", NAME],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*AIGUILLEUR, "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            cwd=self.root,
            timeout=60,
        )

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.root / 'data' / 'aiguilleur.db'}"


def new_hub(root: Path, plan: Plan) -> Install:
    hub = Install(root)
    root.mkdir(parents=True, exist_ok=True)
    hub.config.write_text(CONFIG)
    hub.dir("in").mkdir(parents=True)
    for name, data in plan.initial.items():
        (hub.dir("in") / name).write_bytes(data)
    return hub


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Store]:
    """The test's own view of the database the processes share (created by the first sync)."""
    s = Store(Install(tmp_path / "hub").database_url)
    yield s
    s.close()


def expire_claims(db: Store) -> None:
    """What time does to the claim of a worker killed while sending: its lease runs out."""
    with db.write() as s:
        s.execute(
            update(t.OutboxItem)
            .where(t.OutboxItem.state == "sending")
            .values(claimed_until=db.now() - timedelta(seconds=1))
        )


def redeliver(hub: Install, plan: Plan) -> None:
    assert plan.redelivered is not None
    (hub.dir("in") / plan.redelivered).write_bytes(plan.files[plan.redelivered])


def has_schema(db: Store) -> bool:
    return is_up_to_date(db.engine)


def pending_returns(db: Store) -> int:
    with db.read() as s:
        states = s.scalars(select(t.OutboxItem.state)).all()
    return sum(state in ("pending", "sending") for state in states)


def change_some_statuses(hub: Install, db: Store, rng: random.Random) -> int:
    """Move a few dossiers on through ``aiguilleur status set``; returns how many changes were made."""
    with db.read() as s:
        rows = s.execute(select(t.Dossier.id, t.Dossier.status).order_by(t.Dossier.external_id)).all()
    candidates = [dossier_id for dossier_id, status in rows if status != 100]
    made = 0
    for dossier_id in rng.sample(candidates, min(STATUS_CHANGES_PER_ROUND, len(candidates))):
        allowed = db.dossiers.get(dossier_id, None).allowed
        if not allowed:  # e.g. 19 waiting for its transmission, then closed automatically
            continue
        code = rng.choice(sorted(allowed))
        done = hub.cli("status", "set", dossier_id, str(code), "-m", f"Statut {code} posé par le test")
        assert done.returncode == 0, done.stderr
        made += 1
    return made


def test_sync_killed_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path, db: Store) -> None:
    plan = make_plan()
    rng = random.Random(SEED)
    logs = tmp_path / "process-logs"
    logs.mkdir()

    # An uninterrupted run over a copy of the same input: how long the work lasts.
    calibration = new_hub(tmp_path / "calibration", plan)
    started = time.monotonic()
    first = calibration.start_sync(logs / "calibration.log")
    assert first.wait(timeout=60) == 0, (logs / "calibration.log").read_text()
    full_run_s = time.monotonic() - started
    assert len(calibration.names("done")) == len(plan.initial) - len(plan.bad)

    hub = new_hub(tmp_path / "hub", plan)
    killed = finished = changes = 0
    redelivered = False
    for round_no, arrivals in enumerate(plan.arrivals):
        for name, data in arrivals.items():
            (hub.dir("in") / name).write_bytes(data)
        if has_schema(db):
            expire_claims(db)
        proc = hub.start_sync(logs / f"round-{round_no}.log")
        try:
            proc.wait(timeout=rng.uniform(0, full_run_s))
            finished += 1
        except subprocess.TimeoutExpired:
            proc.kill()  # SIGKILL: no handler, no cleanup
            proc.wait()
            killed += 1
        if not has_schema(db):
            continue  # every run so far was killed before its migration was done
        if not redelivered and plan.redelivered in hub.names("done"):
            redeliver(hub, plan)
            redelivered = True
        changes += change_some_statuses(hub, db, rng)

    expire_claims(db)
    for _ in range(MAX_FINAL_RUNS):
        run = hub.cli("sync", NAME)
        assert run.returncode == 0, run.stdout + run.stderr
        if not hub.names("in") and not pending_returns(db):
            break
    else:
        pytest.fail(f"returns still being sent after {MAX_FINAL_RUNS} runs without kill")
    if not redelivered:  # every kill came before the first file was done: deliver it now
        redeliver(hub, plan)
        assert hub.cli("sync", NAME).returncode == 0
    print(
        f"\nseed {SEED}: uninterrupted run {full_run_s:.2f} s; {killed} runs killed, "
        f"{finished} finished before their kill; {changes} status changes"
    )

    assert_every_file_ends_once(hub, plan)
    assert_dossiers_once_with_their_versions(db, plan)
    assert_returns_consecutive_and_once(hub, db)


def assert_every_file_ends_once(hub: Install, plan: Plan) -> None:
    """In done or in error, exactly once each; nothing in the input or work directories."""
    assert hub.names("in") == []
    assert hub.names("work") == []
    redelivered = [] if plan.redelivered is None else [plan.redelivered]
    expected = Counter([*plan.files, *redelivered])
    done = Counter(_original_name(n) for n in hub.names("done"))
    errors = [n for n in hub.names("error") if not n.endswith(".log")]
    assert done + Counter(_original_name(n) for n in errors) == expected
    assert {_original_name(n) for n in errors} == plan.bad
    missing_logs = [n for n in errors if f"{n}.log" not in hub.names("error")]
    assert missing_logs == [], "rejected without a log"
    stray_logs = [
        n for n in hub.names("error") if n.endswith(".log") and n.removesuffix(".log") not in errors
    ]
    assert stray_logs == []


def _original_name(name: str) -> str:
    match = DONE_NAME.fullmatch(name)
    assert match is not None, f"unexpected file {name!r}"
    return f"{match['stem']}.zip"


def assert_dossiers_once_with_their_versions(db: Store, plan: Plan) -> None:
    with db.read() as s:
        dossiers = s.execute(select(t.Dossier.id, t.Dossier.external_id, t.Dossier.version)).all()
        versions = s.execute(
            select(t.DossierVersion.dossier_id, t.DossierVersion.number, t.DossierVersion.origin).order_by(
                t.DossierVersion.dossier_id, t.DossierVersion.number
            )
        ).all()
    assert sorted(numero for _, numero, _ in dossiers) == sorted(plan.good)
    by_dossier: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for dossier_id, number, origin in versions:
        by_dossier[dossier_id].append((number, origin))
    for dossier_id, numero, version in dossiers:
        wanted = plan.good[numero]
        assert version == wanted, numero
        flow = next(f for f in FLOWS if zip_name(f, numero) in plan.files)
        assert by_dossier[dossier_id] == [(n, zip_name(flow, numero, n)) for n in range(1, wanted + 1)]


def assert_returns_consecutive_and_once(hub: Install, db: Store) -> None:
    """Each transmitted change has one outbox item sent and one return zip; increments 1..k per dossier."""
    with db.read() as s:
        numeros = dict(s.execute(select(t.Dossier.id, t.Dossier.external_id)).all())
        items = s.execute(
            select(
                t.OutboxItem.dossier_id,
                t.OutboxItem.state,
                t.OutboxItem.status_change_id,
                t.OutboxItem.payload,
            ).order_by(t.OutboxItem.id)
        ).all()
        changes = s.execute(
            select(t.StatusChange.id, t.StatusChange.transmitted_at, t.StatusChange.undone_at)
        ).all()
    assert Counter(state for _, state, _, _ in items) == Counter(sent=len(items)), "returns not all sent"
    sent_change_ids = [change_id for _, _, change_id, _ in items]
    transmitted = sorted(c.id for c in changes if c.transmitted_at is not None)
    assert sorted(sent_change_ids) == transmitted
    assert all(c.transmitted_at is not None for c in changes if c.undone_at is None), "a change never sent"

    sent_codes: dict[str, list[int]] = defaultdict(list)
    for dossier_id, _, _, payload in items:
        sent_codes[numeros[dossier_id]].append(payload["code"])
    found: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
    for name in hub.names("out"):
        match = RETURN_NAME.fullmatch(name)
        assert match is not None, f"unexpected file in the output directory: {name!r}"
        found[match["numero"]].append((int(match["increment"]), _etat(hub.dir("out") / name)))
    assert set(found) == set(sent_codes)
    for numero, codes in sent_codes.items():
        returns = sorted(found[numero])
        assert [n for n, _ in returns] == list(range(1, len(codes) + 1)), numero
        assert [etat for _, etat in returns] == [str(c) for c in codes], numero


def _etat(path: Path) -> str | None:
    with zipfile.ZipFile(path) as zf:
        root = parse_xml(zf.read("message.xml"), source=path.name)
    return find_text(root, "Body", "Content", "Retour", "Instruction", "Maj", "Etat")


def test_plan_is_what_the_crash_test_needs() -> None:
    """Guards the input of the crash test against edits: versions, bad files, one redelivery."""
    plan = make_plan()
    assert len(plan.initial) == GOOD_DEMANDS + VERSIONED + len(plan.bad) == 30
    assert len(plan.files) == len(plan.initial) + ROUNDS * ARRIVALS_PER_ROUND
    assert sum(v == 2 for v in plan.good.values()) == VERSIONED
    assert plan.redelivered not in plan.bad


# -- kills at chosen points ------------------------------------------------------------------------------

# A sync run in a child process that SIGKILLs itself at one point of the work: the crash points the
# random kills above reach only by luck. The hook wraps one function; nothing else is changed.
KILL_AT = r"""
import os, signal, sys
import aiguilleur.connectors.mdel.connector as connector
import aiguilleur.connectors.mdel.importer as importer
import aiguilleur.transport.files as files
from aiguilleur.cli.app import main
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.dossiers import Dossiers
from aiguilleur.store.outbox import Outbox

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

def after(module, name):
    real = getattr(module, name)
    def wrapper(*args, **kwargs):
        result = real(*args, **kwargs)
        die()
        return result
    setattr(module, name, wrapper)

def on_fsync_of(directory):
    real = files._fsync_dir
    def wrapper(path):
        real(path)
        if path.name == directory:
            die()
    files._fsync_dir = wrapper

point = sys.argv.pop(1)
if point == "claimed":
    connector.import_group = die
elif point == "blobs-published":
    after(BlobStore, "publish_all")
elif point == "linked-into-work":
    on_fsync_of("work")
elif point == "extracted":
    after(importer, "stream_zip")
elif point == "received":
    after(Dossiers, "receive_many")
elif point == "linked-into-done":
    on_fsync_of("done")
elif point == "linked-into-error":
    on_fsync_of("error")
elif point == "moved-to-error":
    importer.atomic_write = die
elif point == "return-being-written":
    after(connector, "write_return_zip")
elif point == "return-renamed":
    real_replace = os.replace
    def replace_then_die(src, dst):  # os.replace of everything: only the return zip's counts
        real_replace(src, dst)
        if str(src).endswith(".zip.part"):
            die()
    os.replace = replace_then_die
elif point == "return-published":
    Outbox.mark_sent_many = die
else:
    raise SystemExit(f"unknown crash point {point}")
main()
"""


def kill_at(hub: Install, point: str) -> int:
    run = subprocess.run(
        [sys.executable, "-c", KILL_AT, point, "--config", str(hub.config), "sync", NAME],
        capture_output=True,
        text=True,
        cwd=hub.root,
        timeout=60,
    )
    return run.returncode


def finish(hub: Install, db: Store) -> None:
    """Restart after the crash (once the claims expired) and run until nothing is left to do."""
    for _ in range(MAX_FINAL_RUNS):
        if has_schema(db):
            expire_claims(db)
        run = hub.cli("sync", NAME)
        assert run.returncode == 0, run.stdout + run.stderr
        if not hub.names("in") and not pending_returns(db):
            return
    pytest.fail(f"still work to do after {MAX_FINAL_RUNS} runs")


def small_plan() -> Plan:
    good, bad = zip_name(AEC), zip_name(AEC, "C-9-BAD0001")
    return Plan(
        initial={good: demand_zip(AEC), bad: b"PK\x03\x04 truncated"}, good={AEC.numero: 1}, bad={bad}
    )


CRASH_POINTS = [
    pytest.param("claimed", id="claimed"),
    pytest.param("linked-into-work", id="linked-into-work"),
    pytest.param("extracted", id="extracted"),
    pytest.param("blobs-published", id="blobs-published"),
    pytest.param("received", id="received"),
    pytest.param("linked-into-done", id="linked-into-done"),
    pytest.param("linked-into-error", id="linked-into-error"),
    pytest.param("moved-to-error", id="moved-to-error"),
    pytest.param("return-being-written", id="return-being-written"),
    pytest.param("return-renamed", id="return-renamed"),
    pytest.param("return-published", id="return-published"),
]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_sync_killed_at_a_crash_point_recovers(tmp_path: Path, db: Store, point: str) -> None:
    plan = small_plan()
    hub = new_hub(tmp_path / "hub", plan)

    assert kill_at(hub, point) == -9
    finish(hub, db)

    assert_every_file_ends_once(hub, plan)
    assert_dossiers_once_with_their_versions(db, plan)
    assert_returns_consecutive_and_once(hub, db)


def test_redelivered_zip_killed_after_linking_into_done_ends_there_once(tmp_path: Path, db: Store) -> None:
    """The same zip delivered again: done already holds that name, so it goes to ``name.1.zip``."""
    plan = small_plan()
    plan.redelivered = zip_name(AEC)
    hub = new_hub(tmp_path / "hub", plan)
    finish(hub, db)
    redeliver(hub, plan)

    assert kill_at(hub, "linked-into-done") == -9
    finish(hub, db)

    assert_every_file_ends_once(hub, plan)
