"""mdel.returns: the return message.xml parses back with our hardened parser; return zips are stable."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aiguilleur.connectors.mdel.returns import (
    METIER_NS,
    PEC_NS,
    build_return_message,
    return_message_id,
    write_return_zip,
)
from aiguilleur.connectors.mdel.wire import read_message
from aiguilleur.transport.xml import find_text, localname, parse_xml

DATA = Path(__file__).resolve().parents[2] / "data" / "mdel"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
COMMENT = "Le dossier a été reçu et sera traité prochainement."


def aec_return(code: int = 14, comment: str = COMMENT) -> bytes:
    demand = read_message((DATA / "AEC-LA" / "message.xml").read_bytes(), "message.xml")
    return build_return_message(
        demand.header_xml, demand.numero, demand.flow_type, code, comment, "A-1-K7EC2T4Q-AEC-LA-retour-1"
    )


def test_return_message_round_trip() -> None:
    data = aec_return()
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")

    root = parse_xml(data, source="retour")
    assert root.tag == f"{{{PEC_NS}}}Message"
    assert root.nsmap["ns2"] == PEC_NS
    assert root.nsmap[None] == METIER_NS
    assert find_text(root, "Header", "Routing", "MessageId") == "A-1-K7EC2T4Q-AEC-LA-retour-1"
    assert find_text(root, "Header", "Routing", "FlowType") == "AEC-LA"
    retour = ("Body", "Content", "Retour")
    assert find_text(root, *retour, "Enveloppe", "NumeroTeledemarche") == "A-1-K7EC2T4Q"
    assert find_text(root, *retour, "Instruction", "Maj", "Etat") == "14"
    assert find_text(root, *retour, "Instruction", "Maj", "Commentaire") == COMMENT
    # Every element of the return is in the PEC namespace, as in seed 002 IV.3.
    assert {el.tag.partition("}")[0] for el in root.iter()} == {f"{{{PEC_NS}"}


def test_return_swaps_sender_and_recipient() -> None:
    root = parse_xml(aec_return(), source="retour")
    routing = ("Header", "Routing")
    # The demand went from the portal (11000000000019) to Nice (21060088800015); the return goes back.
    assert find_text(root, *routing, "Sender", "Location", "Siret") == "21060088800015"
    assert find_text(root, *routing, "Sender", "Location", "Service") == "ETATCIVIL"
    assert find_text(root, *routing, "Recipients", "Recipient", "Location", "Siret") == "11000000000019"
    assert find_text(root, *routing, "Recipients", "Recipient", "Location", "Guichet") == "PORTAIL-TEST"
    assert [localname(el) for el in root[0][0]] == ["MessageId", "FlowType", "Sender", "Recipients"]
    # The xsi:type QName still resolves in the new document.
    location = next(el for el in root.iter() if localname(el) == "Location")
    prefix, _, local = location.get(XSI_TYPE, "").partition(":")
    assert (location.nsmap[prefix], local) == (PEC_NS, "Location_FR")


def test_return_without_header_or_without_parties() -> None:
    plain = parse_xml(build_return_message(None, "A-3-EL5Q9W2D", "ILE-LA", 16, "En cours", "id-1"))
    assert [localname(el) for el in plain[0][0]] == ["MessageId", "FlowType"]

    ile = read_message((DATA / "ILE-LA" / "message.xml").read_bytes(), "message.xml")
    root = parse_xml(build_return_message(ile.header_xml, ile.numero, "ILE-LA", 19, "Inscrit", "id-2"))
    assert [localname(el) for el in root[0][0]] == ["MessageId", "FlowType"]
    assert find_text(root, "Body", "Content", "Retour", "Instruction", "Maj", "Etat") == "19"


def test_return_comment_is_escaped_and_cleaned() -> None:
    comment = 'Pièce <illisible> & "floue"\x0b\x00 ; merci de la renvoyer.\nCordialement'
    root = parse_xml(aec_return(17, comment), source="retour")
    text = root.find(f".//{{{PEC_NS}}}Commentaire")
    assert text is not None
    assert text.text == 'Pièce <illisible> & "floue" ; merci de la renvoyer.\nCordialement'


def test_return_with_an_empty_comment_keeps_the_element() -> None:
    root = parse_xml(aec_return(100, ""), source="retour")
    assert root.find(f".//{{{PEC_NS}}}Commentaire") is not None
    assert find_text(root, "Body", "Content", "Retour", "Instruction", "Maj", "Etat") == "100"


@pytest.mark.parametrize(
    ("numero", "flow_type", "code", "message_id"),
    [
        pytest.param("A-1-X", "AEC-LA", 18, "id", id="unknown-code"),
        pytest.param("A-1-X", "DAUA", 14, "id", id="unknown-flow"),
        pytest.param("<A>", "AEC-LA", 14, "id", id="unsafe-number"),
        pytest.param("A-1-X", "AEC-LA", 14, " ", id="blank-id"),
    ],
)
def test_build_return_message_refuses_bad_values(
    numero: str, flow_type: str, code: int, message_id: str
) -> None:
    with pytest.raises(ValueError):
        build_return_message(None, numero, flow_type, code, "x", message_id)


def test_return_message_ids_are_stable_and_distinct() -> None:
    assert return_message_id("A-1-X", "AEC-LA", 2) == return_message_id("A-1-X", "AEC-LA", 2)
    assert return_message_id("A-1-X", "AEC-LA", 2) != return_message_id("A-1-X", "AEC-LA", 3)
    assert return_message_id("A-1-X", "AEC-LA", 2) != return_message_id("A-1-Y", "AEC-LA", 2)


# -- return zips ---------------------------------------------------------------------------------------

STAMP = datetime(2026, 11, 24, 8, 0, 5, tzinfo=UTC)  # 09:00:05 in Paris


@pytest.fixture
def attestation(tmp_path: Path) -> Path:
    path = tmp_path / "attestation.pdf"
    path.write_bytes(b"%PDF-1.4 attestation de recensement " * 2000)
    return path


def test_write_return_zip(tmp_path: Path, attestation: Path) -> None:
    other = tmp_path / "other.pdf"
    other.write_bytes(b"%PDF-1.4 autre")
    dest = tmp_path / "out" / "A-1-K7EC2T4Q-AEC-LA-2.zip"
    dest.parent.mkdir()
    message = aec_return()

    names = write_return_zip(
        dest,
        message,
        [
            ("attestation.pdf", attestation),
            ("Attestation.PDF", other),
            ("../../etc/passwd", other),
            ("MESSAGE.xml", other),
            ("note\u202egnp.exe", other),
        ],
        modified_at=STAMP,
    )

    assert names == [
        "message.xml",
        "attestation.pdf",
        "Attestation-2.PDF",
        "passwd",
        "MESSAGE-2.xml",
        "notegnp.exe",
    ]
    with zipfile.ZipFile(dest) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == names
        assert zf.read("message.xml") == message
        assert zf.read("attestation.pdf") == attestation.read_bytes()
        assert zf.read("passwd") == b"%PDF-1.4 autre"
        for info in zf.infolist():
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert info.date_time == (2026, 11, 24, 9, 0, 4)  # zip keeps even seconds
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]


def test_write_return_zip_is_deterministic(tmp_path: Path, attestation: Path) -> None:
    first, second = tmp_path / "1.zip", tmp_path / "2.zip"
    write_return_zip(first, aec_return(), [("attestation.pdf", attestation)], modified_at=STAMP)
    write_return_zip(second, aec_return(), [("attestation.pdf", attestation)], modified_at=STAMP)
    assert first.read_bytes() == second.read_bytes()


def test_write_return_zip_message_only_and_old_stamp(tmp_path: Path) -> None:
    dest = tmp_path / "r.zip"
    assert write_return_zip(dest, b"<x/>", modified_at=datetime(1970, 1, 1, tzinfo=UTC)) == ["message.xml"]
    with zipfile.ZipFile(io.BytesIO(dest.read_bytes())) as zf:
        assert zf.infolist()[0].date_time == (1980, 1, 1, 0, 0, 0)


def test_write_return_zip_removes_a_partial_file(tmp_path: Path) -> None:
    dest = tmp_path / "r.zip"
    with pytest.raises(FileNotFoundError):
        write_return_zip(dest, b"<x/>", [("absent.pdf", tmp_path / "absent.pdf")], modified_at=STAMP)
    assert not dest.exists()
