"""Return flows: the return ``message.xml`` and the return zip (seed 002, sections III and IV.3).

Each status change of a dossier goes back to the portal as ``<Numero>-<FlowType>-<increment>.zip``
holding a ``message.xml`` (``Retour``: the télédémarche number, the état code and a comment in clear)
and possibly documents, such as the census attestation. Writing the zip under a temporary name and
publishing it atomically is the connector's job; this module only builds bytes and writes one path.
"""

from __future__ import annotations

import copy
import re
import shutil
import zipfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from lxml import etree

from aiguilleur.connectors.mdel.names import FLOW_TYPES, is_safe_numero
from aiguilleur.domain.statuses import Status
from aiguilleur.transport.files import safe_filename
from aiguilleur.transport.xml import localname, parse_xml

#: The PEC envelope namespace, prefix ``ns2`` (research anchors-passerelle-pastell.md §2.4).
PEC_NS = "http://finances.gouv.fr/dgme/pec/message/v1"
#: The business namespace, the default one in the portal's messages.
METIER_NS = "http://finances.gouv.fr/dgme/gf/composants/teledemarchexml/donnee/metier"
MESSAGE_NAME = "message.xml"

_PARIS = ZoneInfo("Europe/Paris")
_CHUNK_BYTES = 64 * 1024
# Characters XML 1.0 cannot carry (§2.2): an agent's comment pasted from a word processor may hold some.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def return_message_id(numero: str, flow_type: str, increment: int) -> str:
    """A MessageId for the return `increment` of a demand: the same on every retry of that return.

    The portal deduplicates on MessageId (research §2.5), so a return re-sent after a crash must keep
    its id, and two different returns must not share one.
    """
    return f"{numero}-{flow_type}-retour-{increment}"


def build_return_message(
    header_xml: str | None, numero: str, flow_type: str, code: int, comment: str, message_id: str
) -> bytes:
    """Build the return ``message.xml`` (UTF-8, with an XML declaration) of seed 002, IV.3.

    `header_xml` is the demand's Header as `wire.Demand.header_xml` kept it, or None. The return's
    Routing holds `message_id` and `flow_type`, then, when the demand's Routing had both a Sender and
    a Recipient, those two swapped (the first Recipient becomes the Sender, the Sender the only
    Recipient), as S²LOW answers PEC messages (research §2.5). The demand's acknowledgement settings
    (AckRequired, AckType, AckTo), Security and Extras are not copied: they asked for receipts of the
    demand, not of our answer. `comment` is sent in clear; characters XML cannot carry are dropped.

    Raises ValueError when `numero` is not a safe télédémarche number, `flow_type` is unknown, `code`
    is not a status code (14, 15, 16, 17, 19, 20, 100) or `message_id` is empty; RejectedItemError
    when `header_xml` is not well-formed XML.
    """
    if not is_safe_numero(numero):
        raise ValueError(f"not a télédémarche number: {numero!r}")
    if flow_type not in FLOW_TYPES:
        raise ValueError(f"unknown MDEL flow type: {flow_type!r}")
    status = Status(code)  # ValueError for an unknown code
    if not message_id.strip():
        raise ValueError("empty MessageId")
    routing = _demand_routing(header_xml)
    # Declare the demand's prefixes too, so that QName values copied with Sender/Recipient (such as
    # xsi:type="ns2:Location_FR") keep resolving.
    nsmap: dict[str | None, str] = dict(routing.nsmap) if routing is not None else {}
    nsmap.update({"ns2": PEC_NS, None: METIER_NS})
    # lxml-stubs type nsmap as Mapping[str, str], but lxml takes None for the default namespace.
    message = etree.Element(_pec("Message"), nsmap=nsmap)  # type: ignore[arg-type]
    new_routing = etree.SubElement(etree.SubElement(message, _pec("Header")), _pec("Routing"))
    _sub(new_routing, "MessageId", _xml_text(message_id))
    _sub(new_routing, "FlowType", flow_type)
    if routing is not None:
        sender = _first(routing, "Sender")
        recipients = _first(routing, "Recipients")
        recipient = _first(recipients, "Recipient") if recipients is not None else None
        if sender is not None and recipient is not None:
            new_sender = _sub(new_routing, "Sender")
            new_sender.extend(copy.deepcopy(child) for child in recipient)
            new_recipient = _sub(_sub(new_routing, "Recipients"), "Recipient")
            new_recipient.extend(copy.deepcopy(child) for child in sender)
    retour = _sub(_sub(_sub(message, "Body"), "Content"), "Retour")
    _sub(_sub(retour, "Enveloppe"), "NumeroTeledemarche", numero)
    maj = _sub(_sub(retour, "Instruction"), "Maj")
    _sub(maj, "Etat", str(int(status)))
    _sub(maj, "Commentaire", _xml_text(comment))
    return bytes(etree.tostring(message, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def write_return_zip(
    dest: Path,
    message_xml: bytes,
    documents: Iterable[tuple[str, Path]] = (),
    *,
    modified_at: datetime,
) -> list[str]:
    """Write a return zip to `dest`: ``message.xml`` first, then each (name, file) of `documents`.

    Members are deflated and stamped with `modified_at` (Europe/Paris wall time, zip has no time
    zone; clamped to 1980, the zip epoch), so the same inputs give the same bytes. Document names
    go through `safe_filename` and are made unique without regard to case (``attestation-2.pdf``);
    ``message.xml`` is reserved. Files are streamed, never held in memory. `dest` is overwritten, and
    removed if writing fails. Returns the member names in order.
    """
    stamp = _zip_time(modified_at)
    names: list[str] = []
    taken: set[str] = set()
    try:
        with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(_member(MESSAGE_NAME, stamp), message_xml)
            names.append(MESSAGE_NAME)
            taken.add(MESSAGE_NAME.casefold())
            for wanted, path in documents:
                name = _unique(safe_filename(wanted), taken)
                size = path.stat().st_size
                with (
                    path.open("rb") as src,
                    zf.open(_member(name, stamp), "w", force_zip64=size > 2**30) as out,
                ):
                    shutil.copyfileobj(src, out, _CHUNK_BYTES)
                names.append(name)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return names


# -- helpers -------------------------------------------------------------------------------------------


def _demand_routing(header_xml: str | None) -> etree._Element | None:
    if header_xml is None:
        return None
    header = parse_xml(header_xml.encode(), source="en-tête de la demande")
    if localname(header) == "Routing":
        return header
    return _first(header, "Routing")


def _first(element: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in element if localname(c) == name), None)


def _pec(name: str) -> str:
    return f"{{{PEC_NS}}}{name}"


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _pec(name))
    element.text = text
    return element


def _xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _member(name: str, stamp: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, whatever the host: same bytes everywhere
    info.external_attr = 0o644 << 16
    return info


def _zip_time(value: datetime) -> tuple[int, int, int, int, int, int]:
    local = value.astimezone(_PARIS) if value.tzinfo is not None else value
    if local.year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    return (local.year, local.month, local.day, local.hour, local.minute, local.second)


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    stem, dot, ext = name.rpartition(".")
    if not stem:  # no extension, or a name like ".pdf" that safe_filename never returns
        stem, dot, ext = name, "", ""
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{stem}-{n}{dot}{ext}"
    taken.add(candidate.casefold())
    return candidate
