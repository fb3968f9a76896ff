"""MdelChannel over real directories and both store backends: import, rejects, returns, the sync log."""

from __future__ import annotations

import io
import os
import threading
import zipfile
from pathlib import Path

import pytest

import aiguilleur.transport.files as files_module
from aiguilleur.connectors.base import Capability, RunContext, RunReport
from aiguilleur.connectors.mdel import MdelChannel, MdelConfig
from aiguilleur.connectors.registry import Registry
from aiguilleur.engine.runner import run_connector
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.repository import Store
from aiguilleur.transport.files import GroupSync
from aiguilleur.transport.xml import find_text, parse_xml
from tests.conftest import Clock
from tests.connectors.mdel.world import NAME, World, make_world

DATA = Path(__file__).resolve().parents[2] / "data" / "mdel"
COMMENT_14 = "Le dossier a été reçu et sera traité prochainement."
AEC = ("AEC-LA", "A-1-K7EC2T4Q")  # routed to 06088, Nice
RCO = ("RCO-LA", "A-2-RC8S4N1P")  # routed to 06029, Cannes
ILE = ("ILE-LA", "A-3-EL5Q9W2D")  # routed to " 06088 " (padded), Nice
PDF = b"%PDF-1.4\n% fictional test document\n%%EOF\n"


@pytest.fixture
def world(store: Store, blobs: BlobStore, clock: Clock, tmp_path: Path) -> World:
    return make_world(store, blobs, clock, tmp_path)


def demand_zip(
    flow: tuple[str, str],
    *,
    message: bytes | None = None,
    omit: tuple[str, ...] = (),
    extra: dict[str, bytes] | None = None,
    message_id_suffix: str = "",
) -> bytes:
    """A demand zip built from tests/data/mdel/<flow>, with PDFs for every listed PDF file."""
    flow_type, numero = flow
    folder = DATA / flow_type
    members: dict[str, bytes] = {}
    msg = message if message is not None else (folder / "message.xml").read_bytes()
    if message_id_suffix:
        msg = msg.replace(b"</ns2:MessageId>", message_id_suffix.encode() + b"</ns2:MessageId>")
    members["message.xml"] = msg
    for path in sorted(folder.glob(f"{numero}-*.xml")):
        members[path.name] = path.read_bytes()
    root = parse_xml((folder / "message.xml").read_bytes(), source="message.xml")
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.endswith(("Fichier", "FichierDonnees")):
            file_name = (element.text or "").strip()
            if file_name.endswith(".pdf"):
                members[file_name] = PDF + file_name.encode()
    members.update(extra or {})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            if member not in omit:
                zf.writestr(member, data)
    return buffer.getvalue()


def return_message(path: Path) -> tuple[list[str], bytes]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist(), zf.read("message.xml")


def etat(message: bytes) -> tuple[str | None, str | None]:
    root = parse_xml(message, source="retour")
    maj = ("Body", "Content", "Retour", "Instruction", "Maj")
    return find_text(root, *maj, "Etat"), find_text(root, *maj, "Commentaire")


def test_info_and_entry_point() -> None:
    registry = Registry().load_entry_points()
    assert registry.get("mdel") is MdelChannel
    assert MdelChannel.info.capabilities == {Capability.POLL, Capability.STATUS_RETURN}
    assert MdelConfig().min_age == 10.0


def test_config_refuses_bad_sftp_url() -> None:
    ok = MdelConfig.model_validate(
        {"sftp_pull": {"url": "sftp://msp@sftp.example.org:22/in", "key_file": "k", "known_hosts": "h"}}
    )
    assert ok.sftp_pull is not None
    with pytest.raises(ValueError, match="sftp://"):
        MdelConfig.model_validate({"sftp_push": {"url": "ftp://x/y", "key_file": "k", "known_hosts": "h"}})
    with pytest.raises(ValueError, match="min_age"):
        MdelConfig.model_validate({"min_age": "soon"})


def test_good_demand_is_imported_and_answered(world: World) -> None:
    world.drop("A-1-K7EC2T4Q-AEC-LA-1.zip", demand_zip(AEC))

    outcome = world.sync()

    assert outcome.is_ok, outcome
    assert outcome.counts["imported"] == 1
    assert outcome.counts["returns_sent"] == 1
    assert world.names("done") == ["A-1-K7EC2T4Q-AEC-LA-1.zip"]
    assert world.names("in") == world.names("work") == world.names("error") == []
    [dossier_id] = world.dossier_ids()
    dossier = world.store.dossiers.get(dossier_id, None)
    assert (dossier.status, dossier.organisation_id, dossier.procedure) == (14, "nice", "AEC-LA")
    assert dossier.external_id == "A-1-K7EC2T4Q"
    assert dossier.history[0].comment == COMMENT_14
    assert dossier.history[0].is_transmitted
    assert dossier.data["fields"]["Titulaire"]
    assert dossier.title
    assert dossier.data["message"]["code_insee"] == "06088"
    assert "ActeEtatCivil-XML" in dossier.data["documents"]
    assert {d.role for d in dossier.documents} >= {"message", "entete", "ji", "ActeEtatCivil-XML"}
    assert len(dossier.documents) == 5
    for doc in dossier.documents:  # the citizen's follow-up password is never stored
        assert b"Secret-Suivi" not in world.hub.blobs.path(doc.sha256).read_bytes()
    assert world.names("out") == ["A-1-K7EC2T4Q-AEC-LA-1.zip"]
    names, message = return_message(world.dir("out") / "A-1-K7EC2T4Q-AEC-LA-1.zip")
    assert names == ["message.xml"]
    assert etat(message) == ("14", COMMENT_14)
    root = parse_xml(message, source="retour")
    assert find_text(root, "Header", "Routing", "MessageId") == "A-1-K7EC2T4Q-AEC-LA-retour-1"


def test_with_per_file_syncs_the_filesystem_is_never_synced_whole(
    store: Store, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: Path) -> None:
        raise AssertionError(f"filesystem sync of {path} with group_sync = files")

    monkeypatch.setattr(files_module, "sync_filesystem", refuse)
    blobs = BlobStore(tmp_path / "blobs", sync=GroupSync(per_file=True))
    world = make_world(store, blobs, clock, tmp_path)
    world.drop("A-1-K7EC2T4Q-AEC-LA-1.zip", demand_zip(AEC))

    outcome = world.sync()

    assert outcome.is_ok, outcome
    assert outcome.counts == {"imported": 1, "returns_sent": 1}
    assert world.names("done") == world.names("out") == ["A-1-K7EC2T4Q-AEC-LA-1.zip"]
    [dossier_id] = world.dossier_ids()
    assert all(blobs.exists(d.sha256) for d in world.store.dossiers.get(dossier_id, None).documents)


def test_second_version_and_replay(world: World) -> None:
    world.drop("A-1-K7EC2T4Q-AEC-LA-1.zip", demand_zip(AEC))
    world.sync()
    world.drop("A-1-K7EC2T4Q-AEC-LA-2.zip", demand_zip(AEC, message_id_suffix=" v2"))
    outcome = world.sync()
    assert outcome.counts == {"updated": 1}
    [dossier_id] = world.dossier_ids()
    dossier = world.store.dossiers.get(dossier_id, None)
    assert dossier.version == 2
    assert [v.number for v in dossier.versions] == [1, 2]

    world.drop("A-1-K7EC2T4Q-AEC-LA-2.zip", demand_zip(AEC, message_id_suffix=" v2"))
    outcome = world.sync()
    assert outcome.counts == {"duplicate": 1}
    assert world.store.dossiers.get(dossier_id, None).version == 2
    assert world.dossier_ids() == [dossier_id]
    assert len(world.names("done")) == 3
    assert world.names("out") == ["A-1-K7EC2T4Q-AEC-LA-1.zip"]  # a version sends no return


def test_status_change_gives_next_increment_with_document(world: World) -> None:
    world.drop("A-2-RC8S4N1P-RCO-LA-1.zip", demand_zip(RCO))
    world.sync()
    [dossier_id] = world.dossier_ids()
    ref = world.hub.blobs.put_bytes(PDF + b"attestation")
    world.store.dossiers.attach_outgoing(
        dossier_id, None, name="attestation.pdf", sha256=ref.sha256, size_bytes=ref.size_bytes,
        media_type="application/pdf",
    )  # fmt: skip
    world.store.statuses.set(dossier_id, 16, "Instruction en cours.", "agent", None)

    outcome = world.sync()

    assert outcome.counts == {"returns_sent": 1}
    assert world.names("out") == ["A-2-RC8S4N1P-RCO-LA-1.zip", "A-2-RC8S4N1P-RCO-LA-2.zip"]
    names, message = return_message(world.dir("out") / "A-2-RC8S4N1P-RCO-LA-2.zip")
    assert names == ["message.xml", "attestation.pdf"]
    assert etat(message) == ("16", "Instruction en cours.")
    assert world.store.dossiers.get(dossier_id, None).history[-1].is_transmitted


def test_retry_of_a_published_return_keeps_its_increment(world: World) -> None:
    """A crash between writing the zip and marking it sent: the retry rewrites the same file."""
    world.drop("A-1-K7EC2T4Q-AEC-LA-1.zip", demand_zip(AEC))
    channel = world.hub.connectors[NAME]
    assert isinstance(channel, MdelChannel)
    channel.run(_ctx())
    [item] = world.store.outbox.due(NAME)
    channel.send_return(item)
    first = (world.dir("out") / "A-1-K7EC2T4Q-AEC-LA-1.zip").read_bytes()
    channel.send_return(item)  # not marked sent: as after a crash
    assert world.names("out") == ["A-1-K7EC2T4Q-AEC-LA-1.zip"]
    assert (world.dir("out") / "A-1-K7EC2T4Q-AEC-LA-1.zip").read_bytes() == first


def _zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _unknown_insee_zip() -> bytes:
    """A demand for Paris (75056), which is not configured; its -ent.xml agrees."""
    folder = DATA / "AEC-LA"
    ent = next(folder.glob("*-ent-*.xml"))
    return demand_zip(
        AEC,
        message=(folder / "message.xml").read_bytes().replace(b"06088", b"75056"),
        extra={ent.name: ent.read_bytes().replace(b"06088", b"75056")},
    )


def _bad_inputs() -> dict[str, tuple[str, bytes, str]]:
    """name -> (file name, bytes, a word the log must contain)."""
    broken = DATA / "broken"
    aec = "A-1-K7EC2T4Q-AEC-LA-1.zip"
    return {
        "corrupt": (aec, b"PK\x03\x04 not really a zip", "corrompue"),
        "zip-slip": (aec, demand_zip(AEC, extra={"../../evil.sh": b"#!/bin/sh\n"}), "dangereux"),
        "no-message": (aec, demand_zip(AEC, omit=("message.xml",)), "message.xml absent"),
        "missing-attachment": (aec, demand_zip(AEC, omit=("A-1-K7EC2T4Q-AEC-LA-pj-ji-1-1.pdf",)), "absent"),
        "xxe": (
            aec,
            demand_zip(AEC, message=(broken / "message-external-entity.xml").read_bytes()),
            "entités",
        ),
        "unknown-flow": (
            aec,
            demand_zip(AEC, message=(broken / "message-unknown-flow.xml").read_bytes()),
            "inconnu",
        ),
        "unknown-insee": (aec, _unknown_insee_zip(), "code INSEE 75056"),
        "bad-name": ("demande-urgente.zip", demand_zip(AEC), "nom de fichier"),
        "not-a-zip": ("notes.txt", b"hello", "zip"),
        "empty-zip": (aec, _zip_of({}), "vide"),
    }


@pytest.mark.parametrize("case", sorted(_bad_inputs()))
def test_bad_input_ends_in_error_with_a_log(world: World, case: str) -> None:
    file_name, data, word = _bad_inputs()[case]
    world.drop(file_name, data)
    world.drop("A-2-RC8S4N1P-RCO-LA-1.zip", demand_zip(RCO))  # the run goes on with the others

    outcome = world.sync()

    assert outcome.is_ok
    assert outcome.counts["rejected"] == 1
    assert outcome.counts["imported"] == 1
    assert world.names("error") == [file_name, f"{file_name}.log"]
    log = (world.dir("error") / f"{file_name}.log").read_text()
    assert word.lower() in log.lower()
    assert world.names("done") == ["A-2-RC8S4N1P-RCO-LA-1.zip"]
    assert world.names("work") == [] and world.names("in") == []
    [dossier_id] = world.dossier_ids()
    assert world.store.dossiers.get(dossier_id, None).external_id == "A-2-RC8S4N1P"
    assert outcome.errors and file_name in outcome.errors[0]


def test_files_not_ready_are_left_alone(world: World) -> None:
    world.drop("A-1-K7EC2T4Q-AEC-LA-1.zip.part", demand_zip(AEC))
    world.drop("A-2-RC8S4N1P-RCO-LA-1.zip", demand_zip(RCO), age_s=1.0)

    outcome = world.sync()

    assert outcome.counts == {}
    assert world.names("in") == ["A-1-K7EC2T4Q-AEC-LA-1.zip.part", "A-2-RC8S4N1P-RCO-LA-1.zip"]
    assert world.dossier_ids() == []
    world.clock.advance(30)  # unchanged and now old enough
    assert world.sync().counts["imported"] == 1
    assert world.names("in") == ["A-1-K7EC2T4Q-AEC-LA-1.zip.part"]


def test_leftover_in_work_is_resumed(world: World) -> None:
    """A crash after the move to work, or after the receipt: the next run finishes the job once."""
    work = world.dir("work")
    work.mkdir(parents=True)
    (work / "A-1-K7EC2T4Q-AEC-LA-1.zip").write_bytes(demand_zip(AEC))
    (work / "A-1-K7EC2T4Q-AEC-LA-1.zip.d").mkdir()  # a half-done extraction
    (work / "A-1-K7EC2T4Q-AEC-LA-1.zip.d" / "message.xml").write_bytes(b"partial")
    assert world.sync().counts["imported"] == 1

    (work / "A-1-K7EC2T4Q-AEC-LA-1.zip").write_bytes(demand_zip(AEC))  # already received
    assert world.sync().counts == {"duplicate": 1}
    assert len(world.dossier_ids()) == 1
    assert world.names("work") == []


def test_sync_log_lists_each_fate(world: World) -> None:
    world.drop("A-1-K7EC2T4Q-AEC-LA-1.zip", demand_zip(AEC))
    world.drop("A-2-RC8S4N1P-RCO-LA-1.zip", b"garbage")

    outcome = world.sync()

    [log_name] = world.names("logs")
    assert log_name == f"sync-20261124T080000Z-{outcome.run_id}.log"
    text = (world.dir("logs") / log_name).read_text()
    assert "A-1-K7EC2T4Q-AEC-LA-1.zip : importé, nouveau dossier" in text
    assert "A-2-RC8S4N1P-RCO-LA-1.zip : refusé" in text
    assert "imported : 1" in text and "rejected : 1" in text
    assert "Erreurs" in text


def test_check_reports_missing_directories(world: World) -> None:
    channel = world.hub.connectors[NAME]
    assert not channel.check().is_ok
    world.sync()
    assert channel.check().is_ok


def _ctx() -> RunContext:
    return RunContext(connector=NAME, run_id=1, report=RunReport(), stopping=threading.Event())


@pytest.mark.parametrize(("flow", "organisation"), [(AEC, "nice"), (RCO, "cannes"), (ILE, "nice")])
def test_each_flow_is_imported(world: World, flow: tuple[str, str], organisation: str) -> None:
    flow_type, numero = flow
    world.drop(f"{numero}-{flow_type}-1.zip", demand_zip(flow))
    assert world.sync().counts["imported"] == 1
    [dossier_id] = world.dossier_ids()
    dossier = world.store.dossiers.get(dossier_id, None)
    assert (dossier.procedure, dossier.organisation_id) == (flow_type, organisation)
    assert dossier.data["fields"] and dossier.title
    assert world.names("out") == [f"{numero}-{flow_type}-1.zip"]


def test_stopping_leaves_input_untouched(world: World) -> None:
    world.drop("A-1-K7EC2T4Q-AEC-LA-1.zip", demand_zip(AEC))
    stopping = threading.Event()
    stopping.set()
    outcome = run_connector(world.hub, NAME, stopping=stopping)
    assert outcome.outcome == "interrupted"
    assert world.names("in") == ["A-1-K7EC2T4Q-AEC-LA-1.zip"]
    assert world.dossier_ids() == []


def test_crash_during_moves_leaves_one_copy(world: World) -> None:
    """atomic_move links then unlinks: a crash in between leaves the same file in two directories."""
    data = demand_zip(AEC)
    name = "A-1-K7EC2T4Q-AEC-LA-1.zip"
    world.drop(name, data)
    world.dir("work").mkdir(parents=True)
    os.link(world.dir("in") / name, world.dir("work") / name)  # crashed between input and work
    assert world.sync().counts["imported"] == 1
    assert world.names("in") == world.names("work") == []
    assert world.names("done") == [name]

    world.drop(name, data)  # crashed between work and done, after the receipt
    os.link(world.dir("in") / name, world.dir("done") / "x.zip")
    os.replace(world.dir("in") / name, world.dir("work") / name)
    os.replace(world.dir("done") / "x.zip", world.dir("done") / name)
    assert world.sync().counts == {"duplicate": 1}
    assert world.names("done") == [name]
    assert world.names("work") == []


def test_attachments_copied_to_external_directory(world: World, tmp_path: Path) -> None:
    channel = world.hub.connectors[NAME]
    assert isinstance(channel, MdelChannel)
    settings = channel.settings.model_copy(update={"attachments_dir": str(tmp_path / "pj")})
    world.hub.connectors[NAME] = MdelChannel(NAME, settings, world.hub.context())
    world.drop("A-2-RC8S4N1P-RCO-LA-1.zip", demand_zip(RCO))
    assert world.sync().counts["imported"] == 1
    folder = tmp_path / "pj" / "A-2-RC8S4N1P"
    assert sorted(p.name for p in folder.iterdir()) == [
        "A-2-RC8S4N1P-RCO-LA-pj-jf-1-1.pdf",
        "A-2-RC8S4N1P-RCO-LA-pj-ji-1-1.pdf",
    ]


def test_marker_file_required_when_configured(world: World) -> None:
    channel = world.hub.connectors[NAME]
    assert isinstance(channel, MdelChannel)
    settings = channel.settings.model_copy(update={"marker_suffix": ".ok"})
    world.hub.connectors[NAME] = MdelChannel(NAME, settings, world.hub.context())
    world.drop("A-1-K7EC2T4Q-AEC-LA-1.zip", demand_zip(AEC))
    assert world.sync().counts == {}
    world.drop("A-1-K7EC2T4Q-AEC-LA-1.zip.ok", b"")
    assert world.sync().counts["imported"] == 1
    assert world.names("in") == []
