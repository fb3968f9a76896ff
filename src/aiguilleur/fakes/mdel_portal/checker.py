"""The portal's check of a return zip, written from seed 002 §III and §IV.3.

A return is ``<Numero>-<FlowType>-<increment>.zip`` holding ``message.xml``::

    <ns2:Message xmlns:ns2="http://finances.gouv.fr/dgme/pec/message/v1" …>
      <ns2:Header><ns2:Routing>
        <ns2:MessageId>…</ns2:MessageId><ns2:FlowType>RCO-LA</ns2:FlowType>
        (optional Sender / Recipients: the demand's, swapped)
      </ns2:Routing></ns2:Header>
      <ns2:Body><ns2:Content><ns2:Retour>
        <ns2:Enveloppe><ns2:NumeroTeledemarche>A-1-N8F602RR</ns2:NumeroTeledemarche></ns2:Enveloppe>
        <ns2:Instruction><ns2:Maj>
          <ns2:Etat>14</ns2:Etat><ns2:Commentaire>Le dossier a été reçu…</ns2:Commentaire>
        </ns2:Maj></ns2:Instruction>
      </ns2:Retour></ns2:Content></ns2:Body>
    </ns2:Message>

and possibly documents (e.g. the census attestation). Anything else is refused with a reason.
"""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from io import BytesIO

from lxml import etree

from aiguilleur.fakes.mdel_portal.demand import DemandHeader
from aiguilleur.fakes.mdel_portal.envelope import PEC_NS
from aiguilleur.fakes.mdel_portal.payloads import FLOWS

STATUSES = frozenset({14, 15, 16, 17, 19, 20, 100})
RETURN_NAME = re.compile(
    r"(?P<numero>[A-Z]-\d-[A-Z0-9]{6,12})-(?P<flow>[A-Z]+-[A-Z]+)-(?P<increment>[1-9]\d*)\.zip"
)
MAX_ZIP_BYTES = 20 * 1024**2
MAX_MEMBER_BYTES = 20 * 1024**2
MAX_MEMBERS = 20


class ReturnRejected(ValueError):
    """The portal refuses a return zip; `reason` says why in one sentence."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ReturnSeen:
    """A return the portal accepted."""

    name: str
    numero: str
    flow: str
    increment: int
    message_id: str
    etat: int
    commentaire: str
    documents: Mapping[str, bytes] = field(default_factory=dict)
    sender_siret: str | None = None
    recipient_siret: str | None = None


def parse_return_name(name: str) -> tuple[str, str, int] | None:
    """(numero, flow, increment) of a well-formed return name, else None (the flow is not checked)."""
    match = RETURN_NAME.fullmatch(name)
    if match is None:
        return None
    return match["numero"], match["flow"], int(match["increment"])


def _safe_member_name(name: str) -> bool:
    parts = name.split("/")
    return (
        bool(name) and not name.startswith("/") and "\\" not in name and ".." not in parts and ":" not in name
    )


def _parse(data: bytes, name: str) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ReturnRejected(name, f"message.xml is not well-formed XML ({exc.msg})") from exc
    if root.getroottree().docinfo.internalDTD is not None:
        raise ReturnRejected(name, "message.xml has a DTD, which the portal refuses")
    return root


def _text(root: etree._Element, path: str, name: str, *, required: bool = True) -> str | None:
    found = root.find(path, {"ns2": PEC_NS})
    if found is None:
        if required:
            raise ReturnRejected(name, f"message.xml lacks {path}")
        return None
    return (found.text or "").strip()


def _siret(root: etree._Element, path: str) -> str | None:
    found = root.find(path + "/ns2:Location/ns2:Siret", {"ns2": PEC_NS})
    return None if found is None else (found.text or "").strip()


def check_return(name: str, data: bytes, demand_header: DemandHeader | None = None) -> ReturnSeen:
    """Validate one return zip as the portal would and return what it says.

    With `demand_header`, the return must also be about that demand (numero, flow) and, when it carries
    Sender/Recipients, route from the demand's recipient back to its sender. Raises ReturnRejected.
    """
    parsed = parse_return_name(name)
    if parsed is None:
        raise ReturnRejected(name, "name does not follow <NumeroTeledemarche>-<FlowType>-<increment>.zip")
    numero, flow, increment = parsed
    if flow not in FLOWS:
        raise ReturnRejected(name, f"unknown flow type {flow}")
    if demand_header is not None and (numero, flow) != (demand_header.numero, demand_header.flow):
        raise ReturnRejected(name, f"does not match the demand {demand_header.numero}-{demand_header.flow}")
    if len(data) > MAX_ZIP_BYTES:
        raise ReturnRejected(name, f"zip larger than {MAX_ZIP_BYTES} bytes")
    try:
        archive = zipfile.ZipFile(BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise ReturnRejected(name, f"not a readable zip ({exc})") from exc
    documents: dict[str, bytes] = {}
    message: bytes | None = None
    with archive:
        if len(infos) > MAX_MEMBERS:
            raise ReturnRejected(name, f"more than {MAX_MEMBERS} members")
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            raise ReturnRejected(name, "duplicate member names")
        for info in infos:
            if not _safe_member_name(info.filename) or info.is_dir():
                raise ReturnRejected(name, f"unsafe member name {info.filename!r}")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ReturnRejected(name, f"member {info.filename} is a symbolic link")
            if info.file_size > MAX_MEMBER_BYTES or info.flag_bits & 0x1:
                raise ReturnRejected(name, f"member {info.filename} is too large or encrypted")
            try:
                content = archive.read(info)
            except (zipfile.BadZipFile, OSError, NotImplementedError, zlib.error) as exc:
                raise ReturnRejected(name, f"member {info.filename} cannot be read ({exc})") from exc
            if info.filename == "message.xml":
                message = content
            else:
                documents[info.filename] = content
    if message is None:
        raise ReturnRejected(name, "no message.xml")
    root = _parse(message, name)
    if root.tag != f"{{{PEC_NS}}}Message":
        raise ReturnRejected(name, f"message.xml root is {root.tag}, not ns2:Message")
    routing = "ns2:Header/ns2:Routing"
    message_id = _text(root, f"{routing}/ns2:MessageId", name)
    if not message_id:
        raise ReturnRejected(name, "empty MessageId")
    if _text(root, f"{routing}/ns2:FlowType", name) != flow:
        raise ReturnRejected(name, "FlowType in message.xml differs from the file name")
    retour = "ns2:Body/ns2:Content/ns2:Retour"
    if _text(root, f"{retour}/ns2:Enveloppe/ns2:NumeroTeledemarche", name) != numero:
        raise ReturnRejected(name, "NumeroTeledemarche in message.xml differs from the file name")
    etat_text = _text(root, f"{retour}/ns2:Instruction/ns2:Maj/ns2:Etat", name) or ""
    if not etat_text.isdigit() or int(etat_text) not in STATUSES:
        raise ReturnRejected(name, f"Etat {etat_text!r} is not one of {sorted(STATUSES)}")
    commentaire = _text(root, f"{retour}/ns2:Instruction/ns2:Maj/ns2:Commentaire", name) or ""
    sender = _siret(root, f"{routing}/ns2:Sender")
    recipient = _siret(root, f"{routing}/ns2:Recipients/ns2:Recipient")
    if demand_header is not None:
        if sender is not None and sender != demand_header.recipient_siret:
            raise ReturnRejected(name, "Sender is not the commune the demand was sent to")
        if recipient is not None and recipient != demand_header.sender_siret:
            raise ReturnRejected(name, "Recipient is not the portal that sent the demand")
    return ReturnSeen(
        name, numero, flow, increment, message_id, int(etat_text), commentaire, documents, sender, recipient
    )
