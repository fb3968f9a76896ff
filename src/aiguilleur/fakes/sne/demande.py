"""The demande file (``interfaceNuu``, research/sne.md §1.2) as the fake SNE reads and returns it.

Reading keeps the client's tree and pulls out what the register needs; the controls here are the
structural ones (the XSD skeleton plus libsne's own checks), each failure an `Anomaly` as the SNE returns
them in ``demandeLogement/listeAnomalie``. Writing imitates the JAXB output research saw in SNE exports:
``<?xml version="1.0" encoding="UTF-8" standalone="yes"?>``, prefix ``ns1:``, 4-space indentation.

The on-wire anomaly codes are unknown (research §3: the CdC's ``CTRL_DEM_00xx`` does not fit the 10
characters of ``@code``); the fake's ``DEM_00xx`` codes below are its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from lxml import etree

from aiguilleur.errors import RejectedItemError
from aiguilleur.fakes.sne import wire
from aiguilleur.transport.xml import parse_xml

N = f"{{{wire.NUU_NS}}}"
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(Z|[+-]\d{2}:\d{2})?$")
_COMMUNE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")

AddAnomaly = Callable[[str, str, str], None]  # (code, propriete, message)


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One ``listeAnomalie/anomalie``: @code (≤ 10 chars), @propriete (the faulty field), complements,
    message (≤ 512 chars)."""

    code: str
    message: str
    propriete: str | None = None
    complements: tuple[tuple[str, str], ...] = ()


class DemandeUnreadable(Exception):
    """The file is not an interfaceNuu document at all (not XML, wrong root)."""


@dataclass(slots=True)
class Demande:
    """What the fake reads from one demande file; `root` is the client's tree, kept for the answer."""

    root: etree._Element
    version: str
    type_fichier: str
    num_guichet: str
    num_unique: str
    date_creation: date | None
    forcer_doublon: bool
    is_association: bool
    nom: str
    prenom: str
    date_naissance: str
    communes: tuple[str, ...]
    statut_dalo: str | None
    date_decision_dalo: str | None
    radiation_date: str | None
    radiation_motif: str | None
    type_reservataire: str | None
    anomalies: list[Anomaly] = field(default_factory=list)


def _text(parent: etree._Element | None, path: str) -> str:
    if parent is None:
        return ""
    found = parent.find(path)
    return (found.text or "").strip() if found is not None else ""


def _code(parent: etree._Element | None, path: str) -> str | None:
    if parent is None:
        return None
    found = parent.find(path)
    return found.get("code") if found is not None else None


def parse_date(text: str) -> date | None:
    """An xs:date (an offset is allowed and ignored), or None."""
    match = _DATE.match(text.strip())
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def read_demande(data: bytes) -> Demande:
    """Read a demande file and run the structural controls; raises DemandeUnreadable."""
    try:
        root = parse_xml(data, max_bytes=5 * 1024 * 1024, source="fichierDemande")
    except RejectedItemError as exc:
        raise DemandeUnreadable(str(exc)) from exc
    if root.tag != f"{N}interfaceNuu":
        raise DemandeUnreadable(f"the root element is {root.tag}, not {{{wire.NUU_NS}}}interfaceNuu")
    demande = root.find(f"{N}demande")
    logement = demande.find(f"{N}demandeLogement") if demande is not None else None
    physique = logement.find(f"{N}personnePhysique") if logement is not None else None
    demandeur = physique.find(f"{N}demandeur") if physique is not None else None
    radiation = logement.find(f"{N}radiation") if logement is not None else None
    reservataire = radiation.find(f".//{N}typeReservataire") if radiation is not None else None
    communes = tuple(
        c.get("code", "")
        for c in root.iterfind(f".//{N}logementRecherche/{N}listeLocalisationSouhaite//{N}commune")
    )
    parsed = Demande(
        root=root,
        version=root.get("versionInterface", ""),
        type_fichier=_text(root, f"{N}entete/{N}typeFichier"),
        num_guichet=_text(logement, f"{N}numGuichet"),
        num_unique=_text(logement, f"{N}numUnique"),
        date_creation=parse_date(_text(logement, f"{N}dateCreationDemande")),
        forcer_doublon=_text(logement, f"{N}forcerDoublon").lower() in ("true", "1"),
        is_association=logement is not None and logement.find(f"{N}association") is not None,
        nom=_text(demandeur, f"{N}nom"),
        prenom=_text(demandeur, f"{N}prenom"),
        date_naissance=_text(demandeur, f"{N}dateNaissance"),
        communes=communes,
        statut_dalo=_code(demande, f"{N}informationDalo/{N}statutDalo"),
        date_decision_dalo=_text(demande, f"{N}informationDalo/{N}dateDecisionDalo") or None,
        radiation_date=_text(radiation, f"{N}dateRadiation") or None,
        radiation_motif=_code(radiation, f"{N}motifRadiation"),
        type_reservataire=reservataire.get("code") if reservataire is not None else None,
    )
    parsed.anomalies = _controls(parsed, demande, logement, demandeur)
    return parsed


_LOGEMENT = "demande/demandeLogement"


def _controls(
    d: Demande,
    demande: etree._Element | None,
    logement: etree._Element | None,
    demandeur: etree._Element | None,
) -> list[Anomaly]:
    found: list[Anomaly] = []

    def add(code: str, propriete: str, message: str) -> None:
        found.append(Anomaly(code, message, propriete))

    if d.version not in wire.VERSIONS_INTERFACE:
        add("DEM_0002", "versionInterface", f"La version d'interface [{d.version}] n'est pas supportée.")
    if d.type_fichier not in wire.TYPES_FICHIER:
        add("DEM_0001", "entete/typeFichier", f"Le type de fichier [{d.type_fichier}] est inconnu.")
    if demande is None or logement is None:
        add("DEM_0009", _LOGEMENT, "La demande de logement est absente.")
        return found
    if not d.num_guichet or len(d.num_guichet) > 5:
        add("DEM_0003", f"{_LOGEMENT}/numGuichet", "Le numéro de guichet est absent ou invalide.")
    if d.date_creation is None:
        add("DEM_0004", f"{_LOGEMENT}/dateCreationDemande", "La date de création de la demande est invalide.")
    if logement.find(f"{N}precision") is None:
        add("DEM_0005", f"{_LOGEMENT}/precision", "L'élément precision est obligatoire.")
    if d.type_fichier in ("CRE", "CRS", "MOD", "REN"):
        _logement_recherche(logement, add)
        if not d.is_association:
            _demandeur(demandeur, add)
    return found


def _logement_recherche(logement: etree._Element, add: AddAnomaly) -> None:
    recherche = logement.find(f"{N}logementRecherche")
    path = f"{_LOGEMENT}/logementRecherche"
    if recherche is None or recherche.find(f"{N}demandeElargie") is None:
        add(
            "DEM_0006",
            f"{path}/demandeElargie",
            "Le logement recherché et son élargissement sont obligatoires.",
        )
        return
    for element in recherche.iterfind(f"{N}listeTypeLogement/{N}typeLogement"):
        if element.get("code") not in wire.TYPES_LOGEMENT:
            add(
                "DEM_0007",
                f"{path}/listeTypeLogement/typeLogement",
                f"Type de logement [{element.get('code')}] inconnu.",
            )
    communes = list(recherche.iterfind(f"{N}listeLocalisationSouhaite/{N}localisationSouhaite/{N}commune"))
    if not communes:
        add(
            "DEM_0008", f"{path}/listeLocalisationSouhaite", "Au moins une commune souhaitée est obligatoire."
        )
    for commune in communes:
        if not _COMMUNE.match(commune.get("code", "")):
            add(
                "DEM_0008",
                f"{path}/listeLocalisationSouhaite/localisationSouhaite/commune",
                f"Le code commune [{commune.get('code', '')}] n'est pas un code INSEE.",
            )


def _demandeur(demandeur: etree._Element | None, add: AddAnomaly) -> None:
    path = f"{_LOGEMENT}/personnePhysique/demandeur"
    if demandeur is None:
        add("DEM_0009", path, "Le demandeur est obligatoire pour une personne physique.")
        return
    for name in ("nom", "prenom"):
        if not _text(demandeur, f"{N}{name}"):
            add("DEM_0009", f"{path}/{name}", f"L'élément {name} du demandeur est obligatoire.")
    if demandeur.find(f"{N}civilite") is None:
        add("DEM_0009", f"{path}/civilite", "La civilité du demandeur est obligatoire.")
    if parse_date(_text(demandeur, f"{N}dateNaissance")) is None:
        add("DEM_0010", f"{path}/dateNaissance", "La date de naissance du demandeur est invalide.")


# --- writing -------------------------------------------------------------------------------------

_TAIL_ELEMENTS = (f"{N}dateDerniereModificationPiece", f"{N}incrementFichier")


def jaxb_bytes(root: etree._Element) -> bytes:
    """Serialize as the SNE's JAXB does: declaration with standalone, ``ns1:`` prefix, 4-space indent."""
    copy = _reprefix(root, None)
    etree.indent(copy, space="    ")
    return (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        + etree.tostring(copy, encoding="UTF-8", xml_declaration=False)
        + b"\n"
    )


def _reprefix(element: etree._Element, parent: etree._Element | None) -> etree._Element:
    if parent is None:
        new = etree.Element(element.tag, nsmap={"ns1": wire.NUU_NS})
    else:
        new = etree.SubElement(parent, element.tag)
    for key, value in element.attrib.items():
        new.set(key, value)
    children = [c for c in element if isinstance(c.tag, str)]
    if element.text and (element.text.strip() or not children):
        new.text = element.text
    for child in children:
        _reprefix(child, new)
    return new


def el(tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    """An element of the business namespace."""
    element = etree.Element(f"{N}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def anomaly_list(anomalies: list[Anomaly]) -> etree._Element:
    liste = el("listeAnomalie")
    for anomaly in anomalies:
        attrs = {"code": anomaly.code[:10]}
        if anomaly.propriete:
            attrs["propriete"] = anomaly.propriete[:255]
        item = etree.SubElement(liste, f"{N}anomalie", attrs)
        for nom, value in anomaly.complements:
            etree.SubElement(item, f"{N}complement", {"nom": nom}).text = value
        etree.SubElement(item, f"{N}message").text = anomaly.message[:512]
    return liste


def doublon_element(num_unique: str, stored: etree._Element) -> etree._Element:
    """One ``doublon`` (Doublon_V0200 shape, research §1.3) built from a stored demande."""
    doublon = el("doublon")
    doublon.append(el("numUnique", num_unique))
    demandeur = stored.find(f".//{N}personnePhysique/{N}demandeur")
    if demandeur is not None:
        copy = el("demandeur")
        for name in ("civilite", "nom", "prenom", "dateNaissance", "adressePostale"):
            found = demandeur.find(f"{N}{name}")
            if found is not None:
                copy.append(_deep(found))
        doublon.append(copy)
    cotitulaires = stored.find(f".//{N}personnePhysique/{N}listeCotitulaire")
    if cotitulaires is not None:
        doublon.append(_deep(cotitulaires))
    localisations = el("listeLocalisationSouhaitee")
    for commune in stored.iterfind(f".//{N}listeLocalisationSouhaite//{N}commune"):
        item = etree.SubElement(localisations, f"{N}localisationSouhaitee")
        etree.SubElement(item, f"{N}commune", {"code": commune.get("code", "")})
    doublon.append(localisations)
    return doublon


def _deep(element: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(element))


def returned_demande(
    root: etree._Element,
    *,
    num_unique: str | None = None,
    anomalies: list[Anomaly] | None = None,
    doublons: list[etree._Element] | None = None,
) -> etree._Element:
    """A copy of `root` with `numUnique` set and the server's lists in place of the client's."""
    copy = _deep(root)
    logement = copy.find(f"{N}demande/{N}demandeLogement")
    if logement is None:
        return copy
    for stale in logement.findall(f"{N}listeAnomalie") + logement.findall(f"{N}listeDoublons"):
        logement.remove(stale)
    if num_unique:
        existing = logement.find(f"{N}numUnique")
        if existing is None:
            existing = el("numUnique")
            guichet = logement.find(f"{N}numGuichet")
            logement.insert(0 if guichet is None else logement.index(guichet) + 1, existing)
        existing.text = num_unique
    extra: list[etree._Element] = []
    if anomalies:
        extra.append(anomaly_list(anomalies))
    if doublons:
        liste = el("listeDoublons")
        liste.extend(doublons)
        extra.append(liste)
    tail = next((c for c in logement if c.tag in _TAIL_ELEMENTS), None)
    for element in extra:
        if tail is None:
            logement.append(element)
        else:
            tail.addprevious(element)
    return copy


def anomaly_only_demande(num_unique: str, anomalies: list[Anomaly], now_iso: str) -> etree._Element:
    """What getDemandeLogement returns for a number it cannot serve: an interfaceNuu whose demande
    holds only the number and the anomalies (an assumption: research does not show this answer)."""
    root = el("interfaceNuu", versionInterface="02.01")
    entete = etree.SubElement(root, f"{N}entete")
    etree.SubElement(entete, f"{N}typeFichier").text = "COP"
    etree.SubElement(entete, f"{N}dateFichier").text = now_iso
    logement = etree.SubElement(etree.SubElement(root, f"{N}demande"), f"{N}demandeLogement")
    etree.SubElement(logement, f"{N}numUnique").text = num_unique
    logement.append(anomaly_list(anomalies))
    return root
