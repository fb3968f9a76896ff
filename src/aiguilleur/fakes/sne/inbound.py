"""Reading a request to the fake SNE: HTTP Content-Type, XOP/MTOM package or plain SOAP, envelope, the
operation's parameters with every ``xop:Include`` resolved.

Each rule that can fail raises a `Refusal` naming it (``check``); the rules and which mode applies them
follow research/sne.md §2 (what libsne sent and the école server took; the canonical form for new
clients) and §5.3 (the fake's strict checks). Messages imitate CXF/JAXB's where research names them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote

from lxml import etree

from aiguilleur.errors import RejectedItemError
from aiguilleur.fakes.sne import wire
from aiguilleur.fakes.sne.mime import (
    HeaderValue,
    Part,
    decode_part,
    parse_header,
    split_multipart,
    strip_brackets,
)
from aiguilleur.fakes.sne.refusal import Mode, Refusal
from aiguilleur.transport.xml import parse_xml

MAX_REQUEST_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Binary:
    """A base64Binary parameter: its bytes, its ``contentType`` attribute, and the part it came from."""

    data: bytes
    content_type: str | None = None
    cid: str | None = None  # None: inline base64 text


@dataclass(slots=True)
class Decoded:
    """A request the wire checks accepted."""

    operation: wire.Operation
    version: wire.SoapVersion
    framing: Literal["mtom", "plain"]
    action: str | None
    texts: dict[str, str] = field(default_factory=dict)  # string and dateTime parameters
    codes: dict[str, str] = field(default_factory=dict)  # codeElement parameters: their @code
    binaries: dict[str, Binary] = field(default_factory=dict)
    parts: list[Part] = field(default_factory=list)


def decode_request(headers: Mapping[str, str], body: bytes, mode: Mode) -> Decoded:
    """Check and decode one POST to the service. `headers` has lower-cased names."""
    if len(body) > MAX_REQUEST_BYTES:
        raise Refusal("http.size", "request entity too large", http_status=413, plain_body=b"")
    raw_type = headers.get("content-type")
    if not raw_type:
        raise Refusal("http.content-type.missing", "the request has no Content-Type header")
    content_type = parse_header(raw_type)
    if content_type.problems and mode is Mode.STRICT:
        raise Refusal("http.content-type.syntax", f"malformed Content-Type: {content_type.problems[0]}")
    if content_type.value == "multipart/related":
        return _decode_mtom(content_type, body, mode)
    if content_type.value in ("application/soap+xml", "text/xml"):
        return _decode_plain(content_type, headers, body, mode)
    raise Refusal("http.content-type.media", f"unsupported Content-Type {content_type.value!r}")


def _full_action(value: str, mode: Mode, where: str) -> str:
    """An `action` value as the operation name it designates (research §1.1: ns + name)."""
    if value.startswith(wire.SERVICE_NS):
        return value.removeprefix(wire.SERVICE_NS)
    if mode is Mode.LENIENT and value in wire.BY_NAME:  # libsne's root part: action="getNumUnique"
        return value
    raise Refusal("soap.action", f"The given SOAPAction {value} does not match an operation. ({where})")


def _decode_mtom(content_type: HeaderValue, body: bytes, mode: Mode) -> Decoded:
    params = content_type.params
    if params.get("type", "").lower() != "application/xop+xml":
        raise Refusal("mime.type", 'multipart/related without type="application/xop+xml"')
    boundary = params.get("boundary")
    if not boundary:
        raise Refusal("mime.boundary", "Couldn't find MIME boundary")
    start = params.get("start")
    actions: list[tuple[str, str]] = []
    if "action" in params:
        actions.append((params["action"], "Content-Type action"))
    start_info = params.get("start-info")
    if start_info is None:
        if mode is Mode.STRICT:
            raise Refusal("mime.start-info", "multipart/related without start-info")
    else:
        info = parse_header(start_info)
        if mode is Mode.STRICT and info.value != "application/soap+xml":
            raise Refusal("mime.start-info", f'start-info="{start_info}" instead of "application/soap+xml"')
        if "action" in info.params:  # CXF clients put it there (AttachmentSerializer)
            actions.append((info.params["action"], "start-info action"))
    if mode is Mode.STRICT:
        if start is None:
            raise Refusal("mime.start.missing", "multipart/related without a start parameter")
        if not (start.startswith("<") and start.endswith(">")):
            raise Refusal("mime.start.brackets", f'start="{start}" must be a Content-ID in angle brackets')
    parts = split_multipart(body, boundary, mode)
    root = _find_root(parts, start, mode)
    for part in parts:
        decode_part(part, mode, default_encoding="binary")
    root_type = root.content_type
    if root_type.value != "application/xop+xml" and (
        mode is Mode.STRICT or root_type.value not in ("application/soap+xml", "text/xml")
    ):
        raise Refusal("mime.root.type", f"the root part is {root_type.value}, not application/xop+xml")
    inner = parse_header(root_type.params.get("type", ""))
    if mode is Mode.STRICT:
        if root_type.problems:
            raise Refusal("mime.root.syntax", f"malformed root Content-Type: {root_type.problems[0]}")
        if inner.value != "application/soap+xml":
            raise Refusal("mime.root.type", 'the root part needs type="application/soap+xml"')
        if root_type.params.get("charset", "").lower() not in ("utf-8", "utf8"):
            raise Refusal("mime.root.charset", "the root part needs charset=UTF-8")
        if root.transfer_encoding not in ("8bit", "binary", "7bit"):
            raise Refusal("mime.cte.root", "the root part must be 8bit or binary")
    if "action" in root_type.params:
        actions.append((root_type.params["action"], "root part action"))
    if "action" in inner.params:
        actions.append((inner.params["action"], "root part type action"))
    if mode is Mode.STRICT and not actions:
        raise Refusal("mime.action.missing", "no action parameter: SOAP 1.2 needs one (research §2.2)")
    decoded = _decode_envelope(root.body, mode, framing="mtom", parts=parts)
    _check_actions(decoded, actions, mode)
    if mode is Mode.STRICT:
        unreferenced = [p.content_id for p in parts if p is not root and not p.referenced]
        if unreferenced:
            raise Refusal("mime.unreferenced", f"body part <{unreferenced[0]}> is not referenced")
    return decoded


def _find_root(parts: list[Part], start: str | None, mode: Mode) -> Part:
    seen: set[str] = set()
    for part in parts:
        raw_id = part.headers.get("content-id")
        if raw_id is None:
            if mode is Mode.STRICT:
                raise Refusal("mime.content-id.missing", "a body part has no Content-ID")
            continue
        if mode is Mode.STRICT and not (raw_id.startswith("<") and raw_id.endswith(">")):
            raise Refusal("mime.content-id.brackets", f"Content-ID {raw_id} must be in angle brackets")
        part.content_id = strip_brackets(raw_id)
        if part.content_id in seen:
            raise Refusal("mime.content-id.duplicate", f"Content-ID <{part.content_id}> is used twice")
        seen.add(part.content_id)
    if start is None:
        return parts[0]  # lenient only: RFC 2387's default root
    wanted = strip_brackets(start)
    for part in parts:
        if part.content_id == wanted:
            return part
    raise Refusal("mime.start.unresolved", f'start="{start}" matches no body part\'s Content-ID')


def _decode_plain(content_type: HeaderValue, headers: Mapping[str, str], body: bytes, mode: Mode) -> Decoded:
    actions: list[tuple[str, str]] = []
    if content_type.value == "text/xml":  # SOAP 1.1 framing: the action is the SOAPAction header
        if mode is Mode.STRICT:
            raise Refusal(
                "soap.version", "text/xml is SOAP 1.1; this endpoint is SOAP 1.2", code="VersionMismatch"
            )
        soap_action = headers.get("soapaction", "").strip().strip('"')
        if soap_action:
            actions.append((soap_action, "SOAPAction header"))
    else:
        charset = content_type.params.get("charset")
        if charset is not None and charset.lower() not in ("utf-8", "utf8"):
            raise Refusal("http.charset", f"charset {charset} is not supported, send UTF-8")
        if "action" in content_type.params:
            actions.append((content_type.params["action"], "Content-Type action"))
        elif mode is Mode.STRICT:
            raise Refusal("http.action.missing", "application/soap+xml without its action parameter")
    decoded = _decode_envelope(body, mode, framing="plain", parts=[])
    _check_actions(decoded, actions, mode)
    return decoded


def _check_actions(decoded: Decoded, actions: list[tuple[str, str]], mode: Mode) -> None:
    for value, where in actions:
        if _full_action(value, mode, where) != decoded.operation.name:
            raise Refusal(
                "soap.action", f"The given SOAPAction {value} does not match an operation. ({where})"
            )
    decoded.action = actions[0][0] if actions else None


def _decode_envelope(
    data: bytes, mode: Mode, *, framing: Literal["mtom", "plain"], parts: list[Part]
) -> Decoded:
    try:
        envelope = parse_xml(data, max_bytes=MAX_REQUEST_BYTES, source="SOAP envelope")
    except RejectedItemError as exc:
        raise Refusal("soap.xml", f"Error reading XMLStreamReader: {exc}") from exc
    namespace = etree.QName(envelope).namespace
    if namespace == wire.SOAP12_NS:
        version = wire.SoapVersion.V12
    elif namespace == wire.SOAP11_NS and mode is Mode.LENIENT:
        version = wire.SoapVersion.V11
    else:
        raise Refusal(
            "soap.version", f"Invalid SOAP version or envelope namespace {namespace}", code="VersionMismatch"
        )
    if etree.QName(envelope).localname != "Envelope":
        raise Refusal("soap.envelope", "the document element is not a SOAP Envelope")
    children = [c for c in envelope if isinstance(c.tag, str)]
    if children and etree.QName(children[0]).localname == "Header":
        children = children[1:]
    if len(children) != 1 or children[0].tag != f"{{{version.envelope_ns}}}Body":
        raise Refusal("soap.body", "the Envelope must hold an optional Header and one Body")
    payload = [c for c in children[0] if isinstance(c.tag, str)]
    if len(payload) != 1:
        raise Refusal("soap.body", f"the Body holds {len(payload)} elements, one is expected")
    wrapper = etree.QName(payload[0])
    operation = (
        wire.BY_REQUEST_ELEMENT.get(wrapper.localname) if wrapper.namespace == wire.SERVICE_NS else None
    )
    if operation is None:
        raise Refusal(
            "soap.operation",
            f"Message part {wrapper.text} was not recognized.  (Does it exist in service WSDL?)",
        )
    decoded = Decoded(operation, version, framing, None, parts=parts)
    _read_params(payload[0], decoded, mode)
    return decoded


def _read_params(wrapper: etree._Element, decoded: Decoded, mode: Mode) -> None:
    params = decoded.operation.params
    expected = [p.name for p in params]
    position = 0
    for child in wrapper:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        if qname.namespace is not None or qname.localname not in expected:
            allowed = ",".join(f"<{{}}{name}>" for name in expected)
            raise Refusal(
                "soap.params.unexpected",
                f'Unmarshalling Error: unexpected element (uri:"{qname.namespace or ""}", '
                f'local:"{qname.localname}"). Expected elements are {allowed}',
            )
        index = expected.index(qname.localname)
        if index < position and mode is Mode.STRICT:
            raise Refusal("soap.params.order", f"<{qname.localname}> comes after <{expected[position]}>")
        position = max(position, index)
        param = params[index]
        if param.name in decoded.texts or param.name in decoded.codes or param.name in decoded.binaries:
            raise Refusal("soap.params.duplicate", f"<{param.name}> is given twice")
        if param.kind == "binary":
            decoded.binaries[param.name] = _read_binary(child, decoded, mode)
        elif param.kind == "code":
            code = child.get("code")
            if code is None or len(child) or (child.text or "").strip():
                raise Refusal("soap.params.code", f"<{param.name}> must be an empty element with @code")
            decoded.codes[param.name] = code
        else:
            if len(child):
                raise Refusal("soap.params.text", f"<{param.name}> must hold text only")
            decoded.texts[param.name] = child.text or ""
    missing = [
        p.name
        for p in params
        if p.required and p.name not in decoded.texts and p.name not in decoded.binaries
    ]
    if missing:
        raise Refusal("soap.params.missing", f"{decoded.operation.request}: <{missing[0]}> is missing")


def _read_binary(element: etree._Element, decoded: Decoded, mode: Mode) -> Binary:
    name = etree.QName(element).localname
    content_type = element.get(f"{{{wire.SERVICE_NS}}}contentType")
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        text = element.text or ""
        try:
            data = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Refusal("soap.params.base64", f"Unmarshalling Error: <{name}> is not base64") from exc
        return Binary(data, content_type)
    include = children[0]
    if len(children) != 1 or include.tag != f"{{{wire.XOP_NS}}}Include":
        raise Refusal("xop.include", f"<{name}> must hold base64 text or one xop:Include")
    if decoded.framing != "mtom":
        raise Refusal(
            "xop.outside-mtom", f"<{name}> holds an xop:Include outside a multipart/related package"
        )
    around = (element.text or "") + (include.tail or "")
    if around.strip():
        raise Refusal("xop.mixed", f"<{name}> mixes text with its xop:Include")
    if around and mode is Mode.STRICT:
        # research §2.1: libsne warns that the SNE is sensitive to whitespace around xop:Include
        raise Refusal("xop.whitespace", f"whitespace beside the xop:Include of <{name}>")
    href = include.get("href", "")
    if not href.startswith("cid:"):
        raise Refusal("xop.href", f"<{name}>: xop:Include href={href!r} is not a cid: URL")
    target = _resolve(href, decoded.parts, mode)
    if target is None:
        raise Refusal("xop.unresolved", f"<{name}>: {href} matches no body part (after percent-decoding)")
    target.referenced = True
    return Binary(target.body, content_type, target.content_id)


def _resolve(href: str, parts: list[Part], mode: Mode) -> Part | None:
    cid = href.removeprefix("cid:")
    candidates = [unquote(cid)]  # RFC 2392: the receiver percent-decodes before matching
    if mode is Mode.LENIENT:
        candidates += [cid, strip_brackets(unquote(cid))]
    elif any(c in cid for c in "<> "):
        raise Refusal("xop.href", f"{href} is not a valid cid: URL (brackets or spaces)")
    for candidate in candidates:
        for part in parts:
            if part.content_id is not None and part.content_id == candidate:
                return part
    return None
