"""Pure mapping between HubEE payloads and dossiers, and the configuration model."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from aiguilleur.config import OrganisationConfig
from aiguilleur.connectors.hubee import HubeeConfig, mapping, wire
from aiguilleur.connectors.hubee.client import digest_hex
from aiguilleur.fakes.hubee.samples import sample_files, sample_folders
from aiguilleur.store.blobs import BlobRef
from aiguilleur.transport.xml import parse_xml, xml_to_dict
from tests.connectors.hubee.conftest import JDD, SAMPLES

NICE = OrganisationConfig(id="nice", name="Nice", siret="21060088800015", insee="06088")
CANNES = OrganisationConfig(id="cannes", name="Cannes", siret="21060029200012", insee="06029")
DEPT_SOCIAL = OrganisationConfig(
    id="dept-social", name="Département, action sociale", siret="22060001900016", branch_codes=("SOC",)
)
DEPT_ENFANCE = OrganisationConfig(
    id="dept-enfance", name="Département, enfance", branch_codes=("ASE", "SNATED")
)
ORGS = [NICE, CANNES, DEPT_SOCIAL, DEPT_ENFANCE]


def org(siret: str, branch: str) -> wire.OrgId:
    return wire.OrgId(type="SI", companyRegister=siret, branchCode=branch)


def att(name: str, kind: str, mime: str, size: int = 10, id_: str = "") -> wire.Attachment:
    return wire.Attachment(
        id=id_ or name, status="RECEIVED", fileName=name, type=kind, size=size, mimeType=mime
    )


def case(**extra: object) -> wire.Case:
    body = {
        "id": "9b2f0000-0000-4000-8000-000000000001",
        "status": "HUBEE_NOTIFIED",
        "recipient": {"type": "SI", "companyRegister": "21060088800015", "branchCode": "06088"},
        "externalId": "DILA-AEC-1000000013734-01",
        "processCode": "EtatCivil",
        "createDateTime": "2025-03-01T16:24:44.521+00:00",
        "applicant": {"firstName": "Camille", "lastName": "MARTIN", "email": "camille@example.org"},
    }
    body.update(extra)
    return wire.Case.model_validate(body)


@pytest.mark.parametrize(
    ("recipient", "default", "expected"),
    [
        pytest.param(org("21060088800015", "06088"), None, "nice", id="siret"),
        pytest.param(org("21060088800015", "whatever"), None, "nice", id="siret-alone-decides"),
        pytest.param(org("00000000000000", "06029"), None, "cannes", id="branch-is-insee"),
        pytest.param(org("99999999999999", "SNATED"), None, "dept-enfance", id="branch-codes"),
        pytest.param(org("99999999999999", "00000"), None, None, id="unknown"),
        pytest.param(org("99999999999999", "00000"), "nice", "nice", id="connector-default"),
    ],
)
def test_organisation_for_routes_by_siret_then_branch_code(
    recipient: wire.OrgId, default: str | None, expected: str | None
) -> None:
    assert mapping.organisation_for(recipient, ORGS, default) == expected


def test_organisation_for_shared_siret_is_told_apart_by_branch_code() -> None:
    social = DEPT_SOCIAL
    enfance = DEPT_ENFANCE.model_copy(update={"siret": social.siret})
    orgs = [social, enfance]
    assert mapping.organisation_for(org(social.siret or "", "ASE"), orgs) == "dept-enfance"
    assert mapping.organisation_for(org(social.siret or "", "SOC"), orgs) == "dept-social"
    assert mapping.organisation_for(org(social.siret or "", "XYZ"), orgs) is None


def test_business_attachment_is_chosen_by_type_and_mime_not_position() -> None:
    pdf = att("ActeEtatCivil-PDF.pdf", "ActeEtatCivil-PDF", "application/pdf")
    xml = att("ActeEtatCivil-XML.xml", "ActeEtatCivil-XML", "application/xml")
    assert mapping.business_attachment([pdf, xml]) == xml
    assert mapping.business_attachment([xml, pdf]) == xml


def test_business_attachment_prefers_the_xml_whose_type_says_data() -> None:
    signature = att("signature.xml", "SIG", "text/xml")
    data = att("flux-pacs.xml", "flux-pacs", "application/xml")
    assert mapping.business_attachment([signature, data]) == data


def test_business_attachment_honours_configured_types_then_json_then_nothing() -> None:
    xml = att("a.xml", "A-XML", "application/xml")
    json_file = att("FormulaireQF.json", "FormulaireQF", "application/json")
    pdf = att("b.pdf", "B", "application/pdf")
    assert mapping.business_attachment([xml, json_file], ["formulaireqf"]) == json_file
    assert mapping.business_attachment([pdf, json_file]) == json_file
    assert mapping.business_attachment([pdf]) is None
    assert mapping.business_attachment([pdf, xml], ["nope"]) is None


@pytest.mark.parametrize(
    ("code", "previous", "automatic", "expected"),
    [
        pytest.param(14, None, True, "SI_RECEIVED", id="14-imported"),
        pytest.param(15, 14, False, "REFUSED", id="15-inadmissible"),
        pytest.param(16, 14, False, "IN_PROGRESS", id="16-in-progress"),
        pytest.param(17, 16, False, "ADD_AWAITING", id="17-waiting"),
        pytest.param(19, 16, False, "DONE", id="19-done"),
        pytest.param(20, 17, False, "REFUSED", id="20-refused"),
        pytest.param(100, 19, True, None, id="100-automatic"),
        pytest.param(100, 20, False, None, id="100-after-refused"),
        pytest.param(100, 16, False, "DONE", id="100-closed-straight"),
        pytest.param(42, 16, False, None, id="unknown"),
    ],
)
def test_status_for_return_maps_canonical_codes(
    code: int, previous: int | None, automatic: bool, expected: str | None
) -> None:
    assert mapping.status_for_return(code, previous, automatic) == expected


def test_status_event_carries_status_comment_and_marker() -> None:
    body = mapping.status_event(
        "DONE",
        author="A" * 300,
        message="x" * 1500,
        marker="aiguilleur:retour=1;changement=2",
        current="IN_PROGRESS",
    )
    assert body["actionType"] == "STATUS_UPDATE"
    assert body["caseNewStatus"] == "DONE" and body["caseCurrentStatus"] == "IN_PROGRESS"
    assert body["notification"] is True
    assert len(body["message"]) == 1000 and body["message"].endswith("…")
    assert len(body["author"]) == 255
    assert body["partnerAttributes"] == mapping.return_marker(1, 2)
    empty = mapping.status_event("ADD_AWAITING", author="Mairie", message="  ", marker="m")
    assert empty["message"] == mapping.DEFAULT_MESSAGES["ADD_AWAITING"]
    assert "caseCurrentStatus" not in empty


def test_marked_events_are_found_again() -> None:
    events = [
        {
            "id": "e1",
            "status": "SENT",
            "caseNewStatus": "SI_RECEIVED",
            "partnerAttributes": mapping.MINIMAL_MARKER,
        },
        {
            "id": "e2",
            "status": "SENT",
            "caseNewStatus": "DONE",
            "partnerAttributes": mapping.return_marker(7, 9),
        },
    ]
    c = case(events=events)
    assert mapping.has_marked_event(c, mapping.return_marker(7, 9))
    assert not mapping.has_marked_event(c, mapping.return_marker(7, 10))
    assert mapping.minimal_covers_imported(c)
    assert not mapping.minimal_covers_imported(case())


def test_title_external_id_and_data_of_a_case() -> None:
    c = case(
        attachments=[
            {
                "id": "a1",
                "status": "RECEIVED",
                "fileName": "x.pdf",
                "type": "X",
                "size": 3,
                "mimeType": "application/pdf",
            }
        ]
    )
    assert mapping.title(c) == "Camille MARTIN — demande d'acte d'état civil"
    assert mapping.title(case(applicant=None, processCode="CERTDC")) == "Certificat de décès"
    assert mapping.external_id(c) == "DILA-AEC-1000000013734-01"
    assert mapping.external_id(case(externalId=" ")) == c.id
    data = mapping.case_data(c)
    assert data["case_id"] == c.id and data["recipient"]["branch_code"] == "06088"
    assert data["attachments"] == [
        {"id": "a1", "file": "x.pdf", "type": "X", "mime_type": "application/pdf", "size": 3}
    ]


def test_to_document_sanitises_the_name() -> None:
    doc = mapping.to_document(att("../../etc/passwd", "X", "text/plain"), BlobRef("ab" * 32, 10))
    assert doc.name == "passwd" and doc.role == "X" and doc.size_bytes == 10


def test_own_events_are_recognised_by_their_transmitter() -> None:
    us = org("21060088800015", "06088")
    ours = wire.Event.model_validate({"id": "e", "transmitter": us.model_dump(by_alias=True)})
    theirs = wire.Event.model_validate(
        {"id": "e", "transmitter": {"type": "OSL", "companyRegister": "13000284400012", "branchCode": "DILA"}}
    )
    assert mapping.is_own_event(ours, us)
    assert not mapping.is_own_event(theirs, us)
    assert not mapping.is_own_event(ours, None)


@pytest.mark.parametrize("folder", sorted(SAMPLES))
def test_each_sample_demarche_gives_its_business_file(folder: str) -> None:
    """Over the official samples: the XML is found among the PDFs and parses to data."""
    files = sample_files(JDD / folder)
    atts = [att(f.file_name, f.type, f.mime_type, id_=str(i)) for i, f in reversed(list(enumerate(files)))]
    chosen = mapping.business_attachment(atts)
    assert chosen is not None and chosen.file_name.endswith(".xml")
    data = xml_to_dict(parse_xml(JDD / folder / chosen.file_name))
    assert len(data) == 1  # one root element


def test_samples_folders_are_all_known() -> None:
    assert {p.name for p, _ in sample_folders(JDD)} == set(SAMPLES)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(
            "LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564=",
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
            id="base64",
        ),
        pytest.param(
            "SHA-256=LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564=",
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
            id="prefixed",
        ),
        pytest.param("md5=rL0Y20zC+Fzt72VPzMSk2A==", None, id="other-algorithm"),
        pytest.param("not base64!", None, id="garbage"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_digest_header_to_hex(header: str | None, expected: str | None) -> None:
    assert digest_hex(header) == expected


def valid(**extra: object) -> dict[str, object]:
    return {
        "api_url": "https://api.hubee.numerique.gouv.fr/",
        "token_url": "https://auth.hubee.numerique.gouv.fr/oauth2/token",
        "process_code": "EtatCivil",
        "client_id": "id",
        "client_secret": "s3cr3t",
        "editor_name": "COMMUNE DE NICE",
        **extra,
    }


def test_config_defaults_follow_the_seed() -> None:
    config = HubeeConfig.model_validate(valid())
    assert config.api_url == "https://api.hubee.numerique.gouv.fr"
    assert (config.notifications_batch, config.retries, config.scope) == (25, 5, "SI")
    assert config.status_minimal == "SI_RECEIVED" and config.status_maximal is None
    assert config.event_author == "COMMUNE DE NICE"
    assert "s3cr3t" not in repr(config)
    assert set(config.partner_headers) == {"editorName", "applicationName", "softwareVersion"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param({"api_url": "ftp://x"}, "adresse http", id="bad-url"),
        pytest.param({"files_only": True}, "deposit_dir", id="files-only-without-folder"),
        pytest.param({"status_maximal": "DONE"}, "fichiers seuls", id="maximal-outside-files-only"),
        pytest.param({"status_minimal": "DONE"}, "SI_RECEIVED", id="minimal-must-be-intermediate"),
        pytest.param({"editor_name": "x" * 51}, "50", id="header-too-long"),
        pytest.param({"notifications_batch": 0}, "1", id="batch"),
    ],
)
def test_config_refuses(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HubeeConfig.model_validate(valid(**extra))


def test_config_partner_headers_are_ascii() -> None:
    config = HubeeConfig.model_validate(valid(editor_name="COMMUNE D'ÉVRY-COURCOURONNES"))
    assert config.partner_headers["editorName"] == "COMMUNE D'EVRY-COURCOURONNES"
    with pytest.raises(ValidationError, match="sans accent"):
        HubeeConfig.model_validate(valid(editor_name="東京"))


def test_config_files_only_mode() -> None:
    config = HubeeConfig.model_validate(
        valid(files_only=True, deposit_dir="var/hubee", status_maximal="DONE")
    )
    assert config.files_only and config.status_maximal == "DONE"


def test_digest_helper_matches_the_fake(tmp_path: Path) -> None:
    from aiguilleur.fakes.hubee.model import sha256_b64

    data = b"hello hubee"
    import hashlib

    assert digest_hex(sha256_b64(data)) == hashlib.sha256(data).hexdigest()
