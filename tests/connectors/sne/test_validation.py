"""Checks before sending (research §1.2): each message names its element path; nothing goes on the wire."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from aiguilleur.connectors.sne.client import SneClient
from aiguilleur.connectors.sne.errors import SneValidationError
from aiguilleur.connectors.sne.validation import check_demande, check_xsd
from aiguilleur.errors import ConfigError
from aiguilleur.fakes.sne import FakeSne, SneServer, demande_xml

D = "/interfaceNuu/demande/demandeLogement"


def messages(data: bytes, **kwargs: bool) -> dict[str, str]:
    return {p.path: p.message for p in check_demande(data, **kwargs)}


def test_the_sample_demande_passes() -> None:
    assert check_demande(demande_xml()) == []
    assert check_demande(demande_xml(association="Les Amis")) == []


def test_each_problem_has_its_element_path() -> None:
    data = (
        demande_xml(type_fichier="XYZ", version="03.00", guichet="G000000")
        .replace(b'code="59350"', b'code="59A50"')
        .replace(b"<tns:precision", b"<tns:precisionX")
        .replace(b"</tns:precision>", b"</tns:precisionX>")
    )
    found = messages(data)
    assert "inconnu" in found["/interfaceNuu/entete/typeFichier"]
    assert "non prise en charge" in found["/interfaceNuu/@versionInterface"]
    assert "5 au plus" in found[f"{D}/numGuichet"]
    assert (
        "chiffres"
        in found[f"{D}/logementRecherche/listeLocalisationSouhaite/localisationSouhaite/commune/@code"]
    )
    assert found[f"{D}/precision"] == "élément obligatoire absent"


def test_missing_skeleton_and_bad_codes() -> None:
    data = (
        demande_xml()
        .replace(b'<tns:civilite code="2"/>', b'<tns:civilite code="9"/>')
        .replace(
            b"<tns:dateNaissance>1990-05-01</tns:dateNaissance>",
            b"<tns:dateNaissance>01/05/1990</tns:dateNaissance>",
        )
    )
    found = messages(data)
    assert "inconnu" in found[f"{D}/personnePhysique/demandeur/civilite"]
    assert "xs:date" in found[f"{D}/personnePhysique/demandeur/dateNaissance"]


def test_not_a_demande() -> None:
    assert "racine" in messages(b"<x/>")["/"]
    assert "mal formé" in messages(b"<x>")["/"]


def test_partial_demande_for_doublons() -> None:
    partial = b'<tns:interfaceNuu xmlns:tns="http://nuu.application.i2/" versionInterface="02.01"/>'
    assert check_demande(partial, partial=True) == []
    assert check_demande(partial) != []


MINI_XSD = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://nuu.application.i2/"
  xmlns:tns="http://nuu.application.i2/" elementFormDefault="qualified">
  <xs:element name="interfaceNuu"><xs:complexType><xs:sequence>
    <xs:element name="entete" type="xs:anyType"/><xs:element name="demande">
      <xs:complexType><xs:sequence><xs:element name="autre" type="xs:string"/>
      </xs:sequence></xs:complexType></xs:element>
  </xs:sequence><xs:attribute name="versionInterface" type="xs:string"/></xs:complexType></xs:element>
</xs:schema>"""


def test_strict_xsd_validation_reports_paths(tmp_path: Path) -> None:
    (tmp_path / "InterfaceNuu_v0201.xsd").write_bytes(MINI_XSD)
    problems = check_xsd(demande_xml(), tmp_path)
    assert problems and problems[0].path.startswith("/tns:interfaceNuu/tns:demande")
    assert check_xsd(demande_xml(), tmp_path / "absent")[0].path == "/"
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "InterfaceNuu_v0201.xsd").write_bytes(b"<xs:schema/>")
    with pytest.raises(ConfigError):
        check_xsd(demande_xml(), tmp_path / "broken")


@pytest.mark.integration
def test_nothing_is_sent_when_the_file_is_refused(
    server: SneServer, world: FakeSne, make_client: Callable[..., SneClient], tmp_path: Path
) -> None:
    client = make_client(server.url)
    with pytest.raises(SneValidationError) as caught:
        client.get_num_unique(demande_xml(type_fichier="XYZ"))
    assert caught.value.problems[0].path == "/interfaceNuu/entete/typeFichier"
    assert "/interfaceNuu/entete/typeFichier" in str(caught.value)
    (tmp_path / "InterfaceNuu_v0201.xsd").write_bytes(MINI_XSD)
    strict = make_client(server.url, xsd_dir=str(tmp_path))
    with pytest.raises(SneValidationError):
        strict.get_num_unique(demande_xml())
    assert world.requests == []
