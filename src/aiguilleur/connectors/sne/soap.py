"""SOAP 1.2 envelopes and XOP/MTOM ``multipart/related`` messages of the SNE, built to the byte.

Requests follow research/sne.md §2.2 (zeep cannot send MTOM): the wrapper element qualified in the
service namespace, its children unqualified and in sequence order, the envelope compact (the SNE is
sensitive to whitespace beside ``xop:Include``, §1.3), one part per binary field, CRLF between MIME
headers and delimiters, payload bytes never rewritten, ``start`` in angle brackets, the full action URI
in the ``action`` parameters. Responses (§2.3) are read whether MTOM or plain SOAP, with the standard
library's email parser: the root found through ``start``, each ``xop:Include`` resolved by its
percent-decoded ``cid:`` (RFC 2392), each part decoded according to its Content-Transfer-Encoding.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import quote, unquote

from lxml import etree

from aiguilleur.connectors.sne.errors import SneProtocolError, fault_error

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WS = "http://ws.metier.nuu.application.i2/"
NUU = "http://nuu.application.i2/"
XOP = "http://www.w3.org/2004/08/xop/include"
CERTIFICATE_TYPE = "application/x-x509-ca-cert"
CID_DOMAIN = "aiguilleur.invalid"
CRLF = b"\r\n"


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of ``DemandeLogementImplService`` (research §1.1)."""

    name: str
    request: str  # wrapper element of the request
    response: str  # wrapper element of the response
    params: tuple[str, ...]  # children of the request wrapper, in sequence order
    is_idempotent: bool  # may be retried automatically

    @property
    def action(self) -> str:
        return WS + self.name


_CERT = ("nomCertificat", "certificat")
NUM_UNIQUE = Operation(
    "getNumUnique",
    "numUniqueParametres",
    "numUniqueReponse",
    ("nomFichierDemande", "fichierDemande", *_CERT, "complet"),
    is_idempotent=False,  # creates or changes a demande: a retry could register it twice
)
DEMANDE_LOGEMENT = Operation(
    "getDemandeLogement",
    "demandeLogementParametres",
    "demandeLogementReponse",
    ("numUnique", *_CERT, "complet"),
    is_idempotent=True,
)
DOUBLONS = Operation(
    "getDoublons",
    "rechercheDoublonsParametres",
    "rechercheDoublonsReponse",
    ("nomFichierDemande", "fichierDemande"),  # no certificate for this one
    is_idempotent=True,
)
NOUVEAUX_DALO = Operation(
    "getNouveauxDaloDepuisLe",
    "nouveauxDaloDepuisLeParametres",
    "nouveauxDaloDepuisLeReponse",
    ("dateNouveauDaloDepuisLe", *_CERT),
    is_idempotent=True,
)
DEMANDES_RADIEES = Operation(
    "getDemandesRadieesDepuisLe",
    "demandesRadieesDepuisLeParametres",
    "demandesRadieesDepuisLeReponse",
    ("dateRadiationDepuisLe", "motifRadiation", "statutDalo", "typeReservataire", *_CERT),
    is_idempotent=True,
)
DECLARATION_NOUVEAU_DALO = Operation(
    "getDeclarationNouveauDalo",
    "declarationNouveauDaloParametres",
    "declarationNouveauDaloReponse",
    ("nomFichierDalo", "fichierDalo", *_CERT),
    is_idempotent=False,  # declares a DALO decision: never sent twice behind the caller's back
)
OPERATIONS = {
    op.name: op
    for op in (
        NUM_UNIQUE,
        DEMANDE_LOGEMENT,
        DOUBLONS,
        NOUVEAUX_DALO,
        DEMANDES_RADIEES,
        DECLARATION_NOUVEAU_DALO,
    )
}


@dataclass(frozen=True, slots=True)
class Binary:
    """A base64Binary field sent as an MTOM attachment; `content_type` also goes in ``ws:contentType``."""

    data: bytes
    media_type: str = "application/octet-stream"
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class Code:
    """A ``codeElement``: an empty element carrying ``code`` (the radiation filters)."""

    code: str


Value = str | Binary | Code


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP request body and its headers, ready to POST."""

    headers: dict[str, str]
    body: bytes


def new_token() -> str:
    return secrets.token_hex(8)


def cid_href(content_id: str) -> str:
    """The ``cid:`` URL of a Content-ID (without brackets), percent-encoded only where needed."""
    return "cid:" + quote(content_id, safe="@.-_~!$&'()*+,;=:")


def envelope(op: Operation, params: Sequence[tuple[str, Value]], cids: dict[str, str]) -> bytes:
    """The compact SOAP 1.2 envelope; each Binary field becomes an xop:Include to ``cids[name]``."""
    known = {name: value for name, value in params}
    unknown = set(known) - set(op.params)
    if unknown:
        raise ValueError(f"{op.name}: unknown parameter(s) {sorted(unknown)}")
    env = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"env": SOAP12, "ws": WS})
    etree.SubElement(env, f"{{{SOAP12}}}Header")
    body = etree.SubElement(env, f"{{{SOAP12}}}Body")
    wrapper = etree.SubElement(body, f"{{{WS}}}{op.request}")
    for name in op.params:  # sequence order comes from the operation, not from the caller
        if name not in known:
            continue
        value = known[name]
        child = etree.SubElement(wrapper, name)  # unqualified (elementFormDefault="unqualified")
        if isinstance(value, Binary):
            if value.content_type is not None:
                child.set(f"{{{WS}}}contentType", value.content_type)
            include = etree.SubElement(child, f"{{{XOP}}}Include", nsmap={"xop": XOP})
            include.set("href", cid_href(cids[name]))
        elif isinstance(value, Code):
            child.set("code", value.code)
        else:
            child.text = value
    return etree.tostring(env, encoding="utf-8", xml_declaration=False)


def _part(headers: list[tuple[str, str]], payload: bytes, boundary: str) -> bytes:
    head = b"".join(f"{k}: {v}".encode("ascii") + CRLF for k, v in headers)
    return b"--" + boundary.encode("ascii") + CRLF + head + CRLF + payload + CRLF


def build_request(op: Operation, params: Sequence[tuple[str, Value]], *, token: str | None = None) -> Request:
    """The MTOM request of `op`: boundary and Content-IDs derive from `token` (random by default)."""
    token = token or new_token()
    boundary = f"uuid:{token}"
    root_id = f"root.{token}@{CID_DOMAIN}"
    binaries = [(name, value) for name, value in params if isinstance(value, Binary)]
    cids = {name: f"{name}.{token}@{CID_DOMAIN}" for name, _ in binaries}
    root = _part(
        [
            (
                "Content-Type",
                f'application/xop+xml; charset=UTF-8; type="application/soap+xml"; action="{op.action}"',
            ),
            ("Content-Transfer-Encoding", "8bit"),
            ("Content-ID", f"<{root_id}>"),
        ],
        envelope(op, params, cids),
        boundary,
    )
    parts = [root]
    for name, value in binaries:
        parts.append(
            _part(
                [
                    ("Content-Type", value.media_type),
                    ("Content-Transfer-Encoding", "binary"),
                    ("Content-ID", f"<{cids[name]}>"),
                ],
                value.data,
                boundary,
            )
        )
    body = b"".join(parts) + b"--" + boundary.encode("ascii") + b"--" + CRLF
    content_type = (
        f'multipart/related; type="application/xop+xml"; start="<{root_id}>"; '
        f'start-info="application/soap+xml"; boundary="{boundary}"; action="{op.action}"'
    )
    return Request({"MIME-Version": "1.0", "Content-Type": content_type}, body)


# -- responses -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Response:
    """A parsed answer: the envelope, the Body's first child and the wrapper's children.

    `fields` maps each child's local name to its text, the bytes its xop:Include (or base64 text) carries
    for the names in `binary_names`, or its ``code`` attribute for an empty codeElement.
    """

    envelope: etree._Element
    payload: etree._Element | None
    fields: dict[str, str | bytes] = field(default_factory=dict)
    parts: dict[str, bytes] = field(default_factory=dict)


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


def _xml(data: bytes, what: str, operation: str) -> etree._Element:
    try:
        return etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise SneProtocolError(f"SNE : {what} illisible ({exc})", operation=operation) from exc


def _message(content_type: str, body: bytes) -> Message:
    # compat32, not policy.HTTP: the same parser, byte-exact on binary parts, and 14 times faster per
    # answer (policy.HTTP builds header objects for every part; we only need three values).
    return email.message_from_bytes(
        b"Content-Type: " + content_type.encode("latin-1") + CRLF + CRLF + body, policy=email.policy.compat32
    )


def split_multipart(content_type: str, body: bytes, operation: str = "") -> tuple[bytes, dict[str, bytes]]:
    """The root part's bytes and the other parts by Content-ID (brackets stripped), decoded."""
    message = _message(content_type, body)
    if not message.is_multipart() or message.defects:
        raise SneProtocolError(
            f"SNE : multipart/related illisible ({[type(d).__name__ for d in message.defects]})",
            operation=operation,
        )
    start = message.get_param("start")
    start_id = str(start).strip().strip("<>") if isinstance(start, str) else None
    root: bytes | None = None
    first: bytes | None = None
    parts: dict[str, bytes] = {}
    for part in message.get_payload():
        assert isinstance(part, Message)
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            raise SneProtocolError("SNE : partie MIME sans contenu", operation=operation)
        cid = str(part.get("Content-ID", "")).strip().strip("<>")
        if first is None:
            first = payload
        if start_id is not None and cid == start_id:
            root = payload
        elif cid:
            parts[cid] = payload
    if root is None:  # no start, or it names no part: the first part is the root (XOP §4.1)
        root = first
        if root is None:
            raise SneProtocolError("SNE : multipart/related sans partie", operation=operation)
    return root, parts


def parse_response(content_type: str, body: bytes, operation: str = "") -> Response:
    """Parse an answer (MTOM or plain SOAP 1.2). Raises SneProtocolError when it cannot be read."""
    if content_type.lower().startswith("multipart/related"):
        root, parts = split_multipart(content_type, body, operation)
    else:
        root, parts = body, {}
    env = _xml(root, "enveloppe SOAP", operation)
    if env.tag != f"{{{SOAP12}}}Envelope":
        raise SneProtocolError(f"SNE : pas une enveloppe SOAP 1.2 ({env.tag})", operation=operation)
    soap_body = env.find(f"{{{SOAP12}}}Body")
    if soap_body is None:
        raise SneProtocolError("SNE : enveloppe SOAP sans Body", operation=operation)
    payload = next(iter(soap_body.iterchildren(tag=etree.Element)), None)
    response = Response(env, payload, parts=parts)
    if payload is None or payload.tag == f"{{{SOAP12}}}Fault":
        return response
    for child in payload.iterchildren(tag=etree.Element):
        name = etree.QName(child).localname
        include = child.find(f"{{{XOP}}}Include")
        if include is not None:
            href = include.get("href", "")
            if not href.startswith("cid:"):
                raise SneProtocolError(
                    f"SNE : <{name}> : href {href!r} n'est pas un cid:", operation=operation
                )
            cid = unquote(href[4:])  # RFC 2392: percent-decode before matching (CXF sends %40)
            if cid not in parts:
                raise SneProtocolError(
                    f"SNE : <{name}> : {href} ne désigne aucune partie", operation=operation
                )
            response.fields[name] = parts[cid]
        elif child.get("code") is not None and not len(child):
            response.fields[name] = child.get("code", "")
        else:
            response.fields[name] = child.text or ""
    return response


def raise_for_fault(response: Response, *, operation: str, source: str, status: int, raw: bytes) -> None:
    """Raise the typed SneFault when the answer is a SOAP fault."""
    payload = response.payload
    if payload is None or payload.tag != f"{{{SOAP12}}}Fault":
        return
    s = f"{{{SOAP12}}}"
    code = (payload.findtext(f"{s}Code/{s}Value") or "").strip()
    subcode = payload.findtext(f"{s}Code/{s}Subcode/{s}Value")
    reason = (payload.findtext(f"{s}Reason/{s}Text") or "").strip()
    detail_el = payload.find(f"{s}Detail")
    detail: str | None = None
    if detail_el is not None:
        detail = detail_el.findtext(f".//{{{WS}}}demandeLogementException/message")
        if detail is None:
            detail = "".join(str(t) for t in detail_el.itertext()).strip() or None
    raise fault_error(
        code.rpartition(":")[2] or "?",
        reason,
        detail,
        subcode=subcode.strip().rpartition(":")[2] if subcode else None,
        operation=operation,
        source=source,
        status=status,
        response=raw,
    )


def binary_field(response: Response, name: str, operation: str) -> bytes | None:
    """The bytes of a base64Binary child: its attachment, or its inline base64 text; None when absent."""
    value = response.fields.get(name)
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except binascii.Error as exc:
        raise SneProtocolError(
            f"SNE : <{name}> n'est ni une pièce jointe ni du base64", operation=operation
        ) from exc


def text_field(response: Response, name: str) -> str | None:
    value = response.fields.get(name)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
