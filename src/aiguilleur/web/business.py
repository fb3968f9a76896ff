"""Business data shown to agents: parsed XML (``xml_to_dict``) turned into labelled sections.

Tags become French labels: a table of the common ones (``NomFamille`` → « Nom de famille »), else the
tag split at its capitals with accents put back on frequent words (``DateSoumission`` → « Date
soumission »). Empty elements, frequent in the portals' documents, are left out; a ``Code``/``Libelle``
pair shows its label; ISO dates are written the French way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

LABELS = {
    "NomFamille": "Nom de famille",
    "NomUsage": "Nom d'usage",
    "NomNaissance": "Nom de naissance",
    "PrenomUsuel": "Prénom usuel",
    "Prenom": "Prénom",
    "Prenoms": "Prénoms",
    "DateNaissance": "Date de naissance",
    "DateDeNaissance": "Date de naissance",
    "LieuNaissance": "Lieu de naissance",
    "LieuDeNaissance": "Lieu de naissance",
    "PaysNaissance": "Pays de naissance",
    "DepartementDeNaissance": "Département de naissance",
    "CodeINSEENaissance": "Code INSEE de naissance",
    "CodeINSEE": "Code INSEE",
    "CodePostal": "Code postal",
    "AdresseDomicile": "Adresse du domicile",
    "AdresseResidence": "Adresse de résidence",
    "AdresseFrancaise": "Adresse en France",
    "NumeroVoie": "Numéro",
    "TypeVoie": "Type de voie",
    "NomVoie": "Voie",
    "LieuDit": "Lieu-dit",
    "PointDeRemise": "Point de remise",
    "MethodeContact": "Moyen de contact",
    "CanalCode": "Canal",
    "URI": "Coordonnée",
    "FiliationPere": "Père",
    "FiliationMere": "Mère",
    "SituationFamille": "Situation familiale",
    "NombreFrereSoeur": "Nombre de frères et sœurs",
    "NombreEnfants": "Nombre d'enfants",
    "TypeActe": "Type d'acte",
    "NatureActe": "Nature de l'acte",
    "DateActe": "Date de l'acte",
    "LieuActe": "Lieu de l'acte",
    "MotifDemande": "Motif de la demande",
    "QualiteDemandeur": "Qualité du demandeur",
    "NombreExemplaires": "Nombre d'exemplaires",
    "DemandeActe": "Demande d'acte",
    "FormaliteType": "Type de formalité",
    "FormaliteMotifCode": "Motif",
    "FormaliteModeCode": "Mode",
    "DateSoumission": "Date de soumission",
    "CommuneInscription": "Commune d'inscription",
    "InscriptionPrecedente": "Inscription précédente",
    "MotifInscription": "Motif de l'inscription",
    "RecensementCitoyen": "Recensement citoyen",
    "InscriptionListeElectorale": "Inscription sur les listes électorales",
    "EnveloppeMetierType": "Demande",
    "Courriel": "Courriel",
    "Telephone": "Téléphone",
    "#text": "Valeur",
}
ACCENTS = {
    "prenom": "prénom",
    "prenoms": "prénoms",
    "numero": "numéro",
    "telephone": "téléphone",
    "qualite": "qualité",
    "nationalite": "nationalité",
    "civilite": "civilité",
    "departement": "département",
    "electeur": "électeur",
    "etat": "état",
    "formalite": "formalité",
    "precedente": "précédente",
    "residence": "résidence",
    "demarche": "démarche",
    "beneficiaire": "bénéficiaire",
    "identite": "identité",
    "entreprise": "entreprise",
    "reference": "référence",
    "societe": "société",
    "categorie": "catégorie",
    "controle": "contrôle",
    "complement": "complément",
    "localite": "localité",
    "utilise": "utilisé",
    "teledemarche": "télédémarche",
    "teledossier": "télédossier",
    "deces": "décès",
    "pere": "père",
    "mere": "mère",
}
COMPACT_MAX = 3
_WORDS = re.compile(r"[A-Z]{2,}(?=[A-Z][a-z]|\b|\d|_)|[A-Z]?[a-z]+|[A-Z]+|\d+")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_ISO_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?"
)


@dataclass(slots=True)
class Node:
    """A labelled value, or a labelled group of nodes."""

    label: str
    value: str = ""
    children: list[Node] = field(default_factory=list)

    @property
    def is_group(self) -> bool:
        return bool(self.children)


def label(tag: str) -> str:
    """A French label for an XML tag or attribute (``@canal_utilise`` → « Canal utilisé »)."""
    tag = tag.removeprefix("@")
    if tag in LABELS:
        return LABELS[tag]
    words = _WORDS.findall(tag.replace("_", " ")) or [tag]
    lowered = [w if w.isupper() and len(w) > 1 else ACCENTS.get(w.lower(), w.lower()) for w in words]
    text = " ".join(lowered)
    return text[:1].upper() + text[1:]


def readable_value(value: str) -> str:
    """ISO dates and date-times the French way; anything else as it is, whitespace collapsed."""
    text = " ".join(value.split())
    match = _ISO_DATETIME.fullmatch(text)
    if match is not None:
        day = _date(match.group(1), match.group(2), match.group(3))
        return f"{day} à {match.group(4)}:{match.group(5)}" if day else text
    match = _ISO_DATE.fullmatch(text)
    if match is not None:
        return _date(match.group(1), match.group(2), match.group(3)) or text
    return text


def _date(year: str, month: str, day: str) -> str:
    try:
        return date(int(year), int(month), int(day)).strftime("%d/%m/%Y")
    except ValueError:
        return ""


def tree(data: Any, name: str = "") -> list[Node]:
    """The nodes of ``data`` (a dict from ``xml_to_dict``, or any JSON), empty values left out."""
    if isinstance(data, dict):
        return [node for key, value in data.items() for node in _nodes(str(key), value)]
    return _nodes(name or "Valeur", data)


def _nodes(key: str, value: Any) -> list[Node]:
    if value is None or value == "" or value == [] or value == {}:
        return []
    if isinstance(value, list):
        return [n for i, item in enumerate(value, 1) for n in _item(key, item, i, len(value))]
    if isinstance(value, dict):
        pair = _code_label(value)
        if pair is not None:
            return [Node(label(key), pair)]
        children = tree(value)
        if not children:
            return []
        if len(children) <= COMPACT_MAX and not any(c.is_group for c in children):
            # a small record (a place, a contact) reads better on one line
            return [Node(label(key), " · ".join(f"{c.label} : {c.value}" for c in children))]
        return [Node(label(key), children=children)]
    if isinstance(value, bool):
        return [Node(label(key), "oui" if value else "non")]
    return [Node(label(key), readable_value(str(value)))]


def _item(key: str, item: Any, index: int, count: int) -> list[Node]:
    nodes = _nodes(key, item)
    for node in nodes:
        node.label = f"{node.label} ({index}/{count})" if count > 1 else node.label
    return nodes


def _code_label(value: dict[str, Any]) -> str | None:
    """``{"Code": "LG", "Libelle": "Liste générale"}`` → « Liste générale (LG) »; None for other dicts."""
    keys = {k for k, v in value.items() if v not in (None, "")}
    if not keys <= {"Code", "Libelle", "Commentaire"} or not keys & {"Code", "Libelle"}:
        return None
    code, text = str(value.get("Code") or ""), str(value.get("Libelle") or "")
    if "Commentaire" in keys and value["Commentaire"] != text:
        text = f"{text} — {value['Commentaire']}" if text else str(value["Commentaire"])
    if text and code and code != text:
        return f"{text} ({code})"
    return text or code


@dataclass(slots=True)
class Section:
    """One business document of a dossier, ready to show: its title, nodes and raw XML document id."""

    title: str
    nodes: list[Node]
    raw_document_id: int | None = None


def sections(data: dict[str, Any], raw_ids: dict[str, int]) -> list[Section]:
    """The business documents of a dossier's data, one section each.

    ``data["documents"]`` (MDEL: business XML by code) gives one section per document; other channels'
    data is shown as one section, without the keys shown elsewhere (``fields``, ``message``, raw XML).
    ``raw_ids`` maps a document key to the id of its original XML document, for the « XML » link.
    """
    documents = data.get("documents")
    if isinstance(documents, dict) and documents:
        result = []
        for key, parsed in documents.items():
            title, nodes = _unwrap(key, tree(parsed))
            result.append(Section(title, nodes, raw_ids.get(key)))
        return result
    rest = {k: v for k, v in data.items() if k not in ("fields", "message", "header_xml", "documents")}
    nodes = tree(rest)
    return [Section("Données reçues", nodes)] if nodes else []


def _unwrap(title: str, nodes: list[Node]) -> tuple[str, list[Node]]:
    """Lift the only group of a level (an envelope, the root element) up; its label becomes the title.

    ``EnveloppeMetierType(@canal, DemandeActe(...))`` reads as « Demande d'acte » with the attribute and
    the request's own fields at the top, not as a box in a box.
    """
    while True:
        groups = [n for n in nodes if n.is_group]
        if len(groups) != 1:
            return title, nodes
        title = groups[0].label
        nodes = [n for n in nodes if not n.is_group] + groups[0].children
