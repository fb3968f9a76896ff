"""The sender's side (folders, uploads, completion) and the sample télédossiers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from aiguilleur.fakes.hubee import SAMPLE_DEMARCHES, FakeHubee
from aiguilleur.fakes.hubee.samples import attachment_type_of, sample_files
from tests.fakes.hubee.conftest import CANNES, JDD, Api
from tests.fakes.hubee.test_conformance import PDF, XML, folder_body

NICE = {"type": "SI", "companyRegister": "21060088800015", "branchCode": "06088"}


def upload_all(osl: Api, folder: dict[str, object], contents: list[bytes]) -> None:
    attachments = folder["attachments"]
    assert isinstance(attachments, list)
    for att, data in zip(attachments, contents, strict=True):
        assert osl.put(f"/folders/{folder['id']}/attachments/{att['id']}", content=data).status_code == 204


def test_created_folder_waits_for_its_binaries(osl: Api) -> None:
    folder = osl.post("/folders", json=folder_body(NICE)).json()
    assert folder["globalStatus"] == "HUBEE_RECEIVED"
    assert [c["status"] for c in folder["cases"]] == ["HUBEE_RECEIVED"]
    assert {a["status"] for a in folder["attachments"]} == {"PENDING"}
    incomplete = osl.patch(f"/folders/{folder['id']}", json={"globalStatus": "HUBEE_COMPLETED"})
    assert incomplete.status_code == 400


def test_completing_a_folder_notifies_the_right_subscriber(
    hubee: FakeHubee, osl: Api, si: Api, http: httpx.Client
) -> None:
    cannes = Api(http, hubee.add_subscription("EtatCivil", CANNES))
    body = folder_body(NICE)
    folder = osl.post("/folders", json=body).json()
    upload_all(osl, folder, [XML, PDF])
    assert si.notifications() == []  # nothing before completion
    assert osl.patch(f"/folders/{folder['id']}", json={"globalStatus": "HUBEE_COMPLETED"}).status_code == 204
    [note] = si.notifications()
    assert note["caseId"] == folder["cases"][0]["id"]
    assert cannes.notifications() == []
    case = si.get(f"/cases/{note['caseId']}").json()
    assert case["status"] == "HUBEE_NOTIFIED"
    assert case["transmissionDateTime"] is not None
    assert [si.get(f"/cases/{case['id']}/attachments/{a['id']}").content for a in case["attachments"]] == [
        XML,
        PDF,
    ]


def test_a_folder_with_two_cases_notifies_both_recipients(
    hubee: FakeHubee, osl: Api, si: Api, http: httpx.Client
) -> None:
    cannes = Api(http, hubee.add_subscription("EtatCivil", CANNES))
    body = folder_body(NICE)
    body["cases"] = [
        {"externalId": "F-01", "recipient": NICE},
        {
            "externalId": "F-02",
            "recipient": {"type": "SI", "companyRegister": "21060029200012", "branchCode": "06029"},
        },
    ]
    body["attachments"] = [
        {
            "fileName": "a.xml",
            "type": "X",
            "size": len(XML),
            "mimeType": "application/xml",
            "recipients": ["F-01", "F-02"],
        },
        {
            "fileName": "b.pdf",
            "type": "P",
            "size": len(PDF),
            "mimeType": "application/pdf",
            "recipients": ["F-02"],
        },
    ]
    folder = osl.post("/folders", json=body).json()
    upload_all(osl, folder, [XML, PDF])
    osl.patch(f"/folders/{folder['id']}", json={"globalStatus": "HUBEE_COMPLETED"})
    [to_nice], [to_cannes] = si.notifications(), cannes.notifications()
    assert len(si.get(f"/cases/{to_nice['caseId']}").json()["attachments"]) == 1
    assert len(cannes.get(f"/cases/{to_cannes['caseId']}").json()["attachments"]) == 2


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        pytest.param(
            lambda b: b.pop("applicant"),
            'Object has missing required properties (["applicant"])',
            id="applicant",
        ),
        pytest.param(lambda b: b.update(cases=[]), "non-empty", id="no-case"),
        pytest.param(lambda b: b["cases"][0]["recipient"].update(companyRegister="123"), "regex", id="siret"),
        pytest.param(
            lambda b: b["attachments"][0].update(recipients=["nobody"]),
            "unknown attachment recipients",
            id="recipients",
        ),
        pytest.param(lambda b: b["attachments"][0].update(size="12"), 'allowed: ["integer"]', id="size-type"),
        pytest.param(lambda b: b.update(externalId="x" * 31), "too long", id="external-id"),
    ],
)
def test_folder_creation_is_validated(osl: Api, change: object, fragment: str) -> None:
    body = folder_body(NICE)
    assert callable(change)
    change(body)
    response = osl.post("/folders", json=body)
    assert response.status_code == 400
    assert fragment in response.json()["errors"][0]["message"]


def test_upload_of_the_wrong_size_is_rejected(osl: Api) -> None:
    folder = osl.post("/folders", json=folder_body(NICE)).json()
    att = folder["attachments"][0]
    assert osl.put(f"/folders/{folder['id']}/attachments/{att['id']}", content=XML + b" ").status_code == 400
    assert osl.get(f"/folders/{folder['id']}").json()["attachments"][0]["status"] == "REJECTED"
    assert osl.put(f"/folders/{folder['id']}/attachments/{att['id']}", content=XML).status_code == 204
    unknown = osl.put(
        f"/folders/{folder['id']}/attachments/00000000-0000-4000-8000-000000000000", content=XML
    )
    assert unknown.json() == {"errors": [{"code": 404, "message": "Binary meta-data is not found"}]}


def test_subscribers_cannot_use_the_sender_side(si: Api) -> None:
    assert si.post("/folders", json=folder_body(NICE)).status_code == 403


def test_a_sender_limited_to_some_demarches(hubee: FakeHubee, http: httpx.Client) -> None:
    osl = Api(http, hubee.add_osl_client(["recensementCitoyen"], client_id="osl-rco"))
    assert osl.post("/folders", json=folder_body(NICE)).status_code == 403


# --- samples -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ActeEtatCivil-XML.xml", "ActeEtatCivil-XML"),
        ("10870-PDF.pdf", "10870-PDF"),
        ("A-1-N8F602RR-recensementCitoyen-jf-1.pdf", "jf"),
        ("A-1-NGF8UV66-depotDossierPACS-anp-1.pdf", "anp"),
        ("15725-02.pdf", "15725-02"),
        ("flux-siv.xml", "flux-siv"),
        ("flux-siv.pdf", "flux-siv"),
        ("A-0-12SVIZTIW-certificat-non-pacs-doc-12819-PDF-1-2.pdf", "12819-PDF"),
        ("A-0-12SVIZTIW-certificat-non-pacs-doc-flux-1-2.xml", "flux"),
    ],
)
def test_attachment_types_follow_the_sample_names(name: str, expected: str) -> None:
    assert attachment_type_of(name) == expected


@pytest.mark.parametrize("folder", sorted(SAMPLE_DEMARCHES), ids=str)
def test_each_sample_demarche_is_seeded_for_its_subscriber(
    hubee: FakeHubee, http: httpx.Client, folder: str
) -> None:
    demarche = SAMPLE_DEMARCHES[folder]
    api = Api(http, hubee.add_subscription(demarche.process_code))
    case = hubee.seed_sample(folder)
    [note] = api.notifications(processCode=demarche.process_code)
    assert (note["caseId"], note["processCode"]) == (case.id, demarche.process_code)
    body = api.get(f"/cases/{case.id}").json()
    files = sample_files(JDD / folder)
    assert [(a["fileName"], a["type"], a["mimeType"], a["size"]) for a in body["attachments"]] == [
        (f.file_name, f.type, f.mime_type, f.path.stat().st_size) for f in files
    ]
    assert body["attachments"][0]["mimeType"] == "application/xml"  # the business file
    first = api.get(f"/cases/{case.id}/attachments/{body['attachments'][0]['id']}")
    assert first.content == files[0].path.read_bytes()


def test_load_samples_seeds_one_teledossier_per_demarche_folder(hubee: FakeHubee) -> None:
    cases = hubee.load_samples(JDD)
    assert sorted(c.process_code for c in cases) == sorted(d.process_code for d in SAMPLE_DEMARCHES.values())
    assert len(hubee.queue()) == len(SAMPLE_DEMARCHES)


def test_seed_sample_accepts_the_process_code(hubee: FakeHubee) -> None:
    assert hubee.seed_sample("recensementCitoyen").process_code == "recensementCitoyen"


def test_seed_sample_of_an_unknown_demarche_fails(hubee: FakeHubee) -> None:
    with pytest.raises(KeyError):
        hubee.seed_sample("SNATED")


def test_samples_need_a_folder(hubee: FakeHubee, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hubee.load_samples(tmp_path / "missing")
