"""mdel.flows: the key fields of each flow's business XML, read tolerantly."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiguilleur.connectors.mdel.flows import key_fields, read_business_xml
from aiguilleur.errors import RejectedItemError
from aiguilleur.transport.xml import parse_xml

DATA = Path(__file__).resolve().parents[2] / "data" / "mdel"
JDD = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "hubee" / "jdd"
AEC = DATA / "AEC-LA" / "A-1-K7EC2T4Q-AEC-LA-doc-ActeEtatCivil-XML-1-1.xml"
RCO = DATA / "RCO-LA" / "A-2-RC8S4N1P-RCO-LA-doc-10870-XML-1-1.xml"
ILE = DATA / "ILE-LA" / "A-3-EL5Q9W2D-ILE-LA-doc-12669-XML-1-1.xml"


def test_aec_key_fields() -> None:
    doc = read_business_xml(AEC.read_bytes(), AEC.name, "AEC-LA")
    assert doc.title == "DUPONT Jeanne Marie — copie intégrale d'acte de naissance"
    assert doc.fields == {
        "Type d'acte": "Acte de naissance",
        "Nature de l'acte": "Copie intégrale",
        "Date de l'acte": "1971-03-09",
        "Lieu de l'acte": "NICE (06088)",
        "Titulaire": "DUPONT Jeanne Marie",
        "Demandeur": "EXEMPLE-FICTIF Jeanne Marie",
        "Qualité du demandeur": "La personne concernée par l'acte",
        "Nombre d'exemplaires": "2",
    }
    assert doc.data["EnveloppeMetierType"]["@canal_utilise"] == "0"
    assert (
        doc.data["EnveloppeMetierType"]["DemandeActe"]["MotifDemande"]["Commentaire"] == "Dossier de retraite"
    )


def test_rco_key_fields() -> None:
    doc = read_business_xml(RCO.read_bytes(), RCO.name, "RCO-LA")
    assert doc.title == "MARTIN LUCAS — recensement citoyen"
    assert doc.fields == {
        "Nom de famille": "MARTIN",
        "Prénom": "LUCAS",
        "Sexe": "masculin",
        "Date de naissance": "2010-05-17",
        "Lieu de naissance": "CANNES (06029)",
        "Pays de naissance": "FRA",
    }
    # The parents' empty blocks are kept as data, not mistaken for the person.
    assert doc.data["RecensementCitoyen"]["FiliationPere"]["NomFamille"] is None


def test_ile_key_fields() -> None:
    doc = read_business_xml(ILE.read_bytes(), ILE.name, "ILE-LA")
    assert doc.title == "EXEMPLE Claire Sophie — inscription sur les listes électorales"
    assert doc.fields == {
        "Électeur": "EXEMPLE Claire Sophie",
        "Date de naissance": "1990-03-12",
        "Lieu de naissance": "LYON (69123)",
        "Commune d'inscription": "NICE (06088)",
    }


@pytest.mark.parametrize(
    ("path", "flow", "title"),
    [
        pytest.param(
            "ETATCIVIL/ActeEtatCivil-XML.xml",
            "AEC-LA",
            "DUBOIS Angela Claire Louise — copie intégrale d'acte de naissance",
            id="aec",
        ),
        pytest.param(
            "RECENSEMENTCITOYEN/10870-XML.xml", "RCO-LA", "BUREAU ALAIN — recensement citoyen", id="rco"
        ),
        # The "coordonnées" sample is a copy of the état civil one: nothing to find, no error.
        pytest.param(
            "JECHANGEDECOORDONNEES/flux-siv.xml", "RCO-LA", "Recensement citoyen", id="wrong-payload"
        ),
    ],
)
def test_shared_hubee_samples(path: str, flow: str, title: str) -> None:
    file = JDD / path
    assert read_business_xml(file.read_bytes(), file.name, flow).title == title


def test_empty_documents_give_the_flow_label() -> None:
    empty = {
        "AEC-LA": b"<EnveloppeMetierType><DemandeActe><TypeActe/><Titulaire><NomNaissance/></Titulaire>"
        b"</DemandeActe></EnveloppeMetierType>",
        "RCO-LA": b"<RecensementCitoyen><Personne><NomFamille>  </NomFamille></Personne>"
        b"</RecensementCitoyen>",
        "ILE-LA": b"<InscriptionListeElectorale/>",
    }
    titles = {
        "AEC-LA": "Demande d'acte d'état civil",
        "RCO-LA": "Recensement citoyen",
        "ILE-LA": "Inscription sur les listes électorales",
    }
    for flow, data in empty.items():
        doc = read_business_xml(data, "doc.xml", flow)
        assert doc.fields == {}
        assert doc.title == titles[flow]


def test_codes_without_labels_namespaces_and_dates() -> None:
    root = parse_xml(
        b"""<m:EnveloppeMetierType xmlns:m="urn:exemple"><m:DemandeActe>
          <m:TypeActe><m:Code>MARIAGE</m:Code></m:TypeActe>
          <m:NatureActe><m:Code>EXTRAIT-AVEC-FILIATION</m:Code><m:Libelle></m:Libelle></m:NatureActe>
          <m:DateActe>2001-06-30T00:00:00+02:00</m:DateActe>
          <m:LieuActe><m:Ville>CANNES</m:Ville></m:LieuActe>
          <m:Demandeur><m:Nom>exemple</m:Nom><m:QualiteDemandeur><m:Code>Conjoint</m:Code></m:QualiteDemandeur>
          </m:Demandeur>
        </m:DemandeActe></m:EnveloppeMetierType>"""
    )
    result = key_fields("AEC-LA", root)
    assert result.title == "EXEMPLE — extrait avec filiation d'acte de mariage"
    assert result.fields == {
        "Type d'acte": "acte de mariage",
        "Nature de l'acte": "extrait avec filiation",
        "Date de l'acte": "2001-06-30",
        "Lieu de l'acte": "CANNES",
        "Demandeur": "EXEMPLE",
        "Qualité du demandeur": "Conjoint",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("04/04/2003", "2003-04-04", id="french"),
        pytest.param("4/7/2003", "2003-07-04", id="french-short"),
        pytest.param("2003-04-04", "2003-04-04", id="iso"),
        pytest.param("2003-04-04T11:42:48", "2003-04-04", id="iso-datetime"),
        pytest.param("31/02/2003", "31/02/2003", id="impossible-kept"),
        pytest.param("vers 1950", "vers 1950", id="free-text-kept"),
    ],
)
def test_birth_dates_are_normalised_when_possible(value: str, expected: str) -> None:
    xml = f"<RecensementCitoyen><Personne><NomFamille>X</NomFamille><DateNaissance>{value}</DateNaissance>"
    result = key_fields("RCO-LA", parse_xml(xml.encode() + b"</Personne></RecensementCitoyen>"))
    assert result.fields["Date de naissance"] == expected


def test_repeated_birth_places_prefer_the_commune() -> None:
    root = parse_xml(
        b"""<RecensementCitoyen><Personne><NomFamille>X</NomFamille><Sexe>2</Sexe>
        <LieuNaissance><Code>AUTRE</Code><Nom>99999</Nom></LieuNaissance>
        <LieuNaissance><Code>COMMUNE</Code><Nom>  SAINT-ETIENNE </Nom></LieuNaissance>
        </Personne></RecensementCitoyen>"""
    )
    fields = key_fields("RCO-LA", root).fields
    assert fields["Lieu de naissance"] == "SAINT-ETIENNE"
    assert fields["Sexe"] == "féminin"


def test_unknown_flow_and_hostile_xml() -> None:
    with pytest.raises(ValueError, match="DAUA"):
        read_business_xml(ILE.read_bytes(), ILE.name, "DAUA")
    with pytest.raises(RejectedItemError, match=r"doc\.xml : les DTD et entités XML sont refusées"):
        read_business_xml(
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "doc.xml", "RCO-LA"
        )
