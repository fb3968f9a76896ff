"""mdel.wire: message.xml and -ent.xml are read by local names, hostile or incomplete ones refused."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aiguilleur.connectors.mdel.names import DemandName, parse_demand_name
from aiguilleur.connectors.mdel.wire import (
    Attachment,
    Demand,
    DocumentRef,
    Entete,
    Teledemarche,
    check_consistency,
    read_entete,
    read_message,
    redact_secrets,
)
from aiguilleur.errors import RejectedItemError
from aiguilleur.transport.xml import find_text, parse_xml

DATA = Path(__file__).resolve().parents[2] / "data" / "mdel"
FLOWS = {
    "AEC-LA": ("A-1-K7EC2T4Q", "A-1-K7EC2T4Q-AEC-LA-1.zip"),
    "RCO-LA": ("A-2-RC8S4N1P", "A-2-RC8S4N1P-RCO-LA-1.zip"),
    "ILE-LA": ("A-3-EL5Q9W2D", "A-3-EL5Q9W2D-ILE-LA-1.zip"),
}
PASSWORDS = ("Secret-Suivi-0042", "Secret-Suivi-7781", "Secret-Suivi-3305")


def message_bytes(flow: str) -> bytes:
    return (DATA / flow / "message.xml").read_bytes()


def entete_bytes(flow: str) -> bytes:
    numero = FLOWS[flow][0]
    return (DATA / flow / f"{numero}-{flow}-ent-1.xml").read_bytes()


def members_of(demand: Demand, flow: str) -> set[str]:
    """What the demand's zip holds when nothing is missing."""
    return {"message.xml", f"{demand.numero}-{flow}-ent-1.xml", *demand.file_names}


# -- message.xml ---------------------------------------------------------------------------------------


def test_read_message_aec_reads_everything() -> None:
    demand = read_message(message_bytes("AEC-LA"), "message.xml")

    assert demand.message_id == "A-1-K7EC2T4Q 7300412 Principal 2026-11-20T10:15:02.123+01:00"
    assert demand.flow_type == "AEC-LA"
    assert demand.numero_demarche == "AEC-LA"
    assert demand.teledemarche == Teledemarche(
        numero="A-1-K7EC2T4Q", date="2026-11-20T10:14:51.240+01:00", platform_id="PSL_PART"
    )
    assert demand.numero == "A-1-K7EC2T4Q"
    assert demand.code_insee == "06088"
    assert demand.routage == (("CodeINSEE", "06088"),)
    assert demand.attachments == (
        Attachment(file_name="A-1-K7EC2T4Q-AEC-LA-pj-ji-1-1.pdf", code="ji", title="carte identité.pdf"),
    )
    assert demand.documents == (
        DocumentRef(
            file_name="A-1-K7EC2T4Q-AEC-LA-doc-ActeEtatCivil-XML-1-1.xml",
            code="ActeEtatCivil-XML",
            name="ActeEtatCivil-XML",
        ),
        DocumentRef(
            file_name="A-1-K7EC2T4Q-AEC-LA-doc-ActeEtatCivil-PDF-1-1.pdf",
            code="ActeEtatCivil-PDF",
            name="Récapitulatif de la demande",
        ),
    )
    assert [d.code for d in demand.xml_documents] == ["ActeEtatCivil-XML"]
    assert demand.file_names == (
        "A-1-K7EC2T4Q-AEC-LA-pj-ji-1-1.pdf",
        "A-1-K7EC2T4Q-AEC-LA-doc-ActeEtatCivil-XML-1-1.xml",
        "A-1-K7EC2T4Q-AEC-LA-doc-ActeEtatCivil-PDF-1-1.pdf",
    )


def test_read_message_keeps_the_whole_header_as_xml() -> None:
    demand = read_message(message_bytes("AEC-LA"), "message.xml")

    header = parse_xml(demand.header_xml.encode(), source="header")
    assert find_text(header, "Routing", "MessageId") == demand.message_id
    assert find_text(header, "Routing", "Sender", "Location", "Siret") == "11000000000019"
    assert find_text(header, "Routing", "Recipients", "Recipient", "Location", "Siret") == "21060088800015"
    assert find_text(header, "Security", "Rejeu", "NbRejeu") == "3"
    assert header.tag == "{http://finances.gouv.fr/dgme/pec/message/v1}Header"


@pytest.mark.parametrize("flow", list(FLOWS))
def test_read_message_each_flow(flow: str) -> None:
    demand = read_message(message_bytes(flow), "message.xml")
    assert demand.flow_type == flow
    assert demand.numero == FLOWS[flow][0]
    assert demand.documents
    assert len(demand.xml_documents) == 1


def test_read_message_tolerates_padding_naive_dates_and_empty_elements() -> None:
    demand = read_message(message_bytes("ILE-LA"), "message.xml")
    assert demand.code_insee == "06088"  # "<Valeur> 06088 </Valeur>"
    assert demand.teledemarche.platform_id is None  # <IdentifiantPlateforme/>
    assert demand.numero_demarche is None
    assert demand.teledemarche.submitted_at == datetime(2026, 11, 22, 16, 39, 58, tzinfo=UTC)
    assert [a.code for a in demand.attachments] == ["ji", "jd"]


def test_submitted_at_keeps_the_portal_offset() -> None:
    demand = read_message(message_bytes("AEC-LA"), "message.xml")
    submitted = demand.teledemarche.submitted_at
    assert submitted is not None
    assert submitted.utcoffset() == timedelta(hours=1)
    assert submitted.astimezone(UTC) == datetime(2026, 11, 20, 9, 14, 51, 240000, tzinfo=UTC)
    assert Teledemarche("A-1-X", "hier", None).submitted_at is None
    assert Teledemarche("A-1-X", None, None).submitted_at is None


@pytest.mark.parametrize("flow", list(FLOWS))
def test_the_citizen_password_is_never_kept(flow: str) -> None:
    demand = read_message(message_bytes(flow), "message.xml")
    entete = read_entete(entete_bytes(flow), "ent.xml")
    for kept in (repr(demand), repr(entete), demand.header_xml):
        assert "Secret-Suivi" not in kept
        assert "MotDePasse" not in kept


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        pytest.param("message-no-messageid.xml", r"message\.xml : identifiant de message", id="no-messageid"),
        pytest.param(
            "message-no-document.xml",
            r"message\.xml : aucun Document, au moins un fichier -doc est obligatoire",
            id="no-document",
        ),
        pytest.param(
            "message-no-insee.xml", r"message\.xml : code INSEE de la commune .* absent", id="no-insee"
        ),
        pytest.param(
            "message-path-traversal.xml", r"nom de fichier dangereux.*etc/cron", id="path-traversal"
        ),
        pytest.param(
            "message-external-entity.xml", r"message\.xml : les DTD et entités", id="external-entity"
        ),
        pytest.param("message-billion-laughs.xml", r"message\.xml : les DTD et entités", id="billion-laughs"),
    ],
)
def test_read_message_refuses_broken_messages(file: str, expected: str) -> None:
    with pytest.raises(RejectedItemError, match=expected):
        read_message((DATA / "broken" / file).read_bytes(), "message.xml")


def _aec_with(old: str, new: str) -> bytes:
    data = message_bytes("AEC-LA")
    assert old.encode() in data
    return data.replace(old.encode(), new.encode())


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param("<ns2:FlowType>AEC-LA</ns2:FlowType>", "", "FlowType", id="no-flow-type"),
        pytest.param(
            "<ns2:FlowType>AEC-LA</ns2:FlowType>", "<ns2:FlowType> </ns2:FlowType>", "FlowType", id="blank"
        ),
        pytest.param(
            "<NumeroTeledemarche>A-1-K7EC2T4Q</NumeroTeledemarche>", "", "NumeroTeledemarche", id="no-numero"
        ),
        pytest.param(
            "<NumeroTeledemarche>A-1-K7EC2T4Q</NumeroTeledemarche>",
            "<NumeroTeledemarche>../../x</NumeroTeledemarche>",
            "numéro de télédémarche « ../../x » invalide",
            id="unsafe-numero",
        ),
        pytest.param(
            "<Valeur>06088</Valeur>", "<Valeur>NICE</Valeur>", "code INSEE « NICE » invalide", id="insee"
        ),
        pytest.param(
            "<Fichier>A-1-K7EC2T4Q-AEC-LA-pj-ji-1-1.pdf</Fichier>",
            "<Fichier/>",
            "PieceJointe n°1",
            id="no-fichier",
        ),
        pytest.param(
            "<FichierDonnees>A-1-K7EC2T4Q-AEC-LA-doc-ActeEtatCivil-PDF-1-1.pdf</FichierDonnees>",
            "",
            "Document n°2",
            id="no-fichier-donnees",
        ),
        pytest.param(
            "<FichierDonnees>A-1-K7EC2T4Q-AEC-LA-doc-ActeEtatCivil-PDF-1-1.pdf</FichierDonnees>",
            "<FichierDonnees>C:\\Windows\\x.pdf</FichierDonnees>",
            "nom de fichier dangereux",
            id="backslash",
        ),
        pytest.param("<ns2:Aller>", "<ns2:Autre>", "Aller", id="no-aller"),
        pytest.param("<ns2:MessageId>A-1-K7EC2T4Q", "<ns2:MessageId>" + "x" * 300, "trop long", id="long-id"),
    ],
)
def test_read_message_refuses_incomplete_messages(old: str, new: str, expected: str) -> None:
    data = _aec_with(old, new)
    if old == "<ns2:Aller>":
        data = data.replace(b"</ns2:Aller>", b"</ns2:Autre>")
    with pytest.raises(RejectedItemError, match=r"message\.xml : ") as caught:
        read_message(data, "message.xml")
    assert expected in str(caught.value)


def test_read_message_refuses_other_roots_and_bad_xml() -> None:
    with pytest.raises(RejectedItemError, match="« EnteteMetierEnveloppe » inattendu"):
        read_message(entete_bytes("AEC-LA"), "message.xml")
    with pytest.raises(RejectedItemError, match=r"message\.xml : XML invalide"):
        read_message(message_bytes("AEC-LA")[:-30], "message.xml")
    with pytest.raises(RejectedItemError, match=r"message\.xml : XML invalide"):
        read_message(b"", "message.xml")


def test_read_message_does_not_depend_on_namespaces() -> None:
    plain = (
        message_bytes("RCO-LA")
        .replace(b"ns2:", b"")
        .replace(b' xmlns:ns2="http://finances.gouv.fr/dgme/pec/message/v1"', b"")
    )
    assert b"ns2" not in plain
    demand = read_message(plain, "message.xml")
    assert demand == dataclasses.replace(read_message(message_bytes("RCO-LA")), header_xml=demand.header_xml)


# -- -ent.xml ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flow", list(FLOWS))
def test_read_entete_agrees_with_message(flow: str) -> None:
    demand = read_message(message_bytes(flow), "message.xml")
    entete = read_entete(entete_bytes(flow), "ent.xml")
    assert isinstance(entete, Entete)
    assert entete.numero == demand.numero
    assert entete.code_insee == demand.code_insee
    assert entete.attachments == demand.attachments
    assert entete.documents == demand.documents
    assert entete.file_names == demand.file_names


def test_read_entete_refuses_missing_number_and_other_roots() -> None:
    data = entete_bytes("AEC-LA").replace(b"<NumeroTeledemarche>A-1-K7EC2T4Q</NumeroTeledemarche>", b"")
    with pytest.raises(RejectedItemError, match=r"x-ent\.xml : numéro de télédémarche"):
        read_entete(data, "x-ent.xml")
    with pytest.raises(RejectedItemError, match="« Message » inattendu"):
        read_entete(message_bytes("AEC-LA"), "x-ent.xml")


def test_redact_secrets_removes_the_password_only() -> None:
    for data in (entete_bytes("AEC-LA"), message_bytes("RCO-LA")):
        redacted = redact_secrets(data, "x.xml")
        assert b"Secret-Suivi" not in redacted
        assert b"MotDePasse" not in redacted
        assert redacted.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
        root = parse_xml(redacted, source="x.xml")
        assert find_text(root, "Teledemarche", "NumeroTeledemarche") or find_text(
            root, "Body", "Content", "Aller", "Teledemarche", "NumeroTeledemarche"
        )
    assert read_entete(redact_secrets(entete_bytes("ILE-LA"), "x"), "x") == read_entete(
        entete_bytes("ILE-LA"), "x"
    )


# -- consistency ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("flow", list(FLOWS))
def test_check_consistency_accepts_complete_demands(flow: str) -> None:
    demand = read_message(message_bytes(flow), "message.xml")
    entete = read_entete(entete_bytes(flow), "ent.xml")
    name = parse_demand_name(FLOWS[flow][1])
    check_consistency(name, demand, entete, members_of(demand, flow))
    check_consistency(name, demand, None, members_of(demand, flow))


def test_check_consistency_refuses_a_flow_that_differs_from_the_name() -> None:
    demand = read_message((DATA / "broken" / "message-wrong-flow.xml").read_bytes(), "message.xml")
    name = parse_demand_name("A-1-K7EC2T4Q-AEC-LA-1.zip")
    with pytest.raises(RejectedItemError) as caught:
        check_consistency(name, demand, None, members_of(demand, "AEC-LA"))
    assert str(caught.value) == (
        "A-1-K7EC2T4Q-AEC-LA-1.zip : le flux de message.xml (RCO-LA) ne correspond pas "
        "au nom du fichier (AEC-LA)"
    )


def test_check_consistency_refuses_an_unknown_flow() -> None:
    demand = read_message((DATA / "broken" / "message-unknown-flow.xml").read_bytes(), "message.xml")
    name = parse_demand_name("A-1-K7EC2T4Q-AEC-LA-1.zip")
    with pytest.raises(RejectedItemError, match=r"flux « DAUA » inconnu dans message\.xml"):
        check_consistency(name, demand, None, members_of(demand, "AEC-LA"))


def test_check_consistency_refuses_another_number() -> None:
    demand = read_message(message_bytes("AEC-LA"), "message.xml")
    name = DemandName("A-1-AUTRE0000", "AEC-LA", 1)
    with pytest.raises(RejectedItemError, match=r"A-1-AUTRE0000-AEC-LA-1\.zip : le numéro de télédémarche"):
        check_consistency(name, demand, None, members_of(demand, "AEC-LA"))


def test_check_consistency_names_every_missing_file() -> None:
    demand = read_message(message_bytes("RCO-LA"), "message.xml")
    name = parse_demand_name(FLOWS["RCO-LA"][1])
    members = members_of(demand, "RCO-LA") - {
        "A-2-RC8S4N1P-RCO-LA-pj-jf-1-1.pdf",
        "A-2-RC8S4N1P-RCO-LA-doc-10870-PDF-1-1.pdf",
    }
    with pytest.raises(RejectedItemError) as caught:
        check_consistency(name, demand, None, members)
    assert str(caught.value) == (
        "A-2-RC8S4N1P-RCO-LA-1.zip : fichier(s) annoncé(s) mais absent(s) de l'archive : "
        "A-2-RC8S4N1P-RCO-LA-pj-jf-1-1.pdf, A-2-RC8S4N1P-RCO-LA-doc-10870-PDF-1-1.pdf"
    )


def test_check_consistency_compares_the_entete() -> None:
    demand = read_message(message_bytes("AEC-LA"), "message.xml")
    entete = read_entete(entete_bytes("AEC-LA"), "ent.xml")
    name = parse_demand_name(FLOWS["AEC-LA"][1])
    members = members_of(demand, "AEC-LA")

    other_number = dataclasses.replace(
        entete, teledemarche=dataclasses.replace(entete.teledemarche, numero="A-1-AUTRE0000")
    )
    with pytest.raises(RejectedItemError, match=r"fichier -ent \(A-1-AUTRE0000\)"):
        check_consistency(name, demand, other_number, members)

    other_commune = dataclasses.replace(entete, code_insee="06029")
    with pytest.raises(RejectedItemError, match=r"code INSEE du fichier -ent \(06029\)"):
        check_consistency(name, demand, other_commune, members)

    extra = Attachment(file_name="A-1-K7EC2T4Q-AEC-LA-pj-jd-1-1.pdf", code="jd", title=None)
    more_files = dataclasses.replace(entete, attachments=(*entete.attachments, extra))
    with pytest.raises(
        RejectedItemError, match=r"absent\(s\) de l'archive : A-1-K7EC2T4Q-AEC-LA-pj-jd-1-1\.pdf$"
    ):
        check_consistency(name, demand, more_files, members)

    without_insee = dataclasses.replace(entete, code_insee=None)
    check_consistency(name, demand, without_insee, members)
