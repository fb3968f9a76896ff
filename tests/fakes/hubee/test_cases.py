"""Cases, attachments, status changes and events on the subscriber's side."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx
import pytest

from aiguilleur.fakes.hubee import FakeHubee, SeedFile
from tests.conftest import Clock
from tests.fakes.hubee.conftest import Api


def test_case_carries_metadata_attachments_and_events(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_sample("ETATCIVIL")
    body = si.get(f"/cases/{case.id}").json()
    assert body["status"] == "HUBEE_NOTIFIED"
    assert body["processCode"] == "EtatCivil"
    assert body["externalId"].startswith("DILA-AEC-") and body["externalId"].endswith("-01")
    assert body["applicant"]["lastName"] == "L'heritier"
    assert [(a["fileName"], a["type"], a["mimeType"], a["status"]) for a in body["attachments"]] == [
        ("ActeEtatCivil-XML.xml", "ActeEtatCivil-XML", "application/xml", "RECEIVED"),
        ("ActeEtatCivil-PDF.pdf", "ActeEtatCivil-PDF", "application/pdf", "RECEIVED"),
    ]
    assert body["events"] == []


def test_lite_case_leaves_out_attachments_and_events(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    body = si.get(f"/cases/{case.id}", params={"lite": "true"}).json()
    assert body["id"] == case.id
    assert "attachments" not in body and "events" not in body


def test_attachment_download_is_the_file_with_its_digest(hubee: FakeHubee, http: httpx.Client) -> None:
    si = Api(http, hubee.add_subscription("depotDossierPACS"))
    case = hubee.seed_sample("DEPOTDOSSIERPACS")
    for att in si.get(f"/cases/{case.id}").json()["attachments"]:
        response = si.get(f"/cases/{case.id}/attachments/{att['id']}")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert len(response.content) == att["size"] == int(response.headers["Content-Length"])
        expected = base64.b64encode(hashlib.sha256(response.content).digest()).decode()
        assert response.headers["digest"] == expected
        assert len(expected) == 44


def test_big_attachment_from_a_file_is_streamed(hubee: FakeHubee, si: Api, tmp_path: Path) -> None:
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF" + bytes(range(256)) * 4096)
    case = hubee.create_teledossier("EtatCivil", [SeedFile("big.pdf", "PJ", "application/pdf", big)])
    att = case.attachments[0]
    with si.client.stream(
        "GET", f"/teledossiers/v1/cases/{case.id}/attachments/{att.id}", headers=si.headers()
    ) as response:
        data = b"".join(response.iter_bytes())
    assert data == big.read_bytes()
    assert response.headers["digest"] == base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_status_events_move_the_case_and_record_partner_info(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    created = si.status_event(case.id, "SI_RECEIVED", comment="intégré")
    assert created.status_code == 201
    event = created.json()
    assert (event["status"], event["caseCurrentStatus"], event["caseNewStatus"]) == (
        "SENT",
        "HUBEE_NOTIFIED",
        "SI_RECEIVED",
    )
    assert event["transmitter"]["companyRegister"] == "21060088800015"
    assert event["partnerInfo"] == {
        "editorName": "COMMUNE DE NICE",
        "applicationName": "aiguilleur",
        "softwareVersion": "0.1.0",
    }
    assert si.status_event(case.id, "IN_PROGRESS").status_code == 201
    assert si.status_event(case.id, "DONE", message="Votre acte a été envoyé").status_code == 201
    body = si.get(f"/cases/{case.id}").json()
    assert body["status"] == "DONE"
    assert [e["caseNewStatus"] for e in body["events"]] == ["SI_RECEIVED", "IN_PROGRESS", "DONE"]


def test_legacy_patch_then_event_is_accepted(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    assert si.patch(f"/cases/{case.id}", json={"status": "IN_PROGRESS"}).status_code == 204
    assert si.status_event(case.id, "IN_PROGRESS", caseCurrentStatus="HUBEE_NOTIFIED").status_code == 201
    assert hubee.case(case.id).status == "IN_PROGRESS"


def test_patch_case_with_post_needs_the_override_header(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    assert si.post(f"/cases/{case.id}", json={"status": "SI_RECEIVED"}).status_code == 405
    overridden = si.post(
        f"/cases/{case.id}", json={"status": "SI_RECEIVED"}, headers={"X-HTTP-Method-Override": "PATCH"}
    )
    assert overridden.status_code == 204
    assert hubee.case(case.id).status == "SI_RECEIVED"


@pytest.mark.parametrize(
    ("path", "target", "allowed"),
    [
        pytest.param([], "SI_RECEIVED", True, id="notified-to-si-received"),
        pytest.param([], "IN_PROGRESS", True, id="notified-to-in-progress"),
        pytest.param([], "REFUSED", True, id="notified-to-refused"),
        pytest.param([], "SI_INTG_ERROR", True, id="notified-to-integration-error"),
        pytest.param([], "DONE", False, id="notified-to-done-skips-too-far"),
        pytest.param([], "CLOSED", False, id="closed-is-for-the-sender"),
        pytest.param([], "HUBEE_COMPLETED", False, id="hub-status"),
        pytest.param([], "WHATEVER", False, id="unknown"),
        pytest.param(["SI_RECEIVED", "IN_PROGRESS", "DONE"], "IN_PROGRESS", False, id="no-way-back"),
        pytest.param(["SI_RECEIVED", "IN_PROGRESS"], "ADD_AWAITING", False, id="awaiting-not-for-etat-civil"),
        pytest.param(["SI_RECEIVED", "IN_PROGRESS", "DONE"], "DONE", True, id="same-status-again"),
    ],
)
def test_status_transitions(hubee: FakeHubee, si: Api, path: list[str], target: str, allowed: bool) -> None:
    case = hubee.seed_one()
    for status in path:
        assert si.status_event(case.id, status).status_code == 201
    response = si.status_event(case.id, target)
    assert response.status_code == (201 if allowed else 400), response.text
    assert hubee.case(case.id).status == (target if allowed else (path[-1] if path else "HUBEE_NOTIFIED"))
    if not allowed:
        assert response.json()["errors"][0]["code"] == 400


def test_add_awaiting_is_allowed_where_the_demarche_allows_it(hubee: FakeHubee, http: httpx.Client) -> None:
    rco = Api(http, hubee.add_subscription("recensementCitoyen"))
    case = hubee.seed_sample("RECENSEMENTCITOYEN")
    for status in ("SI_RECEIVED", "IN_PROGRESS", "ADD_AWAITING"):
        assert rco.status_event(case.id, status).status_code == 201


def test_lenient_world_accepts_any_subscriber_status(clock: Clock) -> None:
    world = FakeHubee(now=clock, strict_transitions=False)
    sub = world.add_subscription("EtatCivil")
    case = world.seed_one()
    with httpx.Client(transport=httpx.MockTransport(world), base_url="https://x") as client:
        api = Api(client, sub)
        assert api.status_event(case.id, "DONE").status_code == 201
        assert api.status_event(case.id, "SENT").status_code == 201
        assert api.status_event(case.id, "CLOSED").status_code == 400  # still the sender's


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(
            {"notification": True}, 'missing required properties (["actionType"])', id="no-action-type"
        ),
        pytest.param(
            {"actionType": "STATUS_UPDATE"},
            'missing required properties (["notification"])',
            id="no-notification",
        ),
        pytest.param(
            {"actionType": "STATUS_UPDATE", "notification": "yes"},
            'allowed: ["boolean"]',
            id="notification-type",
        ),
        pytest.param(
            {"actionType": "DANCE", "notification": True}, "unknown actionType", id="unknown-action"
        ),
        pytest.param(
            {"actionType": "SENDING_MESSAGE", "notification": True, "message": "x" * 1001},
            "too long",
            id="long-message",
        ),
        pytest.param(
            {"actionType": "ATTACH_DEPOSIT", "notification": True},
            "needs attachments",
            id="deposit-without-files",
        ),
        pytest.param(
            {
                "actionType": "SENDING_MESSAGE",
                "notification": True,
                "attachments": [
                    {"fileName": "a.pdf", "type": "PJ", "size": 1, "mimeType": "application/pdf"}
                ],
            },
            "takes no attachment",
            id="message-with-files",
        ),
    ],
)
def test_event_creation_is_validated(
    hubee: FakeHubee, si: Api, body: dict[str, object], fragment: str
) -> None:
    case = hubee.seed_one()
    response = si.post(f"/cases/{case.id}/events", json=body)
    assert response.status_code == 400
    assert fragment in response.json()["errors"][0]["message"]


def test_event_body_must_be_json(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    response = si.post(
        f"/cases/{case.id}/events", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "Unable to parse JSON" in response.json()["errors"][0]["message"]


def test_subscriber_deposit_needs_uploads_of_the_declared_size_before_release(
    hubee: FakeHubee, si: Api
) -> None:
    case = hubee.seed_one()
    for status in ("SI_RECEIVED", "IN_PROGRESS"):
        si.status_event(case.id, status)
    attestation = b"%PDF-1.4 attestation"
    created = si.post(
        f"/cases/{case.id}/events",
        json={
            "actionType": "ATTACH_DEPOSIT",
            "notification": True,
            "caseNewStatus": "DONE",
            "attachments": [
                {
                    "fileName": "attestation.pdf",
                    "type": "ATT",
                    "size": len(attestation),
                    "mimeType": "application/pdf",
                }
            ],
        },
    ).json()
    event_id, att_id = created["id"], created["attachments"][0]["id"]
    assert (created["status"], created["attachments"][0]["status"]) == ("IN_PROGRESS", "PENDING")
    assert si.patch(f"/cases/{case.id}/events/{event_id}", json={"status": "SENT"}).status_code == 400
    url = f"/cases/{case.id}/events/{event_id}/attachments/{att_id}"
    assert si.put(url, content=attestation[:-1]).status_code == 400
    assert si.put(url, content=attestation, headers={"digest": "AAAA"}).status_code == 400
    digest = base64.b64encode(hashlib.sha256(attestation).digest()).decode()
    assert si.put(url, content=attestation, headers={"digest": digest}).status_code == 204
    assert si.patch(f"/cases/{case.id}/events/{event_id}", json={"status": "SENT"}).status_code == 204
    assert si.get(f"/cases/{case.id}/events/{event_id}").json()["status"] == "SENT"
    assert hubee.case(case.id).status == "DONE"


def test_subscriber_deposit_refused_where_si_formats_are_not_enabled(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    hubee.faults.no_si_attachments.add("EtatCivil")
    declared = {"fileName": "a.pdf", "type": "ATT", "size": 3, "mimeType": "application/pdf"}
    body = {"actionType": "ATTACH_DEPOSIT", "notification": True, "caseNewStatus": "SI_RECEIVED"}
    refused = si.post(f"/cases/{case.id}/events", json={**body, "attachments": [declared]})
    assert refused.status_code == 400
    assert "not enabled for process EtatCivil" in refused.json()["errors"][0]["message"]
    assert (hubee.case(case.id).status, hubee.case(case.id).events) == ("HUBEE_NOTIFIED", [])


def test_large_upload_is_kept_out_of_memory(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    content = bytes(range(256)) * 8 * 1024  # 2 MiB: beyond what the platform keeps in memory
    declared = {"fileName": "a.pdf", "type": "ATT", "size": len(content), "mimeType": "application/pdf"}
    body = {"actionType": "ATTACH_DEPOSIT", "notification": True, "attachments": [declared]}
    created = si.post(f"/cases/{case.id}/events", json=body).json()
    url = f"/cases/{case.id}/events/{created['id']}/attachments/{created['attachments'][0]['id']}"
    assert si.put(url, content=content).status_code == 204
    [att] = hubee.case(case.id).events[0].attachments
    assert att.blob is not None and att.blob.data is None and att.blob.file is not None
    assert si.get(url).content == content


def test_sender_messages_and_closing_reach_the_subscriber(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    for status in ("SI_RECEIVED", "IN_PROGRESS", "DONE"):
        si.status_event(case.id, status)
    hubee.osl_event(case.id, "SENDING_MESSAGE", message="Bien reçu")
    hubee.osl_event(case.id, "STATUS_UPDATE", case_new_status="CLOSED")
    hubee.osl_event(case.id, "ATTACH_DEPOSIT", files=[SeedFile("c.pdf", "PJ", "application/pdf", b"%PDF c")])
    notes = [n for n in si.notifications(eventDetails="true") if n["eventId"]]
    assert [(n["eventActionType"], n["eventStatus"]) for n in notes] == [
        ("SENDING_MESSAGE", "SENT"),
        ("STATUS_UPDATE", "SENT"),
        ("ATTACH_DEPOSIT", "SENT"),
    ]
    assert hubee.case(case.id).status == "CLOSED"
    deposit = si.get(f"/cases/{case.id}/events/{notes[2]['eventId']}").json()
    att = deposit["attachments"][0]
    downloaded = si.get(f"/cases/{case.id}/events/{deposit['id']}/attachments/{att['id']}")
    assert downloaded.content == b"%PDF c"


def test_acknowledging_is_for_the_recipient_and_idempotent(hubee: FakeHubee, si: Api) -> None:
    case = hubee.seed_one()
    own = si.status_event(case.id, "SI_RECEIVED").json()["id"]
    assert si.patch(f"/cases/{case.id}/events/{own}", json={"status": "RECEIVED"}).status_code == 400
    incoming = hubee.osl_event(case.id, "SENDING_MESSAGE", message="?")
    for _ in range(2):
        assert (
            si.patch(f"/cases/{case.id}/events/{incoming.id}", json={"status": "RECEIVED"}).status_code == 204
        )
    assert si.patch(f"/cases/{case.id}/events/{incoming.id}", json={"status": "LU"}).status_code == 400
    to_sender = [
        n
        for n in hubee.state.notifications.values()
        if n.recipient == hubee.osl and n.event_id == incoming.id
    ]
    assert len(to_sender) == 1
