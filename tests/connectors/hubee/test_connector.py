"""HubeeChannel over the fake HubEE and both store backends: télédossiers in, events, statuses back.

Scenarios run in process and over a real loopback socket (`any_env`); those that need a network
failure injected between client and platform run in process (`env`).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import httpx
import pytest

from aiguilleur.connectors.base import Capability, RunContext, RunReport
from aiguilleur.connectors.hubee import HubeeChannel, HubeeConfig
from aiguilleur.connectors.registry import Registry
from aiguilleur.fakes.hubee import FakeHubee, OrgId, SeedFile, Subscription
from aiguilleur.fakes.hubee.samples import sample_files
from aiguilleur.transport.xml import parse_xml, xml_to_dict
from tests.connectors.hubee.conftest import JDD, SAMPLES, Env, requests_log, traced_peak

NAME = "etatcivil"
AGENT = "agent"


def our_events(world: FakeHubee, case_id: str) -> list[tuple[str | None, str | None]]:
    """(caseNewStatus, message) of the events the subscriber posted on a case."""
    case = world.case(case_id)
    return [(e.case_new_status, e.message) for e in case.events if e.transmitter == case.recipient]


def test_info_and_entry_point() -> None:
    assert Registry().load_entry_points().get("hubee") is HubeeChannel
    assert HubeeChannel.info.kind == "hubee"
    assert HubeeChannel.info.config_model is HubeeConfig
    assert Capability.STATUS_RETURN in HubeeChannel.info.capabilities


@pytest.mark.parametrize("folder", sorted(SAMPLES))
def test_full_cycle_of_each_sample_demarche(any_env: Env, folder: str) -> None:
    """Received with every file, minimal status after the downloads, statuses back, echoes and closing."""
    env, world = any_env, any_env.world
    process_code = SAMPLES[folder]
    env.add(NAME, world.add_subscription(process_code))
    case = world.seed_sample(folder)

    outcome = env.sync()
    assert outcome.is_ok, outcome
    assert outcome.counts["imported"] == 1
    [dossier] = env.dossiers()
    assert (dossier.procedure, dossier.organisation_id, dossier.status) == (process_code, "nice", 14)
    assert dossier.external_id == case.external_id and dossier.channel == "hubee"
    files = {f.file_name: f for f in sample_files(JDD / folder)}
    assert {d.name for d in dossier.documents} == set(files)
    for doc in dossier.documents:
        content = files[doc.name].path.read_bytes()
        assert (doc.size_bytes, doc.sha256) == (len(content), hashlib.sha256(content).hexdigest())
        assert doc.role == files[doc.name].type
        assert env.blobs.path(doc.sha256).read_bytes() == content
    business = dossier.data["document_file"]["file"]
    assert business.endswith(".xml")
    assert dossier.data["document"] == xml_to_dict(parse_xml(JDD / folder / business))
    assert dossier.data["hubee"]["case_id"] == case.id
    # every file downloaded before the first status change, then the notification deleted
    log = requests_log(world)
    downloads = [i for i, (m, p) in enumerate(log) if m == "GET" and "/attachments/" in p]
    posts = [i for i, (m, p) in enumerate(log) if m == "POST" and p.endswith("/events")]
    deletes = [i for i, (m, p) in enumerate(log) if m == "DELETE"]
    assert len(downloads) == len(files) and max(downloads) < min(posts) < min(deletes)
    assert world.queue() == []
    assert our_events(world, case.id) == [
        ("SI_RECEIVED", "Votre demande a été reçue par le service instructeur.")
    ]
    assert env.store.outbox.list(states=("sent",))  # the return of 14, told by the minimal status

    env.store.statuses.set(dossier.id, 16, "Votre dossier est à l'étude.", AGENT, None)
    env.store.statuses.set(dossier.id, 19, "Votre acte vous sera envoyé par courrier.", AGENT, None)
    assert env.sync().counts.get("returns_sent") == 3  # 16, 19, then the automatic 100 (nothing to send)
    assert env.store.dossiers.get(dossier.id, None).status == 100
    assert our_events(world, case.id)[1:] == [
        ("IN_PROGRESS", "Votre dossier est à l'étude."),
        ("DONE", "Votre acte vous sera envoyé par courrier."),
    ]
    assert world.case(case.id).status == "DONE"

    world.osl_acknowledge(case.id)  # the sender took our three events into account: three echoes
    world.osl_event(case.id, "STATUS_UPDATE", case_new_status="CLOSED", message="Usager informé")
    assert len(world.queue()) == 4
    outcome = env.sync()
    assert outcome.counts == {"echoes": 3, "events": 1}
    assert world.queue() == []
    closed = world.case(case.id).events[-1]
    assert closed.case_new_status == "CLOSED" and closed.status == "RECEIVED"  # acknowledged
    journal = [j.message for j in env.store.dossiers.get(dossier.id, None).journal if j.kind == "peer-event"]
    assert journal == ["HubEE : télédossier clos par DILA (usager informé) : Usager informé"]
    patched = [p for m, p in requests_log(world) if m == "PATCH"]
    assert patched == [f"/teledossiers/v1/cases/{case.id}/events/{closed.id}"]  # echoes are not acknowledged


def test_message_from_the_sender_lands_in_the_journal(any_env: Env, etatcivil: Subscription) -> None:
    env, world = any_env, any_env.world
    env.add(NAME, etatcivil)
    case = world.seed_one()
    env.sync()
    event = world.osl_event(case.id, "SENDING_MESSAGE", message="Merci de préciser la date de l'acte.")
    assert env.sync().counts == {"events": 1}
    [dossier] = env.dossiers()
    [entry] = [j for j in dossier.journal if j.kind == "message"]
    assert entry.message == "Message de DILA via HubEE : Merci de préciser la date de l'acte."
    assert entry.actor == "HubEE" and entry.data["hubee_event"] == event.id
    assert world.case(case.id).events[-1].status == "RECEIVED"
    assert world.queue() == []


def test_deposited_files_make_a_new_version(any_env: Env, etatcivil: Subscription) -> None:
    env, world = any_env, any_env.world
    env.add(NAME, etatcivil)
    case = world.seed_one()
    env.sync()
    [before] = env.dossiers()
    scan = b"%PDF-1.4 complement\n"
    world.osl_event(
        case.id, "ATTACH_DEPOSIT", files=[SeedFile("justificatif.pdf", "PJ", "application/pdf", scan)]
    )
    outcome = env.sync()
    assert outcome.counts == {"updated": 1}
    after = env.store.dossiers.get(before.id, None)
    assert after.version == 2 and after.data == before.data and after.status == before.status
    [new] = [d for d in after.documents if d.version == 2]
    assert (new.name, new.role, new.sha256) == ("justificatif.pdf", "PJ", hashlib.sha256(scan).hexdigest())
    assert world.case(case.id).events[-1].status == "RECEIVED"
    assert world.queue() == []
    assert env.sync().counts == {}  # nothing left


def test_duplicated_notifications_make_one_dossier_each(any_env: Env, etatcivil: Subscription) -> None:
    env, world = any_env, any_env.world
    env.add(NAME, etatcivil)
    cases = [world.seed_one() for _ in range(3)]
    world.faults.duplicate_notifications = True
    outcome = env.sync()
    assert outcome.is_ok and outcome.counts["imported"] == 3
    assert len(env.dossiers()) == 3
    for case in cases:
        assert [s for s, _ in our_events(world, case.id)] == ["SI_RECEIVED"]
    assert world.queue() == []


def test_event_before_its_case_imports_the_case_first(env: Env, etatcivil: Subscription) -> None:
    world = env.world
    env.add(NAME, etatcivil, notifications_batch=1)
    case = world.seed_one()
    world.osl_event(case.id, "SENDING_MESSAGE", message="Bonjour")
    # the queue has no order (research §7): the event's notification comes first
    first = next(iter(world.state.notifications))
    world.state.notifications[first] = world.state.notifications.pop(first)
    outcome = env.sync()
    assert outcome.counts == {"events": 1, "duplicate": 1, "returns_sent": 1}
    [dossier] = env.dossiers()
    assert [j.kind for j in dossier.journal if j.kind == "message"] == ["message"]
    assert [s for s, _ in our_events(world, case.id)] == ["SI_RECEIVED"]
    assert world.queue() == []


def test_shuffled_queue(any_env: Env, etatcivil: Subscription) -> None:
    env, world = any_env, any_env.world
    env.add(NAME, etatcivil, notifications_batch=2)
    cases = [world.seed_one() for _ in range(4)]
    for case in cases[:2]:
        world.osl_event(case.id, "SENDING_MESSAGE", message="Précision")
    world.faults.shuffle_notifications = True
    assert env.sync().is_ok
    assert len(env.dossiers()) == 4
    assert sum(1 for d in env.dossiers() for j in d.journal if j.kind == "message") == 2
    assert world.queue() == []


def test_two_demarches_share_a_queue(any_env: Env) -> None:
    env, world = any_env, any_env.world
    env.add("etatcivil", world.add_subscription("EtatCivil"))
    env.add("recensement", world.add_subscription("recensementCitoyen"))
    aec = world.seed_sample("ETATCIVIL")
    rco = world.seed_sample("RECENSEMENTCITOYEN")
    assert env.sync("etatcivil").counts == {"imported": 1, "returns_sent": 1}
    assert [d.procedure for d in env.dossiers()] == ["EtatCivil"]
    waiting = world.queue()
    assert len(waiting) == 1 and world.state.notifications[waiting[0]].case_id == rco.id
    assert env.sync("recensement").counts == {"imported": 1, "returns_sent": 1}
    assert {d.connector: d.procedure for d in env.dossiers()} == {
        "etatcivil": "EtatCivil",
        "recensement": "recensementCitoyen",
    }
    assert world.case(aec.id).status == world.case(rco.id).status == "SI_RECEIVED"
    assert world.queue() == []


class IgnoresProcessCode(httpx.BaseTransport):
    """A platform that lists the whole shared queue whatever ``processCode`` says."""

    def __init__(self, world: FakeHubee) -> None:
        self.world = world

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_remove_param("processCode")
        return self.world(request)


def test_notifications_of_another_demarche_are_never_deleted(env: Env) -> None:
    world = env.world
    env.transport = lambda: IgnoresProcessCode(world)
    env.add(NAME, world.add_subscription("EtatCivil"))
    world.add_subscription("recensementCitoyen")
    world.seed_sample("RECENSEMENTCITOYEN")
    world.seed_one()
    outcome = env.sync()
    assert outcome.counts == {"foreign": 1, "imported": 1, "returns_sent": 1}
    [left] = world.queue()
    assert world.state.notifications[left].process_code == "recensementCitoyen"
    assert not [p for m, p in requests_log(world) if m == "DELETE" and p.endswith(left)]


def test_crash_between_storing_and_deleting_makes_no_duplicate(any_env: Env, etatcivil: Subscription) -> None:
    env, world = any_env, any_env.world
    channel = env.add(NAME, etatcivil)
    case = world.seed_one()
    world.faults.purge_on_status = "SI_RECEIVED"  # HubEE purges the files after the status: no second chance

    def crash(_stored: str) -> None:
        raise OSError("power cut")

    channel.on_stored = crash
    outcome = env.sync()
    assert outcome.outcome == "failed" and "power cut" in (outcome.error or "")
    assert len(env.dossiers()) == 1 and len(world.queue()) == 1
    assert our_events(world, case.id) == []  # nothing told before the dossier was safe

    channel.on_stored = lambda _stored: None
    outcome = env.sync()
    assert outcome.is_ok and outcome.counts["duplicate"] == 1
    assert len(env.dossiers()) == 1
    assert [s for s, _ in our_events(world, case.id)] == ["SI_RECEIVED"]
    assert world.queue() == []


def test_lost_delete_answer_sends_no_second_status(env: Env, etatcivil: Subscription) -> None:
    assert env.wire is not None
    env.add(NAME, etatcivil)
    case = env.world.seed_one()
    env.wire.cut(
        "/teledossiers/v1/notifications/", httpx.ReadError("reset"), times=5, method="DELETE", after=True
    )
    assert env.sync().outcome == "failed"
    assert env.world.queue() == []  # deleted, but we never heard it
    assert env.sync().is_ok
    assert [s for s, _ in our_events(env.world, case.id)] == ["SI_RECEIVED"]
    assert len(env.dossiers()) == 1


def test_unknown_recipient_is_held_and_journaled_once(env: Env) -> None:
    world = env.world
    paris = OrgId("SI", "21750001600019", "75056")
    env.add(NAME, world.add_subscription("EtatCivil", paris))
    world.seed_one(recipient=paris)
    first, second = env.sync(), env.sync()
    assert first.is_ok and first.counts == {"held": 1, "errors": 1}
    assert "aucune organisation configurée" in first.errors[0]
    assert second.counts == {"held": 1, "errors": 1}
    assert len(env.journal("rejected")) == 1
    assert len(world.queue(paris)) == 1 and env.dossiers() == []


def test_connector_default_organisation_routes_an_unknown_recipient(env: Env) -> None:
    world = env.world
    paris = OrgId("SI", "21750001600019", "75056")
    env.add(NAME, world.add_subscription("EtatCivil", paris), organisation="cannes")
    world.seed_one(recipient=paris)
    assert env.sync().counts["imported"] == 1
    assert env.dossiers()[0].organisation_id == "cannes"


def test_returns_follow_the_canonical_statuses(any_env: Env) -> None:
    env, world = any_env, any_env.world
    env.add("rco", world.add_subscription("recensementCitoyen"))
    case = world.seed_sample("RECENSEMENTCITOYEN")
    env.sync("rco")
    [dossier] = env.dossiers()
    for code, comment in ((16, ""), (17, "Merci d'envoyer un justificatif de domicile.")):
        env.store.statuses.set(dossier.id, code, comment, AGENT, None)
        assert env.sync("rco").counts.get("returns_sent") == 1
    env.store.statuses.set(dossier.id, 20, "Dossier incomplet.", AGENT, None)
    assert env.sync("rco").counts.get("returns_sent") == 2  # and the automatic closure: nothing to tell
    assert our_events(world, case.id) == [
        ("SI_RECEIVED", "Votre demande a été reçue par le service instructeur."),
        ("IN_PROGRESS", "Votre demande est en cours de traitement."),
        ("ADD_AWAITING", "Merci d'envoyer un justificatif de domicile."),
        ("REFUSED", "Dossier incomplet."),
    ]
    events = world.case(case.id).events
    assert {e.author for e in events} == {"COMMUNE DE NICE"}
    assert {e.partner_info.software_version for e in events if e.partner_info} == {"9.9.9"}
    assert env.store.dossiers.get(dossier.id, None).status == 100


def test_return_refused_by_the_workflow_is_dead_with_the_reason(env: Env, etatcivil: Subscription) -> None:
    env.add(NAME, etatcivil)
    env.world.seed_one()
    env.sync()
    [dossier] = env.dossiers()
    env.store.statuses.set(dossier.id, 16, "", AGENT, None)
    env.sync()
    env.store.statuses.set(dossier.id, 17, "Pièce manquante", AGENT, None)  # no ADD_AWAITING for EtatCivil
    outcome = env.sync()
    assert outcome.is_ok and outcome.counts["returns_dead"] == 1
    [dead] = env.store.outbox.list(states=("dead",))
    assert "ADD_AWAITING is not allowed for EtatCivil" in (dead.last_error or "")
    assert "ADD_AWAITING" in (dead.last_error or "")


def test_return_whose_answer_was_lost_makes_one_event(env: Env, etatcivil: Subscription) -> None:
    assert env.wire is not None
    env.add(NAME, etatcivil)
    case = env.world.seed_one()
    env.sync()
    [dossier] = env.dossiers()
    env.store.statuses.set(dossier.id, 16, "En cours", AGENT, None)
    events = f"/teledossiers/v1/cases/{case.id}/events"
    env.wire.cut(events, httpx.ReadTimeout("lost"), times=1, method="POST", after=True)
    outcome = env.sync()
    assert outcome.counts.get("returns_sent") == 1
    assert [s for s, _ in our_events(env.world, case.id)] == ["SI_RECEIVED", "IN_PROGRESS"]


def test_return_retried_by_the_outbox_makes_one_event(env: Env, etatcivil: Subscription) -> None:
    assert env.wire is not None
    env.add(NAME, etatcivil, retries=1)
    case = env.world.seed_one()
    env.sync()
    [dossier] = env.dossiers()
    env.store.statuses.set(dossier.id, 16, "En cours", AGENT, None)
    events = f"/teledossiers/v1/cases/{case.id}/events"
    env.wire.cut(events, httpx.ReadTimeout("lost"), times=1, method="POST", after=True)
    assert env.sync().counts.get("returns_retry") == 1
    env.clock.advance(3600)
    assert env.sync().counts.get("returns_sent") == 1
    assert [s for s, _ in our_events(env.world, case.id)] == ["SI_RECEIVED", "IN_PROGRESS"]


def test_closing_straight_away_tells_done(env: Env, etatcivil: Subscription) -> None:
    env.add(NAME, etatcivil)
    case = env.world.seed_one()
    env.sync()
    [dossier] = env.dossiers()
    env.store.statuses.set(dossier.id, 100, "Demande en double, close.", AGENT, None)
    assert env.sync().counts.get("returns_sent") == 1
    assert our_events(env.world, case.id)[-1] == ("DONE", "Demande en double, close.")


def test_credentials_refused_fail_the_run_and_keep_returns(env: Env, etatcivil: Subscription) -> None:
    env.add(NAME, etatcivil)
    env.world.seed_one()
    env.sync()
    [dossier] = env.dossiers()
    env.store.statuses.set(dossier.id, 16, "", AGENT, None)
    env.world.fail_next("/oauth2/token", 401, times=10)
    env.world.faults.expire_tokens()
    outcome = env.sync()
    assert outcome.outcome == "failed" and "jeton" in (outcome.error or "")
    assert env.store.outbox.list(states=("pending",))


def test_minimal_status_can_be_in_progress_or_nothing(env: Env, etatcivil: Subscription) -> None:
    env.add(NAME, etatcivil, status_minimal="IN_PROGRESS")
    case = env.world.seed_one()
    assert env.sync().is_ok
    assert [s for s, _ in our_events(env.world, case.id)] == ["IN_PROGRESS"]  # 14 needs nothing more
    env.add("silent", env.world.add_subscription("JeChangeDeCoordonnees"), status_minimal=None)
    other = env.world.seed_sample("JECHANGEDECOORDONNEES")
    assert env.sync("silent").counts == {"imported": 1, "returns_sent": 1}
    assert [s for s, _ in our_events(env.world, other.id)] == ["SI_RECEIVED"]  # told by the return of 14


def test_files_only_mode_deposits_safe_names_and_metadata(any_env: Env, etatcivil: Subscription) -> None:
    env, world = any_env, any_env.world
    env.add(NAME, etatcivil, deposit_dir="depot", files_only=True, status_maximal="DONE")
    files = [
        SeedFile("ActeEtatCivil-XML.xml", "ActeEtatCivil-XML", "application/xml", b"<a/>"),
        SeedFile("../../etc/passwd", "X", "text/plain", b"one"),
        SeedFile("scan.pdf", "PJ", "application/pdf", b"two"),
        SeedFile("sous/dossier/scan.pdf", "PJ", "application/pdf", b"three"),
        SeedFile("SCAN.PDF", "PJ", "application/pdf", b"four"),
        SeedFile("metadata.json", "X", "application/json", b"{}"),
        SeedFile("CON.txt", "X", "text/plain", b"five"),
    ]
    case = world.create_teledossier("EtatCivil", files, external_id="DILA/AEC:..42")
    outcome = env.sync()
    assert outcome.counts == {"imported": 1}
    assert env.dossiers() == []
    folder = env.tmp_path / "depot" / "DILA_AEC..42-01"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        [
            "ActeEtatCivil-XML.xml",
            "passwd",
            "scan.pdf",
            "scan.1.pdf",
            "SCAN.2.PDF",
            "metadata.1.json",
            "_CON.txt",
            "metadata.json",
        ]
    )
    assert (folder / "scan.1.pdf").read_bytes() == b"three"
    import json

    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["hubee"]["case_id"] == case.id and meta["hubee"]["external_id"] == "DILA/AEC:..42-01"
    assert {f["name"]: f["file_name"] for f in meta["files"]}["passwd"] == "../../etc/passwd"
    assert all(
        f["sha256"] == hashlib.sha256((folder / f["name"]).read_bytes()).hexdigest() for f in meta["files"]
    )
    assert [s for s, _ in our_events(world, case.id)] == ["SI_RECEIVED", "DONE"]  # the seed's min and max
    assert not list(folder.glob(".*"))  # no temporary file left

    world.osl_event(case.id, "ATTACH_DEPOSIT", files=[SeedFile("scan.pdf", "PJ", "application/pdf", b"six")])
    world.osl_event(case.id, "SENDING_MESSAGE", message="Voici le complément")
    assert env.sync().counts == {"updated": 1, "events": 1}
    meta = json.loads((folder / "metadata.json").read_text())
    assert (folder / "scan.3.pdf").read_bytes() == b"six"
    assert [e["action_type"] for e in meta["events"]] == ["ATTACH_DEPOSIT", "SENDING_MESSAGE"]
    assert env.sync().counts == {}
    assert len(list(folder.iterdir())) == len(names) + 1


def test_deposit_beside_the_dossiers(env: Env, etatcivil: Subscription) -> None:
    env.add(NAME, etatcivil, deposit_dir=str(env.tmp_path / "ged"))
    case = env.world.seed_one()
    env.sync()
    [dossier] = env.dossiers()
    folder = env.tmp_path / "ged" / case.external_id
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [d.name for d in dossier.documents] + ["metadata.json"]
    )


def test_attachment_memory_does_not_grow_with_its_size(
    env: Env, etatcivil: Subscription, tmp_path: Path
) -> None:
    big = tmp_path / "big.pdf"
    block = bytes(range(256)) * 4096
    with big.open("wb") as f:
        for _ in range(48):  # 48 MiB, served by chunks from the file
            f.write(block)
    env.add(NAME, etatcivil)
    env.world.create_teledossier("EtatCivil", [SeedFile("big.pdf", "PJ", "application/pdf", big)])
    outcome, peak = traced_peak(env.sync)
    assert outcome.counts["imported"] == 1
    assert peak < 8 * 1024 * 1024, peak
    [doc] = env.dossiers()[0].documents
    assert doc.size_bytes == 48 * len(block)


def test_a_run_stops_when_asked(env: Env, etatcivil: Subscription) -> None:
    channel = env.add(NAME, etatcivil, workers=1)
    for _ in range(3):
        env.world.seed_one()
    stopping = threading.Event()
    seen: list[str] = []

    def stop_after_first(stored: str) -> None:
        seen.append(stored)
        stopping.set()

    channel.on_stored = stop_after_first
    ctx = RunContext(connector=NAME, run_id=0, report=RunReport(), stopping=stopping)
    channel.run(ctx)
    assert len(seen) == 1 and len(env.world.queue()) == 2


def test_health_names_an_unusable_deposit(env: Env, etatcivil: Subscription) -> None:
    assert env.add(NAME, etatcivil, deposit_dir=str(env.tmp_path / "not" / "yet" / "there")).check().is_ok
    blocker = env.tmp_path / "a-file"
    blocker.write_text("")
    health = env.add("other", etatcivil, deposit_dir=str(blocker)).check()
    assert not health.is_ok and "n'est pas un dossier" in health.detail
