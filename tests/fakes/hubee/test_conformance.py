"""Every answer of the fake HubEE conforms to the official OpenAPI (api_folder_v1.2.7.yaml).

One scenario drives every operation the fake implements, on both sides (sender and subscriber), with
successes and documented errors; each response is checked against its operation's schema.
"""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

from aiguilleur.fakes.hubee import FakeHubee
from tests.fakes.hubee.conftest import Api
from tests.fakes.hubee.openapi import OpenApi

# eventDetails=true adds these two fields, documented by DINUM's 2024 contract, not by the 1.2.7 file.
NOTIFICATION_EXTRAS = frozenset({"eventActionType", "eventStatus"})
NOT_IN_OPENAPI = {401, 429, 503}  # gateway answers (WSO2), checked in test_token.py / test_faults.py

XML = b'<?xml version="1.0" encoding="UTF-8"?><EnveloppeMetierType><DemandeActe/></EnveloppeMetierType>'
PDF = b"%PDF-1.4\n%%EOF\n"


def b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def folder_body(recipient: dict[str, str], external_id: str = "DILA-AEC-0000000000042") -> dict[str, object]:
    return {
        "processCode": "EtatCivil",
        "externalId": external_id,
        "applicant": {"firstName": "Camille", "lastName": "MARTIN", "email": "camille@example.org"},
        "cases": [{"externalId": f"{external_id}-01", "recipient": dict(recipient)}],
        "attachments": [
            {
                "fileName": "demande.xml",
                "type": "ActeEtatCivil-XML",
                "size": len(XML),
                "mimeType": "application/xml",
                "recipients": [f"{external_id}-01"],
            },
            {
                "fileName": "demande.pdf",
                "type": "ActeEtatCivil-PDF",
                "size": len(PDF),
                "mimeType": "application/pdf",
                "recipients": [f"{external_id}-01"],
            },
        ],
    }


def run_full_scenario(hubee: FakeHubee, si: Api, osl: Api) -> None:
    """Sender creates and completes a télédossier; subscriber pulls, downloads, changes statuses, sends
    and acknowledges events; plus the documented errors. Asserts the statuses along the way."""
    nice = {"type": "SI", "companyRegister": "21060088800015", "branchCode": "06088"}
    # sender side
    created = osl.post("/folders", json=folder_body(nice))
    assert created.status_code == 201, created.text
    folder = created.json()
    assert osl.get(f"/folders/{folder['id']}").status_code == 200
    for att, data in zip(folder["attachments"], (XML, PDF), strict=True):
        put = osl.put(
            f"/folders/{folder['id']}/attachments/{att['id']}",
            content=data,
            headers={"Content-Type": "application/octet-stream", "digest": b64sha(data)},
        )
        assert put.status_code == 204, put.text
    assert osl.post("/folders", json={"processCode": "EtatCivil"}).status_code == 400
    assert osl.post(f"/folders/{folder['id']}", json={"globalStatus": "HUBEE_COMPLETED"}).status_code == 405
    done = osl.post(
        f"/folders/{folder['id']}",
        json={"globalStatus": "HUBEE_COMPLETED"},
        headers={"X-HTTP-Method-Override": "PATCH"},
    )
    assert done.status_code == 204, done.text
    assert osl.get(f"/folders/{folder['id']}").json()["globalStatus"] == "HUBEE_NOTIFIED"
    assert osl.get("/folders/00000000-0000-4000-8000-000000000000").status_code == 404
    assert si.get(f"/folders/{folder['id']}").status_code == 403
    # subscriber side: notification, case, binaries
    [note] = si.notifications(maxResult=25, eventDetails="true")
    assert si.notifications() != []
    assert si.get("/notifications", params={"maxResult": "many"}).status_code == 400
    case_id = note["caseId"]
    case = si.get(f"/cases/{case_id}").json()
    assert si.get(f"/cases/{case_id}", params={"lite": "true"}).status_code == 200
    assert si.get("/cases/not-a-uuid").status_code == 400
    assert si.get("/cases/00000000-0000-4000-8000-000000000000").status_code == 404
    for att in case["attachments"]:
        assert si.get(f"/cases/{case_id}/attachments/{att['id']}").status_code == 200
    assert si.get(f"/cases/{case_id}/attachments/00000000-0000-4000-8000-000000000000").status_code == 404
    # statuses: legacy PATCH, then events
    assert si.patch(f"/cases/{case_id}", json={"status": "SI_RECEIVED"}).status_code == 204
    assert si.patch(f"/cases/{case_id}", json={"status": "CLOSED"}).status_code == 400
    assert si.patch("/cases/00000000-0000-4000-8000-000000000000", json={"status": "DONE"}).status_code == 404
    event = si.status_event(case_id, "SI_RECEIVED", caseCurrentStatus="HUBEE_NOTIFIED")
    assert event.status_code == 201, event.text
    assert si.status_event(case_id, "HUBEE_RECEIVED").status_code == 400
    assert si.get(f"/cases/{case_id}/events/{event.json()['id']}").status_code == 200
    assert si.get(f"/cases/{case_id}/events/00000000-0000-4000-8000-000000000000").status_code == 404
    assert si.delete(f"/notifications/{note['id']}").status_code == 204
    assert si.delete(f"/notifications/{note['id']}").status_code == 404
    assert si.delete("/notifications/dddddd").status_code == 400
    # the sender sees the event, acknowledges it, which echoes back to the subscriber
    [to_osl] = osl.notifications(eventDetails="true")
    assert osl.get(f"/cases/{case_id}/events/{to_osl['eventId']}").status_code == 200
    assert (
        osl.patch(f"/cases/{case_id}/events/{to_osl['eventId']}", json={"status": "RECEIVED"}).status_code
        == 204
    )
    assert osl.delete(f"/notifications/{to_osl['id']}").status_code == 204
    [echo] = si.notifications(eventDetails="true")
    assert echo["eventStatus"] == "RECEIVED"
    assert si.delete(f"/notifications/{echo['id']}").status_code == 204
    # the sender deposits a file (declare, upload, release), the subscriber downloads and acknowledges
    deposit = osl.post(
        f"/cases/{case_id}/events",
        json={
            "actionType": "ATTACH_DEPOSIT",
            "notification": True,
            "author": "DILA",
            "attachments": [
                {"fileName": "complement.pdf", "type": "PJ", "size": len(PDF), "mimeType": "application/pdf"}
            ],
        },
    )
    assert deposit.status_code == 201, deposit.text
    dep, att_id = deposit.json()["id"], deposit.json()["attachments"][0]["id"]
    assert osl.put(f"/cases/{case_id}/events/{dep}/attachments/{att_id}", content=PDF).status_code == 204
    assert (
        osl.put(f"/cases/{case_id}/events/{dep}/attachments/{att_id}", content=PDF + b"x").status_code == 400
    )
    assert osl.patch(f"/cases/{case_id}/events/{dep}", json={"status": "SENT"}).status_code == 204
    [incoming] = si.notifications(eventDetails="true")
    assert incoming["eventActionType"] == "ATTACH_DEPOSIT"
    assert si.get(f"/cases/{case_id}/events/{dep}/attachments/{att_id}").status_code == 200
    assert (
        si.get(f"/cases/{case_id}/events/{dep}/attachments/00000000-0000-4000-8000-000000000000").status_code
        == 404
    )
    assert (
        si.post(
            f"/cases/{case_id}/events/{dep}",
            json={"status": "RECEIVED"},
            headers={"X-HTTP-Method-Override": "PATCH"},
        ).status_code
        == 204
    )
    assert si.patch(f"/cases/{case_id}/events/{dep}", json={"status": "SENT"}).status_code == 400
    # the subscriber starts a deposit and cancels it
    mine = si.post(
        f"/cases/{case_id}/events",
        json={
            "actionType": "ATTACH_DEPOSIT",
            "notification": True,
            "caseNewStatus": "IN_PROGRESS",
            "attachments": [
                {"fileName": "attestation.pdf", "type": "ATT", "size": 3, "mimeType": "application/pdf"}
            ],
        },
    )
    assert mine.status_code == 201, mine.text
    assert si.delete(f"/cases/{case_id}/events/{mine.json()['id']}").status_code == 204
    assert si.delete(f"/cases/{case_id}/events/{mine.json()['id']}").status_code == 404
    assert si.status_event(case_id, "DONE", message="Acte envoyé").status_code == 201
    # a folder still HUBEE_RECEIVED can be deleted
    spare = osl.post("/folders", json=folder_body(nice, "DILA-AEC-0000000000043")).json()
    assert osl.delete(f"/folders/{spare['id']}").status_code == 204
    assert osl.delete(f"/folders/{folder['id']}").status_code == 400


def test_every_answer_conforms_to_the_openapi(
    hubee: FakeHubee,
    si: Api,
    osl: Api,
    openapi: OpenApi,
    responses_seen: list[tuple[httpx.Request, httpx.Response]],
) -> None:
    run_full_scenario(hubee, si, osl)
    api_calls = [(q, r) for q, r in responses_seen if q.url.path.startswith(openapi.base)]
    operations = {openapi.operation(q.method, q.url.path)[1]["operationId"] for q, _ in api_calls}
    assert operations >= {
        "listNotification",
        "deleteNotification",
        "createFolder",
        "getFolderById",
        "updateFolderWithPost",
        "deleteFolder",
        "uploadFolderAttachment",
        "getCaseById",
        "updateCase",
        "downloadCaseAttachmentById",
        "createEvent",
        "getEventById",
        "updateEvent",
        "updateEventWithPost",
        "deleteEvent",
        "uploadEventAttachment",
        "downloadEventAttachmentById",
    }
    statuses = {r.status_code for _, r in api_calls}
    assert statuses >= {200, 201, 204, 400, 403, 404, 405}
    problems = []
    for request, response in api_calls:
        extra = NOTIFICATION_EXTRAS if request.url.path.endswith("/notifications") else frozenset()
        problems += openapi.check(request, response, extra)
    assert problems == []


def test_binary_answers_announce_the_digest_of_their_bytes(
    si: Api, osl: Api, hubee: FakeHubee, responses_seen: list[tuple[httpx.Request, httpx.Response]]
) -> None:
    run_full_scenario(hubee, si, osl)
    downloads = [
        r
        for q, r in responses_seen
        if q.method == "GET" and "/attachments/" in q.url.path and r.status_code == 200
    ]
    assert len(downloads) == 3
    for response in downloads:
        assert response.headers["digest"] == b64sha(response.content)
        assert int(response.headers["Content-Length"]) == len(response.content)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param({"id": "x"}, "missing required 'recipient'", id="missing-required"),
        pytest.param({"id": "not-a-uuid"}, "is not a uuid", id="bad-uuid"),
        pytest.param({"processCode": 7}, "expected a string", id="wrong-type"),
        pytest.param(
            {"eventId": "a66abb0c-52d1-4e50-9195-22526fb7ce92", "evenId": None},
            "'evenId' is not in the schema",
            id="misspelt-field",
        ),
        pytest.param({"dateTime": "2024-07-04T08:54:15"}, "has no offset", id="naive-date"),
        pytest.param({"processCode": "x" * 31}, "longer than 30", id="too-long"),
    ],
)
def test_the_checker_catches_a_wrong_notification(
    openapi: OpenApi, body: dict[str, object], problem: str
) -> None:
    schema = {"$ref": "#/components/schemas/Notification"}
    assert any(problem in p for p in openapi.errors(schema, body))


def test_the_checker_refuses_an_undocumented_status(openapi: OpenApi) -> None:
    request = httpx.Request("GET", "https://x/teledossiers/v1/notifications")
    with pytest.raises(AssertionError, match="status 418 is not documented"):
        openapi.check(request, httpx.Response(418))
