"""Reading an MDEL demand: ``message.xml`` (PEC envelope) and ``…-ent.xml`` (seed 002, section IV).

Element names are matched by local name, whatever the namespaces: the portal puts the envelope in
``http://finances.gouv.fr/dgme/pec/message/v1`` (prefix ``ns2``) and the business part in the default
namespace ``…/teledemarchexml/donnee/metier`` (research anchors-passerelle-pastell.md §2.4), and the
seed's own example leaves them as placeholders. Everything here is pure: the caller has read the
bytes and extracted the zip. Every problem is a RejectedItemError whose message, in French, names
the file and says what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from lxml import etree

from aiguilleur.connectors.mdel.names import FLOW_TYPES, DemandName, is_safe_numero
from aiguilleur.errors import RejectedItemError
from aiguilleur.transport.xml import find_text, localname, parse_xml

_PARIS = ZoneInfo("Europe/Paris")
_INSEE = re.compile(r"(?:[0-9]{2}|2[AB])[0-9]{3}")
_MAX_MESSAGE_ID_CHARS = 255
_MAX_FILE_NAME_CHARS = 255
#: The citizen's password for following the demand on the portal (the "Gestionnaire de Suivi"): it
#: sits in Teledemarche, in the -ent.xml and often in message.xml too. It is never read into our
#: objects, and `redact_secrets` removes it from any copy of those files that we keep.
SECRET_ELEMENTS = frozenset({"MotDePasse"})


@dataclass(frozen=True, slots=True)
class Teledemarche:
    """The ``Teledemarche`` block, without its ``MotDePasse``."""

    numero: str
    date: str | None  # as sent, e.g. 2012-10-15T10:50:54.240+02:00
    platform_id: str | None  # IdentifiantPlateforme

    @property
    def submitted_at(self) -> datetime | None:
        """`date` as an aware datetime (Europe/Paris when the portal gave no offset), or None."""
        if self.date is None:
            return None
        try:
            value = datetime.fromisoformat(self.date)
        except ValueError:
            return None
        return value if value.tzinfo is not None else value.replace(tzinfo=_PARIS)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A ``PieceJointe``: a justificatif sent by the citizen (``pj`` file of the zip)."""

    file_name: str  # Fichier: member name in the zip
    code: str | None  # Code: e.g. ji (justificatif d'identité), jd (de domicile)
    title: str | None  # Intitule: the name the citizen gave, e.g. test.pdf


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """A ``Document``: a form file of the demand (``doc`` file: business XML, cerfa PDF…)."""

    file_name: str  # FichierFormulaire/FichierDonnees: member name in the zip
    code: str | None  # Code: e.g. ActeEtatCivil-XML, 10870-XML
    name: str | None  # Nom

    @property
    def is_xml(self) -> bool:
        """Whether this is a business XML file (the ``-doc`` XML that `flows` reads)."""
        return self.file_name.lower().endswith(".xml")


@dataclass(frozen=True, slots=True)
class Entete:
    """A ``…-ent.xml`` file (``EnteteMetierEnveloppe``): the business header of the demand."""

    numero_demarche: str | None
    teledemarche: Teledemarche
    code_insee: str | None
    routage: tuple[tuple[str, str], ...]  # every Routage/Donnee as (Id, Valeur)
    attachments: tuple[Attachment, ...]
    documents: tuple[DocumentRef, ...]

    @property
    def numero(self) -> str:
        return self.teledemarche.numero

    @property
    def file_names(self) -> tuple[str, ...]:
        """Every zip member this file lists, attachments first."""
        return tuple(a.file_name for a in self.attachments) + tuple(d.file_name for d in self.documents)


@dataclass(frozen=True, slots=True)
class Demand:
    """A demand's ``message.xml``: routing header and the ``Aller`` block."""

    message_id: str
    flow_type: str
    header_xml: str  # the whole Header element, serialised, to mirror in returns
    numero_demarche: str | None
    teledemarche: Teledemarche
    code_insee: str
    routage: tuple[tuple[str, str], ...]  # every Routage/Donnee as (Id, Valeur)
    attachments: tuple[Attachment, ...]
    documents: tuple[DocumentRef, ...]  # never empty

    @property
    def numero(self) -> str:
        return self.teledemarche.numero

    @property
    def file_names(self) -> tuple[str, ...]:
        """Every zip member this message lists, attachments first."""
        return tuple(a.file_name for a in self.attachments) + tuple(d.file_name for d in self.documents)

    @property
    def xml_documents(self) -> tuple[DocumentRef, ...]:
        """The business XML documents, to be read by `flows`."""
        return tuple(d for d in self.documents if d.is_xml)


class _Envelope(NamedTuple):
    numero_demarche: str | None
    teledemarche: Teledemarche
    code_insee: str | None
    routage: tuple[tuple[str, str], ...]
    attachments: tuple[Attachment, ...]
    documents: tuple[DocumentRef, ...]


def read_message(data: bytes | etree._Element, source: str = "message.xml") -> Demand:
    """Read a demand's ``message.xml`` (its bytes, or its root as `parse_xml` returned it).

    `source` names the file in messages. Raises RejectedItemError when the XML is hostile or invalid
    (see `parse_xml`), when the root is not ``Message``, or when MessageId, FlowType, the Aller block,
    NumeroTeledemarche or the CodeINSEE routing key is missing or malformed, when no Document is
    listed, or when a listed file name is not a plain file name.
    """
    root = data if isinstance(data, etree._Element) else parse_xml(data, source=source)
    if localname(root) != "Message":
        raise RejectedItemError(
            f"{source} : élément racine « {localname(root)} » inattendu, attendu « Message »"
        )
    header = _child(root, "Header")
    message_id = find_text(root, "Header", "Routing", "MessageId")
    if header is None or message_id is None:
        raise RejectedItemError(f"{source} : identifiant de message (Header/Routing/MessageId) absent")
    if len(message_id) > _MAX_MESSAGE_ID_CHARS:
        raise RejectedItemError(
            f"{source} : identifiant de message trop long (plus de {_MAX_MESSAGE_ID_CHARS} caractères)"
        )
    flow_type = find_text(root, "Header", "Routing", "FlowType")
    if flow_type is None:
        raise RejectedItemError(f"{source} : type de flux (Header/Routing/FlowType) absent")
    aller = _path(root, "Body", "Content", "Aller")
    if aller is None:
        raise RejectedItemError(f"{source} : bloc de la demande (Body/Content/Aller) absent")
    envelope = _read_envelope(aller, source)
    if envelope.code_insee is None:
        raise RejectedItemError(
            f"{source} : code INSEE de la commune (Routage/Donnee CodeINSEE) absent, "
            "impossible de savoir à quelle collectivité la demande s'adresse"
        )
    if not envelope.documents:
        raise RejectedItemError(f"{source} : aucun Document, au moins un fichier -doc est obligatoire")
    return Demand(
        message_id=message_id,
        flow_type=flow_type,
        header_xml=etree.tostring(header, encoding="unicode"),
        numero_demarche=envelope.numero_demarche,
        teledemarche=envelope.teledemarche,
        code_insee=envelope.code_insee,
        routage=envelope.routage,
        attachments=envelope.attachments,
        documents=envelope.documents,
    )


def read_entete(data: bytes | etree._Element, source: str) -> Entete:
    """Read a demand's ``…-ent.xml`` (``EnteteMetierEnveloppe``); its ``MotDePasse`` is never kept.

    `data` is the file's bytes, or its root as `parse_xml` returned it.

    Raises RejectedItemError when the XML is hostile or invalid, the root is not
    ``EnteteMetierEnveloppe``, NumeroTeledemarche is missing or malformed, the CodeINSEE is malformed,
    or a listed file name is not a plain file name. Unlike message.xml, a missing CodeINSEE or
    Document list is tolerated here: message.xml is the reference, `check_consistency` compares them.
    """
    root = data if isinstance(data, etree._Element) else parse_xml(data, source=source)
    if localname(root) != "EnteteMetierEnveloppe":
        raise RejectedItemError(
            f"{source} : élément racine « {localname(root)} » inattendu, attendu « EnteteMetierEnveloppe »"
        )
    envelope = _read_envelope(root, source)
    return Entete(
        numero_demarche=envelope.numero_demarche,
        teledemarche=envelope.teledemarche,
        code_insee=envelope.code_insee,
        routage=envelope.routage,
        attachments=envelope.attachments,
        documents=envelope.documents,
    )


def redact_secrets(data: bytes | etree._Element, source: str) -> bytes:
    """Return `data` (message.xml or -ent.xml) without any SECRET_ELEMENTS, to keep as a document.

    The file is re-serialised in UTF-8; everything else is kept as it was. Given a root element (as
    `parse_xml` returns it, say after `read_message`), that tree is redacted in place. Raises
    RejectedItemError like `parse_xml`.
    """
    root = data if isinstance(data, etree._Element) else parse_xml(data, source=source)
    for element in [e for e in root.iter() if localname(e) in SECRET_ELEMENTS]:
        parent = element.getparent()
        if parent is None:  # the root itself: nothing else is worth keeping
            return b""
        parent.remove(element)  # remove() keeps the tail, i.e. the following text
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def check_consistency(
    name: DemandName, demand: Demand, entete: Entete | None, members: AbstractSet[str]
) -> None:
    """Check that a demand's name, message.xml, -ent.xml and zip members agree.

    `members` holds the zip's member names (paths inside the archive). Raises RejectedItemError,
    naming the zip, when the flow type is unknown or differs from the name's, when the télédémarche
    number differs between name, message.xml and -ent.xml, when message.xml and -ent.xml route to
    different communes, or when a file they list is missing from the zip (all missing files named).
    """
    zip_name = name.zip_name
    if demand.flow_type not in FLOW_TYPES:
        raise RejectedItemError(
            f"{zip_name} : flux « {demand.flow_type} » inconnu dans message.xml, "
            f"flux acceptés : {', '.join(FLOW_TYPES)}"
        )
    if demand.flow_type != name.flow_type:
        raise RejectedItemError(
            f"{zip_name} : le flux de message.xml ({demand.flow_type}) ne correspond pas "
            f"au nom du fichier ({name.flow_type})"
        )
    if demand.numero != name.numero:
        raise RejectedItemError(
            f"{zip_name} : le numéro de télédémarche de message.xml ({demand.numero}) ne correspond pas "
            f"au nom du fichier ({name.numero})"
        )
    listed = list(demand.file_names)
    if entete is not None:
        if entete.numero != demand.numero:
            raise RejectedItemError(
                f"{zip_name} : le numéro de télédémarche du fichier -ent ({entete.numero}) ne correspond "
                f"pas à celui de message.xml ({demand.numero})"
            )
        if entete.code_insee is not None and entete.code_insee != demand.code_insee:
            raise RejectedItemError(
                f"{zip_name} : le code INSEE du fichier -ent ({entete.code_insee}) ne correspond pas "
                f"à celui de message.xml ({demand.code_insee})"
            )
        listed += [f for f in entete.file_names if f not in listed]
    missing = [f for f in dict.fromkeys(listed) if f not in members]
    if missing:
        raise RejectedItemError(
            f"{zip_name} : fichier(s) annoncé(s) mais absent(s) de l'archive : {', '.join(missing)}"
        )


# -- the Aller / EnteteMetierEnveloppe shape ----------------------------------------------------------


def _read_envelope(block: etree._Element, source: str) -> _Envelope:
    teledemarche = _child(block, "Teledemarche")
    numero = find_text(teledemarche, "NumeroTeledemarche") if teledemarche is not None else None
    if teledemarche is None or numero is None:
        raise RejectedItemError(f"{source} : numéro de télédémarche (Teledemarche/NumeroTeledemarche) absent")
    if not is_safe_numero(numero):
        raise RejectedItemError(
            f"{source} : numéro de télédémarche « {numero} » invalide (lettres, chiffres et tirets seulement)"
        )
    # Only the fields below are read: MotDePasse (SECRET_ELEMENTS) is deliberately left behind.
    tele = Teledemarche(
        numero=numero,
        date=find_text(teledemarche, "Date"),
        platform_id=find_text(teledemarche, "IdentifiantPlateforme"),
    )
    routage: list[tuple[str, str]] = []
    for routing in _children(block, "Routage"):
        for donnee in _children(routing, "Donnee"):
            key, value = find_text(donnee, "Id"), find_text(donnee, "Valeur")
            if key is not None and value is not None:
                routage.append((key, value))
    code_insee = next((v for k, v in routage if k == "CodeINSEE"), None)
    if code_insee is not None and _INSEE.fullmatch(code_insee) is None:
        raise RejectedItemError(f"{source} : code INSEE « {code_insee} » invalide (5 caractères attendus)")
    attachments = []
    for i, element in enumerate(_children(block, "PieceJointe"), start=1):
        file_name = _file_name(find_text(element, "Fichier"), f"PieceJointe n°{i} (Fichier)", source)
        attachments.append(
            Attachment(
                file_name=file_name, code=find_text(element, "Code"), title=find_text(element, "Intitule")
            )
        )
    documents = []
    for i, element in enumerate(_children(block, "Document"), start=1):
        file_name = _file_name(
            find_text(element, "FichierFormulaire", "FichierDonnees"),
            f"Document n°{i} (FichierFormulaire/FichierDonnees)",
            source,
        )
        documents.append(
            DocumentRef(file_name=file_name, code=find_text(element, "Code"), name=find_text(element, "Nom"))
        )
    return _Envelope(
        numero_demarche=find_text(block, "NumeroDemarche"),
        teledemarche=tele,
        code_insee=code_insee,
        routage=tuple(routage),
        attachments=tuple(attachments),
        documents=tuple(documents),
    )


def _file_name(value: str | None, what: str, source: str) -> str:
    """A listed zip member: a plain file name, since MDEL zips are flat (research §2.3)."""
    if value is None:
        raise RejectedItemError(f"{source} : nom de fichier absent pour {what}")
    if (
        value in (".", "..")
        or len(value) > _MAX_FILE_NAME_CHARS
        or any(c in value for c in "/\\\0")
        or not value.isprintable()
    ):
        raise RejectedItemError(f"{source} : nom de fichier dangereux ou invalide pour {what} : {value!r}")
    return value


def _child(element: etree._Element, name: str) -> etree._Element | None:
    return next(_children(element, name), None)


def _children(element: etree._Element, name: str) -> Iterator[etree._Element]:
    return (child for child in element if localname(child) == name)


def _path(element: etree._Element, *names: str) -> etree._Element | None:
    current: etree._Element | None = element
    for name in names:
        if current is None:
            return None
        current = _child(current, name)
    return current
