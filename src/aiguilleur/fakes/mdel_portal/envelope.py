"""File names and the two envelope files of an MDEL demand: ``message.xml`` (PEC) and ``-ent.xml``.

Shapes follow seed 002 (section IV) and the real DILA pre-production vector described in
``research/anchors-passerelle-pastell.md`` §2: the PEC envelope in namespace ``ns2`` with a Header/Routing
(MessageId, FlowType, Sender, Recipients, acknowledgements), Header/Security, and Body/Content/Aller whose
children are in the default "teledemarchexml" business namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from lxml import etree

PEC_NS = "http://finances.gouv.fr/dgme/pec/message/v1"
METIER_NS = "http://finances.gouv.fr/dgme/gf/composants/teledemarchexml/donnee/metier"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

PORTAL_SIRET = "13002526500013"  # fictional sender SIRET of the portal (checksum-valid)
PLATFORM_ID = "PSL_PART"  # IdentifiantPlateforme seen in the real vector


def zip_name(numero: str, flow: str, step: int) -> str:
    return f"{numero}-{flow}-{step}.zip"


def ent_name(numero: str, flow: str, step: int) -> str:
    return f"{numero}-{flow}-ent-{step}.xml"


def doc_name(numero: str, flow: str, code: str, step: int, ext: str) -> str:
    return f"{numero}-{flow}-doc-{code}-1-{step}.{ext}"


def pj_name(numero: str, flow: str, code: str, index: int, step: int) -> str:
    return f"{numero}-{flow}-pj-{code}-{index}-{step}.pdf"


def paris_time(moment: datetime) -> datetime:
    """`moment` in French legal time (EU rule: +02:00 from the last Sunday of March to the last Sunday of
    October, both at 01:00 UTC; +01:00 otherwise). Hand-written so output never depends on tzdata."""

    def last_sunday(month: int) -> datetime:
        day = datetime(moment.year, month, 31, 1, tzinfo=UTC)
        return day - timedelta(days=(day.weekday() + 1) % 7)

    utc = moment.astimezone(UTC)
    hours = 2 if last_sunday(3) <= utc < last_sunday(10) else 1
    return utc.astimezone(timezone(timedelta(hours=hours)))


def iso_paris(moment: datetime) -> str:
    """Like the seed's example ``2012-10-15T10:50:54.240+02:00``."""
    return paris_time(moment).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Piece:
    """A PieceJointe entry: the user's original file name, a code (ji, jd, jf), the file in the zip."""

    intitule: str
    code: str
    fichier: str


@dataclass(frozen=True, slots=True)
class DocEntry:
    """A Document entry: Code, Nom and FichierFormulaire/FichierDonnees (the file in the zip)."""

    code: str
    nom: str
    fichier: str


@dataclass(frozen=True, slots=True)
class Teledemarche:
    numero: str
    demarche: str
    date: str
    password: str
    email: str


def _m(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{METIER_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _p(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{PEC_NS}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _business(
    parent: etree._Element,
    td: Teledemarche,
    insee: str,
    pieces: Sequence[Piece],
    documents: Sequence[DocEntry],
) -> None:
    """The Aller content, shared by message.xml and the -ent.xml header."""
    _m(parent, "NumeroDemarche", td.demarche)
    tele = _m(parent, "Teledemarche")
    _m(tele, "NumeroTeledemarche", td.numero)
    _m(tele, "MotDePasse", td.password)
    _m(tele, "Suivi", "true")
    _m(tele, "Date", td.date)
    _m(tele, "IdentifiantPlateforme", PLATFORM_ID)
    _m(tele, "Email", td.email)
    donnee = _m(_m(parent, "Routage"), "Donnee")
    _m(donnee, "Id", "CodeINSEE")
    _m(donnee, "Valeur", insee)
    for piece in pieces:
        block = _m(parent, "PieceJointe")
        _m(block, "Intitule", piece.intitule)
        _m(block, "Code", piece.code)
        _m(block, "Fichier", piece.fichier)
    for doc in documents:
        block = _m(parent, "Document")
        _m(block, "Code", doc.code)
        _m(block, "Nom", doc.nom)
        _m(_m(block, "FichierFormulaire"), "FichierDonnees", doc.fichier)


def _location(parent: etree._Element, siret: str, service: str, guichet: str | None = None) -> None:
    _p(parent, "Country", "FR")
    location = _p(parent, "Location")
    location.set(f"{{{XSI_NS}}}type", "ns2:Location_FR")
    _p(location, "Siret", siret)
    _p(location, "Service", service)
    if guichet:
        _p(location, "Guichet", guichet)


def _serialize(root: etree._Element) -> bytes:
    etree.indent(root, space="  ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8") + b"\n"


def message_xml(
    *,
    message_id: str,
    flow: str,
    sender_siret: str,
    recipient_siret: str,
    service: str,
    td: Teledemarche,
    insee: str,
    pieces: Sequence[Piece],
    documents: Sequence[DocEntry],
) -> bytes:
    """The PEC envelope of a demand (seed 002 §IV.1 plus the header fields of the real vector)."""
    nsmap: dict[str | None, str] = {"ns2": PEC_NS, None: METIER_NS, "xsi": XSI_NS}
    # lxml takes None for the default namespace; lxml-stubs type nsmap keys as str.
    root = etree.Element(f"{{{PEC_NS}}}Message", nsmap=nsmap)  # type: ignore[arg-type]
    header = _p(root, "Header")
    routing = _p(header, "Routing")
    _p(routing, "MessageId", message_id)
    _p(routing, "FlowType", flow)
    _location(_p(routing, "Sender"), sender_siret, "MDEL", PLATFORM_ID)
    _location(_p(_p(routing, "Recipients"), "Recipient"), recipient_siret, service)
    _p(routing, "AckRequired", "true")
    _p(routing, "AckType", "AVL")
    _p(routing, "AckType", "ANL")
    _p(routing, "AckTo", f"{PORTAL_SIRET}/MDEL")
    security = _p(header, "Security")
    _p(security, "Horodatage", "false")
    _p(security, "DateTime", td.date)
    rejeu = _p(security, "Rejeu")
    _p(rejeu, "NbRejeu", "3")
    _p(rejeu, "Delais", "3600")
    email = _p(_p(header, "Extras"), "EmailConfiguration")
    _p(email, "From", "ne-pas-repondre@example.org")
    _p(email, "Subject", f"Télédémarche {td.numero}")
    _p(email, "Body", "Le mot de passe du gestionnaire de suivi figure dans le fichier -ent du flux.")
    aller = _p(_p(_p(root, "Body"), "Content"), "Aller")
    _business(aller, td, insee, pieces, documents)
    return _serialize(root)


def ent_xml(td: Teledemarche, insee: str, pieces: Sequence[Piece], documents: Sequence[DocEntry]) -> bytes:
    """The EnteteMetierEnveloppe: the same business header, alone, in the business namespace."""
    nsmap: dict[str | None, str] = {None: METIER_NS}
    root = etree.Element(f"{{{METIER_NS}}}EnteteMetierEnveloppe", nsmap=nsmap)  # type: ignore[arg-type]
    _business(root, td, insee, pieces, documents)
    return _serialize(root)
