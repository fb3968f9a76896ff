"""transport.xml: hostile XML is refused, business XML converts to plain data."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from aiguilleur.errors import RejectedItemError
from aiguilleur.transport.xml import find_text, localname, parse_xml, xml_to_dict

ETAT_CIVIL = (
    Path(__file__).resolve().parents[3].parent / "shared/data/hubee/jdd/ETATCIVIL/ActeEtatCivil-XML.xml"
)

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""

NAMESPACED = b"""<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment before the root -->
<ec:Demande xmlns:ec="urn:exemple:etatcivil" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
            version="2">
  <ec:Numero>  2024-0042  </ec:Numero>
  <ec:Piece xsi:type="ec:PDF" nom="acte.pdf">Copie int\xc3\xa9grale</ec:Piece>
  <ec:Piece nom="livret.pdf"/>
  <ec:Vide/>
  <ec:Blanc>   </ec:Blanc>
  <Sans>sans espace de noms</Sans>
  <ec:Note>Avant <!-- ignored --><ec:Mot>milieu</ec:Mot> apr\xc3\xa8s</ec:Note>
  <ec:Piece nom="photo.jpg"><ec:Taille>12</ec:Taille></ec:Piece>
</ec:Demande>"""


# -- refusals ------------------------------------------------------------------------------------------


def test_parse_xml_refuses_billion_laughs_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(RejectedItemError, match="les DTD et entités XML sont refusées"):
        parse_xml(BILLION_LAUGHS, source="lolz.xml")
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_parse_xml_never_reads_external_entities(tmp_path: Path, encoding: str) -> None:
    # UTF-16 hides "<!DOCTYPE" from a byte search: the check after parsing must catch it.
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-4242")
    doc = (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        f'<!DOCTYPE r [<!ENTITY s SYSTEM "file://{secret}"><!ENTITY p SYSTEM "file:///etc/passwd">]>'
        "<r>&s;&p;</r>"
    ).encode(encoding)

    with pytest.raises(RejectedItemError, match="DTD et entités XML sont refusées") as caught:
        parse_xml(doc, source="xxe.xml")

    assert "TOPSECRET" not in str(caught.value)
    assert "root:" not in str(caught.value)


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(
            b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]><r/>',
            id="parameter-entity",
        ),
        pytest.param(b"<!DOCTYPE r><r/>", id="plain-doctype"),
        pytest.param(b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/r.dtd"><r/>', id="external-dtd"),
        pytest.param(
            b"\xef\xbb\xbf<?xml version='1.0'?>\n<!-- x -->\n<?pi y?><!DOCTYPE r><r/>", id="after-prolog"
        ),
        pytest.param("<!DOCTYPE r><r/>".encode("utf-16"), id="utf16-doctype"),
    ],
)
def test_parse_xml_refuses_any_doctype(doc: bytes) -> None:
    with pytest.raises(RejectedItemError, match=r"^doc\.xml : les DTD et entités XML sont refusées$"):
        parse_xml(doc, source="doc.xml")


def test_parse_xml_accepts_doctype_text_inside_cdata() -> None:
    root = parse_xml(b"<mail><corps><![CDATA[<!DOCTYPE html><html></html>]]></corps></mail>")
    assert find_text(root, "corps") == "<!DOCTYPE html><html></html>"


def test_parse_xml_refuses_undeclared_entity() -> None:
    with pytest.raises(RejectedItemError, match="XML invalide"):
        parse_xml(b"<r>&xxe;</r>")


def test_parse_xml_invalid_names_source_and_line() -> None:
    with pytest.raises(RejectedItemError) as caught:
        parse_xml(b"<a>\n<b>\n</a>", source="demande-17.xml")
    message = str(caught.value)
    assert message.startswith("demande-17.xml : XML invalide, ligne 3 : ")
    assert "mismatch" in message


def test_parse_xml_empty_input_is_invalid() -> None:
    with pytest.raises(RejectedItemError, match="XML invalide, ligne 1"):
        parse_xml(b"", source="vide.xml")


def test_parse_xml_refuses_oversize_bytes() -> None:
    with pytest.raises(RejectedItemError, match="trop volumineux"):
        parse_xml(b"<r>" + b"x" * 100 + b"</r>", max_bytes=100)


def test_parse_xml_refuses_oversize_file_by_its_size(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    with big.open("wb") as f:  # sparse: if it were read, it would be invalid XML, not "too big"
        f.truncate(10_000_001)
    with pytest.raises(RejectedItemError, match=r"^big\.xml : XML trop volumineux"):
        parse_xml(big, max_bytes=10_000_000)


def test_parse_xml_refuses_excessive_depth() -> None:
    with pytest.raises(RejectedItemError, match="XML invalide"):
        parse_xml(b"<a>" * 5000 + b"</a>" * 5000)


# -- parsing and conversion ----------------------------------------------------------------------------


def test_parse_xml_reads_a_file_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "ok.xml"
    path.write_bytes(NAMESPACED)
    root = parse_xml(path)
    assert localname(root) == "Demande"
    assert root.tag == "{urn:exemple:etatcivil}Demande"


def test_xml_to_dict_namespaced_sample() -> None:
    assert xml_to_dict(parse_xml(NAMESPACED)) == {
        "Demande": {
            "@version": "2",
            "Numero": "2024-0042",
            "Piece": [
                {"@type": "ec:PDF", "@nom": "acte.pdf", "#text": "Copie intégrale"},
                {"@nom": "livret.pdf"},
                {"@nom": "photo.jpg", "Taille": "12"},
            ],
            "Vide": None,
            "Blanc": None,
            "Sans": "sans espace de noms",
            "Note": {"Mot": "milieu", "#text": "Avant  après"},
        }
    }


def test_xml_to_dict_is_deterministic_and_json_able() -> None:
    first = json.dumps(xml_to_dict(parse_xml(NAMESPACED)), ensure_ascii=False)
    again = json.dumps(xml_to_dict(parse_xml(NAMESPACED)), ensure_ascii=False)
    assert first == again
    assert first.index('"Numero"') < first.index('"Piece"') < first.index('"Vide"')


@pytest.mark.skipif(not ETAT_CIVIL.exists(), reason="official HubEE sample not available (../shared/data)")
def test_xml_to_dict_real_etat_civil_sample() -> None:
    data = xml_to_dict(parse_xml(ETAT_CIVIL))

    envelope = data["EnveloppeMetierType"]
    assert envelope["@canal_utilise"] == "0"
    demande = envelope["DemandeActe"]
    assert demande["TypeActe"] == {"Code": "NAISSANCE", "Libelle": "Acte de naissance"}
    assert demande["NatureActe"]["Libelle"] == "Copie intégrale"
    assert demande["DateActe"] == "1962-08-24"
    assert demande["LieuActe"] == {"CodePostal": "06000", "Ville": "NICE", "CodeINSEE": "06088"}
    assert demande["Demandeur"]["Nom"] == "L'heritier"
    assert demande["Demandeur"]["Prenom"] == "Angela Claire Louise"
    assert demande["Demandeur"]["AdresseFrancaise"]["Voie"] == "20 RUE PIERRE SEGURAN"
    assert demande["Titulaire"]["NomNaissance"] == "DUBOIS"


def test_find_text_walks_local_names_in_any_namespace() -> None:
    root = parse_xml(NAMESPACED)
    assert find_text(root, "Numero") == "2024-0042"
    assert find_text(root, "Piece", "Taille") == "12"  # not in the first Piece: keeps searching
    assert find_text(root, "Sans") == "sans espace de noms"
    assert find_text(root, "Vide") is None
    assert find_text(root, "Absent", "Rien") is None
    assert find_text(root[0]) == "2024-0042"
