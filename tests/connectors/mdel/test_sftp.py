"""MdelChannel with `sftp_pull` and `sftp_push` against real servers: OpenSSH sshd and the fake portal.

The demands are made by the fake portal (`MdelPortal`), the servers are real: OpenSSH started by
tests/sshd.py, and the portal's own asyncssh server.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

import aiguilleur.connectors.mdel.connector as connector_module
from aiguilleur.fakes.mdel_portal import MdelPortal, SftpPortalServer
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.repository import Store
from tests.conftest import ORGANISATIONS, Clock
from tests.connectors.mdel import world as world_module
from tests.connectors.mdel.world import NAME, World
from tests.sshd import SshdServer

_PORTAL = MdelPortal(seed=7)
_AEC = _PORTAL.make_demand("AEC-LA", "06088", pdf_bytes=2_000)  # Nice
_RCO = _PORTAL.make_demand("RCO-LA", "06029", pdf_bytes=2_000)  # Cannes
AEC_ZIP, AEC_DATA = _AEC.name, _AEC.data
RCO_ZIP, RCO_DATA = _RCO.name, _RCO.data
LATER_S = 4 * 3600.0  # past any back-off of a failed return
FAR_AHEAD = 4_000_000_000.0  # a remote date in 2096: a portal whose clock runs ahead


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    """SQLite only: these tests are about the SFTP side, both backends are covered by test_connector."""
    s = Store(f"sqlite:///{tmp_path / 'hub.db'}", now=clock)
    s.migrate()
    s.organisations.sync(ORGANISATIONS)
    yield s
    s.close()


WorldFactory = Callable[..., World]


@pytest.fixture
def make_world(store: Store, blobs: BlobStore, clock: Clock, tmp_path: Path) -> WorldFactory:
    """A hub with one MDEL channel whose settings add `sftp` (e.g. sftp_pull=…, sftp_push=…)."""
    return functools.partial(world_module.make_world, store, blobs, clock, tmp_path)


def endpoint(server: SshdServer, folder: str, **changes: str) -> dict[str, str]:
    return {
        "url": server.url(folder),
        "key_file": str(server.client_key),
        "known_hosts": str(server.known_hosts),
        "timeout_s": "10s",
        **changes,
    }


def remote_names(server: SshdServer, folder: str) -> list[str]:
    return sorted(p.name for p in (server.data_dir / folder).iterdir())


def outbox_states(world: World) -> list[str]:
    return [view.state for view in world.store.outbox.list(connector=NAME)]


@pytest.fixture
def portal_dirs(sshd_server: SshdServer) -> tuple[str, str]:
    """A fresh pair of folders on the shared sshd: the demands (depot) and the returns (retours)."""
    base = sshd_server.fresh_dir("mdel")
    sshd_server.make_dir(f"{base}/depot")
    sshd_server.make_dir(f"{base}/retours")
    return f"{base}/depot", f"{base}/retours"


# -- pull and push against OpenSSH ---------------------------------------------------------------------


@pytest.mark.integration
def test_demands_are_pulled_imported_and_answered(
    make_world: WorldFactory, sshd_server: SshdServer, portal_dirs: tuple[str, str]
) -> None:
    depot, retours = portal_dirs
    sshd_server.put(f"{depot}/{AEC_ZIP}", AEC_DATA)
    sshd_server.put(f"{depot}/{RCO_ZIP}", RCO_DATA)
    sshd_server.put(f"{depot}/A-3-EL5Q9W2D-ILE-LA-1.zip.part", b"still being written")
    sshd_server.put(f"{depot}/lisez-moi.txt", b"not a demand")
    sshd_server.make_dir(f"{depot}/archive.zip")  # a folder, not a file
    world = make_world(sftp_pull=endpoint(sshd_server, depot), sftp_push=endpoint(sshd_server, retours))

    outcome = world.sync()

    assert outcome.is_ok, outcome
    assert outcome.counts == {"pulled": 2, "imported": 2, "returns_sent": 2}
    assert remote_names(sshd_server, depot) == [
        "A-3-EL5Q9W2D-ILE-LA-1.zip.part",
        "archive.zip",
        "lisez-moi.txt",
    ]
    assert world.names("in") == world.names("work") == []
    assert world.names("done") == sorted([AEC_ZIP, RCO_ZIP])
    assert len(world.dossier_ids()) == 2
    assert remote_names(sshd_server, retours) == sorted([AEC_ZIP, RCO_ZIP])  # final names, no .part
    for name in (AEC_ZIP, RCO_ZIP):
        assert (sshd_server.data_dir / retours / name).read_bytes() == (world.dir("out") / name).read_bytes()
    assert outbox_states(world) == ["sent", "sent"]
    assert "pulled : 2" in world.sync_log()


@pytest.mark.integration
def test_a_file_that_cannot_be_pulled_stays_and_the_others_go_on(
    make_world: WorldFactory, sshd_server: SshdServer, portal_dirs: tuple[str, str]
) -> None:
    depot, _ = portal_dirs
    sshd_server.put(f"{depot}/{AEC_ZIP}", AEC_DATA).chmod(0)  # unreadable for the account
    sshd_server.put(f"{depot}/{RCO_ZIP}", RCO_DATA)
    world = make_world(sftp_pull=endpoint(sshd_server, depot))

    outcome = world.sync()

    assert outcome.is_ok
    assert outcome.counts == {"pulled": 1, "pull_failed": 1, "errors": 1, "imported": 1, "returns_sent": 1}
    assert AEC_ZIP in outcome.errors[0] and "permission denied" in outcome.errors[0]
    assert remote_names(sshd_server, depot) == [AEC_ZIP]
    assert world.names("done") == [RCO_ZIP]
    assert [p.name for p in world.dir("in").iterdir()] == []  # no partial copy left behind


@pytest.mark.integration
def test_a_file_that_cannot_be_removed_is_pulled_again_and_seen_as_received(
    make_world: WorldFactory, sshd_server: SshdServer, portal_dirs: tuple[str, str]
) -> None:
    """As after a crash between the local copy and the removal: the next pull is a harmless duplicate."""
    depot, _ = portal_dirs
    sshd_server.put(f"{depot}/{AEC_ZIP}", AEC_DATA)
    sshd_server.make_dir(depot, writable=False)
    world = make_world(sftp_pull=endpoint(sshd_server, depot))

    first = world.sync()
    second = world.sync()

    assert first.counts == {"pulled": 1, "errors": 1, "imported": 1, "returns_sent": 1}
    assert "pas supprimé du serveur" in first.errors[0]
    assert second.counts == {"pulled": 1, "errors": 1, "duplicate": 1}
    assert len(world.dossier_ids()) == 1
    assert remote_names(sshd_server, depot) == [AEC_ZIP]


@pytest.mark.integration
def test_pulled_file_is_ready_at_once_and_gets_its_marker(
    make_world: WorldFactory, sshd_server: SshdServer, portal_dirs: tuple[str, str]
) -> None:
    depot, _ = portal_dirs
    sshd_server.put(f"{depot}/{AEC_ZIP}", AEC_DATA, mtime=FAR_AHEAD)
    world = make_world(sftp_pull=endpoint(sshd_server, depot), marker_suffix=".ok", min_age="1h")

    outcome = world.sync()

    assert outcome.counts == {"pulled": 1, "imported": 1, "returns_sent": 1}
    assert world.names("in") == []


@pytest.mark.parametrize("which", ["host_key", "client_key"])
@pytest.mark.integration
def test_pull_refused_fails_the_run_and_leaves_the_files(
    make_world: WorldFactory,
    sshd_server: SshdServer,
    portal_dirs: tuple[str, str],
    tmp_path: Path,
    which: str,
) -> None:
    depot, _ = portal_dirs
    sshd_server.put(f"{depot}/{AEC_ZIP}", AEC_DATA)
    stranger = asyncssh.generate_private_key("ssh-ed25519")
    stranger.write_private_key(tmp_path / "stranger")
    if which == "host_key":
        line = f"[127.0.0.1]:{sshd_server.port} {stranger.export_public_key().decode()}"
        (tmp_path / "known_hosts").write_text(line)
        changes = {"known_hosts": str(tmp_path / "known_hosts")}
    else:
        changes = {"key_file": str(tmp_path / "stranger")}
    world = make_world(sftp_pull=endpoint(sshd_server, depot, **changes))

    outcome = world.sync()

    assert outcome.outcome == "failed"
    assert ("host key" if which == "host_key" else "key refused") in (outcome.error or "")
    assert remote_names(sshd_server, depot) == [AEC_ZIP]
    assert world.dossier_ids() == []
    assert "interrompue" in world.sync_log()


@pytest.mark.integration
def test_portal_out_of_reach_is_reported_and_local_files_still_imported(
    make_world: WorldFactory, sshd_factory: Callable[[], SshdServer]
) -> None:
    server = sshd_factory()
    server.stop()
    world = make_world(sftp_pull=endpoint(server, "depot"))
    world.drop(RCO_ZIP, RCO_DATA)

    outcome = world.sync()

    assert outcome.is_ok
    assert outcome.counts["imported"] == 1
    assert "récupération SFTP impossible" in outcome.errors[0]


@pytest.mark.integration
def test_push_failure_keeps_the_return_pending_until_the_server_is_back(
    make_world: WorldFactory, sshd_factory: Callable[[], SshdServer]
) -> None:
    server = sshd_factory()
    server.make_dir("retours")
    world = make_world(sftp_push=endpoint(server, "retours"))
    world.drop(AEC_ZIP, AEC_DATA)
    server.stop()

    outcome = world.sync()

    assert outcome.is_ok
    assert outcome.counts == {"imported": 1, "returns_retry": 1}
    [view] = world.store.outbox.list(connector=NAME)
    assert (view.state, view.attempts) == ("pending", 1)
    assert "sftp_push: connect" in (view.last_error or "")
    [dossier_id] = world.dossier_ids()
    assert not world.store.dossiers.get(dossier_id, None).history[0].is_transmitted
    assert remote_names(server, "retours") == []

    server.start()
    world.clock.advance(LATER_S)
    outcome = world.sync()

    assert outcome.counts == {"returns_sent": 1}
    assert remote_names(server, "retours") == [AEC_ZIP]  # the same increment as the failed attempt
    assert outbox_states(world) == ["sent"]
    assert world.store.dossiers.get(dossier_id, None).history[0].is_transmitted


@pytest.mark.integration
def test_push_into_a_folder_without_permission_keeps_the_return_pending(
    make_world: WorldFactory, sshd_server: SshdServer, portal_dirs: tuple[str, str]
) -> None:
    _, retours = portal_dirs
    sshd_server.make_dir(retours, writable=False)
    world = make_world(sftp_push=endpoint(sshd_server, retours))
    world.drop(RCO_ZIP, RCO_DATA)

    outcome = world.sync()

    assert outcome.counts == {"imported": 1, "returns_retry": 1}
    [view] = world.store.outbox.list(connector=NAME)
    assert view.state == "pending" and "permission denied" in (view.last_error or "")

    sshd_server.make_dir(retours, writable=True)
    world.clock.advance(LATER_S)
    assert world.sync().counts == {"returns_sent": 1}
    assert remote_names(sshd_server, retours) == [RCO_ZIP]


@pytest.mark.integration
def test_returns_of_a_run_are_pushed_in_one_session_and_a_refused_one_does_not_stop_the_others(
    make_world: WorldFactory,
    sshd_server: SshdServer,
    portal_dirs: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, retours = portal_dirs
    sshd_server.make_dir(f"{retours}/{RCO_ZIP}")  # a folder where the RCO return should land
    world = make_world(sftp_push=endpoint(sshd_server, retours))
    world.drop(AEC_ZIP, AEC_DATA)
    world.drop(RCO_ZIP, RCO_DATA)  # imported first (name order): its return is the first pushed
    sessions: list[object] = []
    real_enter = connector_module.SftpSession.__enter__

    def counted_enter(self: Any) -> Any:
        sessions.append(self)
        return real_enter(self)

    monkeypatch.setattr(connector_module.SftpSession, "__enter__", counted_enter)

    outcome = world.sync()

    assert outcome.counts == {"imported": 2, "returns_sent": 1, "returns_retry": 1}
    assert len(sessions) == 1
    pushed = sshd_server.data_dir / retours / AEC_ZIP
    assert pushed.read_bytes() == (world.dir("out") / AEC_ZIP).read_bytes()
    states = {v.payload["external_id"]: v for v in world.store.outbox.list(connector=NAME)}
    refused = states[RCO_ZIP.split("-RCO-LA")[0]]
    assert refused.state == "pending" and RCO_ZIP in (refused.last_error or "")


@pytest.mark.integration
def test_push_to_a_server_with_another_host_key_fails_the_run(
    make_world: WorldFactory, sshd_server: SshdServer, portal_dirs: tuple[str, str], tmp_path: Path
) -> None:
    _, retours = portal_dirs
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    (tmp_path / "known_hosts").write_text(f"[127.0.0.1]:{sshd_server.port} {other}")
    world = make_world(sftp_push=endpoint(sshd_server, retours, known_hosts=str(tmp_path / "known_hosts")))
    world.drop(AEC_ZIP, AEC_DATA)

    outcome = world.sync()

    assert outcome.outcome == "failed"
    assert "differs from the pinned" in (outcome.error or "")
    assert outbox_states(world) == ["pending"]  # credentials refused: not the return's fault
    assert remote_names(sshd_server, retours) == []


def test_check_reports_missing_key_files(make_world: WorldFactory, tmp_path: Path) -> None:
    pull = {"url": "sftp://msp@127.0.0.1:2222/depot", "key_file": "keys/id", "known_hosts": "keys/kh"}
    world = make_world(sftp_pull=pull)
    world.sync()
    health = world.hub.connectors[NAME].check()
    assert not health.is_ok
    assert str(tmp_path / "keys" / "id") in health.detail and "absent" in health.detail


# -- pull and push against the fake portal (asyncssh) ---------------------------------------------------


@pytest.mark.integration
def test_demands_of_the_fake_portal_round_trip(make_world: WorldFactory, tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(tmp_path / "id_mairie")
    portal = MdelPortal(seed=11)
    with SftpPortalServer(tmp_path / "portal", [key.export_public_key().decode()]) as server:
        server.write_known_hosts(tmp_path / "known_hosts")
        paths = portal.write_demands(server.depot_dir, 3, insee=["06088", "06029"], pdf_bytes=2_000)
        common = {"key_file": "id_mairie", "known_hosts": "known_hosts"}  # relative to the config folder
        world = make_world(
            sftp_pull={"url": f"sftp://mairie@127.0.0.1:{server.port}/depot", **common},
            sftp_push={"url": f"sftp://mairie@127.0.0.1:{server.port}/retours", **common},
        )

        outcome = world.sync()

        assert outcome.is_ok, outcome
        assert outcome.counts == {"pulled": 3, "imported": 3, "returns_sent": 3}
        assert list(server.depot_dir.iterdir()) == []
        accepted = portal.collect_returns(server.retours_dir)
    assert sorted(r.name for r in accepted) == sorted(p.name for p in paths)
    assert all(r.etat == 14 for r in accepted)
    assert portal.rejected == [] and portal.problems == []
