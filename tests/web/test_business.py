"""Business data as agents read it: labels instead of tags, empty elements left out, French dates."""

from __future__ import annotations

import pytest

from aiguilleur.web.business import Node, label, readable_value, sections, tree


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        pytest.param("NomFamille", "Nom de famille", id="known-tag"),
        pytest.param("DateSoumission", "Date de soumission", id="known-date"),
        pytest.param("Nationalite", "Nationalité", id="accent-restored"),
        pytest.param("CodeINSEENaissance", "Code INSEE de naissance", id="acronym"),
        pytest.param("@canal_utilise", "Canal utilisé", id="attribute"),
        pytest.param("SituationMatrimoniale", "Situation matrimoniale", id="split-at-capitals"),
        pytest.param("processCode", "Process code", id="lower-camel"),
    ],
)
def test_business_label(tag: str, expected: str) -> None:
    assert label(tag) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2026-03-30", "30/03/2026", id="iso-date"),
        pytest.param("2026-11-24T09:07:36", "24/11/2026 à 09:07", id="iso-datetime"),
        pytest.param("2026-02-30", "2026-02-30", id="impossible-date-kept"),
        pytest.param("  NICE \n  06000 ", "NICE 06000", id="whitespace"),
    ],
)
def test_business_readable_value(value: str, expected: str) -> None:
    assert readable_value(value) == expected


def test_business_tree_leaves_out_empty_elements_and_names_code_label_pairs() -> None:
    nodes = tree(
        {
            "Liste": {"Code": "LG", "Libelle": "Liste générale"},
            "Identifiant": None,
            "Vide": {"A": None, "B": ""},
            "Adresse": {"Voie": "1 RUE DE LA PAIX", "CodePostal": "06000", "Ville": "NICE"},
        }
    )
    assert nodes == [
        Node("Liste", "Liste générale (LG)"),
        Node("Adresse", "Voie : 1 RUE DE LA PAIX · Code postal : 06000 · Ville : NICE"),
    ]


def test_business_tree_numbers_repeated_elements() -> None:
    nodes = tree(
        {
            "MethodeContact": [
                {"URI": "a@example.org", "CanalCode": "EMAIL"},
                {"URI": "06", "CanalCode": "TEL"},
            ]
        }
    )
    assert [n.label for n in nodes] == ["Moyen de contact (1/2)", "Moyen de contact (2/2)"]


def test_business_sections_lift_envelopes_and_link_the_raw_xml() -> None:
    data = {
        "documents": {
            "ActeEtatCivil-XML": {
                "EnveloppeMetierType": {
                    "@canal_utilise": "0",
                    "DemandeActe": {
                        "TypeActe": {"Code": "NAISSANCE", "Libelle": "Acte de naissance"},
                        "Titulaire": {"NomNaissance": "DURAND", "Prenoms": "Paul", "Sexe": "M", "Age": "40"},
                        "Demandeur": {"Nom": "DURAND", "Prenom": "Paul", "Civilite": "M", "Qualite": "x"},
                    },
                }
            }
        },
        "fields": {"Titulaire": "DURAND Paul"},
    }
    (section,) = sections(data, {"ActeEtatCivil-XML": 42})
    assert section.title == "Demande d'acte" and section.raw_document_id == 42
    assert [n.label for n in section.nodes] == ["Canal utilisé", "Type d'acte", "Titulaire", "Demandeur"]


def test_business_sections_of_another_channel_show_its_data() -> None:
    (section,) = sections({"fields": {"x": "y"}, "processCode": "EtatCivil", "header_xml": "<x/>"}, {})
    assert section.title == "Données reçues"
    assert section.nodes == [Node("Process code", "EtatCivil")]
    assert sections({"fields": {}}, {}) == []
