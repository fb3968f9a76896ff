"""Key fields of each flow's business XML (the ``-doc`` XML file of a demand).

The whole document is kept as generic JSON (`xml_to_dict`); on top of it each flow gets a few fields
with French labels, for agents and listings, and a one-line title such as
``DUBOIS Angela — copie intégrale d'acte de naissance``. The samples of the portal are sloppy
(research anchors-passerelle-pastell.md §2.6): empty elements everywhere, dates as ISO or dd/mm/yyyy,
repeated ``LieuNaissance``, stray whitespace. So every field is optional, empty values are left
out, whitespace is collapsed, and dates are given as ISO 8601 (``YYYY-MM-DD``) when they can be read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from lxml import etree

from aiguilleur.connectors.mdel.names import FLOW_TYPES
from aiguilleur.transport.xml import find_text, localname, parse_xml, xml_to_dict


@dataclass(frozen=True, slots=True)
class KeyFields:
    """The fields an agent looks at first (French label -> value, in display order) and a title."""

    fields: dict[str, str]
    title: str


@dataclass(frozen=True, slots=True)
class BusinessData:
    """A ``-doc`` XML file: all of it as JSON-able data, and its key fields."""

    data: dict[str, Any]
    fields: dict[str, str]
    title: str


def read_business_xml(data: bytes, source: str, flow_type: str) -> BusinessData:
    """Parse a ``-doc`` business XML of `flow_type` with the hardened parser.

    Raises RejectedItemError when the XML is hostile or invalid (`parse_xml`), ValueError when
    `flow_type` is not one of FLOW_TYPES. A document that lacks the expected elements is not an
    error: its key fields are simply empty and the title falls back to the flow's label.
    """
    root = parse_xml(data, source=source)
    key = key_fields(flow_type, root)
    return BusinessData(data=xml_to_dict(root), fields=key.fields, title=key.title)


def key_fields(flow_type: str, root: etree._Element) -> KeyFields:
    """Extract the key fields of `flow_type` from a parsed business XML.

    Raises ValueError when `flow_type` is not one of FLOW_TYPES.
    """
    extractor = _EXTRACTORS.get(flow_type)
    if extractor is None:
        raise ValueError(f"unknown MDEL flow type: {flow_type!r}")
    return extractor(root)


# -- AEC-LA: demande d'acte d'état civil ---------------------------------------------------------------

# Used when the portal sent a code without its Libelle. NAISSANCE and COPIE-INTEGRALE are in the HubEE
# JDD; the others follow the same scheme but are our guess. Any other code is shown as it came.
_ACT_TYPES = {"NAISSANCE": "acte de naissance", "MARIAGE": "acte de mariage", "DECES": "acte de décès"}
_ACT_NATURES = {
    "COPIE-INTEGRALE": "copie intégrale",
    "EXTRAIT-AVEC-FILIATION": "extrait avec filiation",
    "EXTRAIT-SANS-FILIATION": "extrait sans filiation",
    "EXTRAIT-PLURILINGUE": "extrait plurilingue",
}


def _aec(root: etree._Element) -> KeyFields:
    demande = _find(root, "DemandeActe") if localname(root) != "DemandeActe" else root
    if demande is None:
        demande = root
    act_type = _labelled(_child(demande, "TypeActe"), _ACT_TYPES)
    nature = _labelled(_child(demande, "NatureActe"), _ACT_NATURES)
    titulaire = _child(demande, "Titulaire")
    demandeur = _child(demande, "Demandeur")
    holder = (
        _person(titulaire, ("NomNaissance", "Nom"), ("Prenoms", "Prenom")) if titulaire is not None else ""
    )
    applicant = (
        _person(demandeur, ("Nom", "NomNaissance"), ("Prenom", "Prenoms")) if demandeur is not None else ""
    )
    fields = _fields(
        ("Type d'acte", act_type),
        ("Nature de l'acte", nature),
        ("Date de l'acte", _date(_text(demande, "DateActe"))),
        ("Lieu de l'acte", _place(_child(demande, "LieuActe"))),
        ("Titulaire", holder),
        ("Demandeur", applicant),
        ("Qualité du demandeur", _labelled(_child(demandeur, "QualiteDemandeur"), {})),
        ("Nombre d'exemplaires", _text(demande, "NombreExemplaires")),
    )
    if nature and act_type:
        what = f"{nature.lower()} {_de(act_type.lower())}"
    else:
        what = (nature or act_type).lower() or "demande d'acte d'état civil"
    return KeyFields(fields=fields, title=_title(holder or applicant, what))


# -- RCO-LA: recensement citoyen -----------------------------------------------------------------------

_SEXES = {"1": "masculin", "M": "masculin", "2": "féminin", "F": "féminin"}


def _rco(root: etree._Element) -> KeyFields:
    personne = _find(root, "Personne")
    if personne is None:
        return KeyFields(fields={}, title=_title("", FLOW_TYPES["RCO-LA"]))
    sexe = _text(personne, "Sexe")
    fields = _fields(
        ("Nom de famille", _text(personne, "NomFamille")),
        ("Nom d'usage", _text(personne, "NomUsage")),
        ("Prénom", _first_text(personne, "PrenomUsuel", "Prenom", "Prenoms")),
        ("Sexe", _SEXES.get(sexe.upper(), sexe)),
        ("Date de naissance", _date(_text(personne, "DateNaissance"))),
        ("Lieu de naissance", _birth_place(personne)),
        ("Pays de naissance", _text(personne, "PaysNaissance")),
    )
    who = _person(personne, ("NomFamille", "NomNaissance", "Nom"), ("PrenomUsuel", "Prenom", "Prenoms"))
    return KeyFields(fields=fields, title=_title(who, FLOW_TYPES["RCO-LA"]))


# -- ILE-LA: inscription sur les listes électorales ----------------------------------------------------
# No sample of this flow was found (it moved to INSEE's REU in 2019): the shape read here is our own
# guess, kept tolerant (tests/data/mdel/README.md).


def _ile(root: etree._Element) -> KeyFields:
    electeur = _find(root, "Electeur", "Personne")
    if electeur is None:
        electeur = root
    who = _person(electeur, ("NomNaissance", "NomFamille", "Nom"), ("Prenoms", "PrenomUsuel", "Prenom"))
    commune = _find(root, "CommuneInscription")
    address = _find(electeur, "Adresse", "AdresseDomicile")
    fields = _fields(
        ("Électeur", who),
        ("Nom d'usage", _text(electeur, "NomUsage")),
        ("Date de naissance", _date(_first_text(electeur, "DateNaissance", "DateDeNaissance"))),
        ("Lieu de naissance", _birth_place(electeur)),
        ("Commune d'inscription", _place(commune) or _place(address)),
    )
    return KeyFields(fields=fields, title=_title(who, FLOW_TYPES["ILE-LA"]))


_EXTRACTORS: dict[str, Callable[[etree._Element], KeyFields]] = {
    "AEC-LA": _aec,
    "RCO-LA": _rco,
    "ILE-LA": _ile,
}
assert set(_EXTRACTORS) == set(FLOW_TYPES)


# -- tolerant lookups ----------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_FR_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?")
_VOWELS = frozenset("aeiouyàâäéèêëîïôöùûüœæ")


def _text(element: etree._Element | None, name: str) -> str:
    """The collapsed text of the first child `name` that has some, or ""."""
    if element is None:
        return ""
    return _SPACES.sub(" ", find_text(element, name) or "")


def _first_text(element: etree._Element | None, *names: str) -> str:
    return next((t for t in (_text(element, n) for n in names) if t), "")


def _child(element: etree._Element | None, name: str) -> etree._Element | None:
    """The first child `name` (local name); an empty child counts, so that callers can fall back."""
    if element is None:
        return None
    return next((c for c in element if localname(c) == name), None)


def _find(element: etree._Element, *names: str) -> etree._Element | None:
    """The first child, else the first descendant, named like one of `names` (in that preference).

    Elements are never used as booleans here: an lxml element without children is falsy.
    """
    for name in names:
        child = _child(element, name)
        if child is not None:
            return child
    for name in names:
        found = next((e for e in element.iter() if e is not element and localname(e) == name), None)
        if found is not None:
            return found
    return None


def _children(element: etree._Element, name: str) -> Iterator[etree._Element]:
    return (c for c in element if localname(c) == name)


def _labelled(element: etree._Element | None, labels: dict[str, str]) -> str:
    """A ``Code``/``Libelle`` pair: the Libelle, else a known label for the code, else the code."""
    code = _text(element, "Code")
    return _text(element, "Libelle") or labels.get(code.upper(), code)


def _person(element: etree._Element, surnames: tuple[str, ...], given_names: tuple[str, ...]) -> str:
    """``NOM Prénoms``: the surname in capitals, as French administrations write it."""
    return " ".join(
        p for p in (_first_text(element, *surnames).upper(), _first_text(element, *given_names)) if p
    )


def _place(element: etree._Element | None) -> str:
    """``Ville (CodeINSEE)`` from an address-like element, or its own text when it has no children."""
    if element is None:
        return ""
    if len(element) == 0:
        return _SPACES.sub(" ", (element.text or "").strip())
    name = _first_text(element, "Ville", "Nom", "Localite", "Commune", "Libelle")
    code = _first_text(element, "CodeINSEE", "CodePostal")
    if name and code:
        return f"{name} ({code})"
    return name or code


def _birth_place(person: etree._Element) -> str:
    """The birth place, from repeated ``LieuNaissance`` (COMMUNE first) or ``LieuDeNaissance``."""
    places = list(_children(person, "LieuNaissance")) + list(_children(person, "LieuDeNaissance"))
    places.sort(key=lambda p: _text(p, "Code").upper() != "COMMUNE")  # stable: COMMUNE ones first
    for place in places:
        found = _place(place)
        if found:
            insee = _text(person, "CodeINSEENaissance")
            return f"{found} ({insee})" if insee and "(" not in found else found
    return ""


def _date(value: str) -> str:
    """``YYYY-MM-DD`` from ISO (date or date-time) or French dd/mm/yyyy; anything else as it was."""
    for pattern, order in ((_ISO_DATE, (1, 2, 3)), (_FR_DATE, (3, 2, 1))):
        match = pattern.fullmatch(value)
        if match is not None:
            try:
                return date(*(int(match.group(i)) for i in order)).isoformat()
            except ValueError:
                return value
    return value


def _de(noun: str) -> str:
    return f"d'{noun}" if noun[:1] in _VOWELS else f"de {noun}"


def _title(who: str, what: str) -> str:
    return f"{who} — {what}" if who else what[:1].upper() + what[1:]


def _fields(*pairs: tuple[str, str]) -> dict[str, str]:
    return {label: value for label, value in pairs if value}
