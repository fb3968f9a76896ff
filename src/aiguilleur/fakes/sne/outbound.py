"""Answers of the fake SNE, framed as Apache CXF frames them (research/sne.md §1.3, §2.3, §3).

- A success is an XOP/MTOM package: ``multipart/related; type="application/xop+xml";
  boundary="uuid:…"; start="<root.message@cxf.apache.org>"; start-info="application/soap+xml"``, root part
  ``application/xop+xml; charset=UTF-8; type="application/soap+xml"``, one ``application/octet-stream``
  part per binary, ``Content-Transfer-Encoding: binary``, Content-IDs
  ``<uuid>-<n>@ws.metier.nuu.application.i2`` referenced as
  ``cid:<uuid>-<n>%40ws.metier.nuu.application.i2`` (percent-encoded, CXF-2669).
  With ``mtom=False`` it is plain SOAP with inline base64 instead.
- A fault is plain SOAP (no multipart) with HTTP 500, detail ``ns2:demandeLogementException/message``.
- The envelope has no XML declaration and no Header; the service namespace is prefixed ``ns2`` (JAXB).
"""

from __future__ import annotations

import base64
import random
import uuid
from typing import Literal, NamedTuple
from xml.sax.saxutils import escape, quoteattr

from aiguilleur.fakes.sne import wire
from aiguilleur.fakes.sne.mime import cxf_multipart
from aiguilleur.fakes.sne.refusal import FaultCode

CidStyle = Literal["encoded", "plain"]


class Reply(NamedTuple):
    """An HTTP answer: status, headers (in order), body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class CxfIds:
    """Boundaries and Content-IDs as CXF's AttachmentUtil makes them: one UUID per process followed by a
    counter for attachments, a fresh ``uuid:`` boundary per message. Seeded, so a test sees the same ids."""

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)  # noqa: S311 - identifiers, not secrets
        self.att_uuid = self._uuid()
        self.counter = 0

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def boundary(self) -> str:
        return f"uuid:{self._uuid()}"

    def content_id(self) -> str:
        self.counter += 1
        return f"{self.att_uuid}-{self.counter}@{wire.CID_DOMAIN}"


Child = tuple[str, str | bytes]  # (element name, text or binary content)


def _envelope(version: wire.SoapVersion, body: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{version.envelope_ns}"><soap:Body>{body}</soap:Body></soap:Envelope>'
    ).encode()


def success(
    operation: wire.Operation,
    version: wire.SoapVersion,
    children: list[Child],
    ids: CxfIds,
    *,
    mtom: bool = True,
    cid_style: CidStyle = "encoded",
) -> Reply:
    """The `…Reponse` of `operation` with `children` in order (bytes are base64Binary fields)."""
    inner: list[str] = []
    attachments: list[tuple[str, bytes]] = []
    for name, value in children:
        if isinstance(value, str):
            inner.append(f"<{name}>{escape(value)}</{name}>")
        elif mtom:
            cid = ids.content_id()
            attachments.append((cid, value))
            href = cid.replace("@", "%40") if cid_style == "encoded" else cid
            inner.append(f'<{name}><xop:Include xmlns:xop="{wire.XOP_NS}" href="cid:{href}"/></{name}>')
        else:
            inner.append(f"<{name}>{base64.b64encode(value).decode('ascii')}</{name}>")
    body = (
        f'<ns2:{operation.response} xmlns:ns2="{wire.SERVICE_NS}">{"".join(inner)}</ns2:{operation.response}>'
    )
    envelope = _envelope(version, body)
    if not mtom:
        return Reply(200, [("Content-Type", f"{version.media_type}; charset=UTF-8")], envelope)
    boundary = ids.boundary()
    parts: list[tuple[list[tuple[str, str]], bytes]] = [
        (
            [
                ("Content-Type", f'application/xop+xml; charset=UTF-8; type="{version.media_type}"'),
                ("Content-Transfer-Encoding", "binary"),
                ("Content-ID", f"<{wire.CXF_ROOT_CID}>"),
            ],
            envelope,
        )
    ]
    for cid, data in attachments:
        parts.append(
            (
                [
                    ("Content-Type", "application/octet-stream"),
                    ("Content-Transfer-Encoding", "binary"),
                    ("Content-ID", f"<{cid}>"),
                ],
                data,
            )
        )
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        f'start="<{wire.CXF_ROOT_CID}>"; start-info="{version.media_type}"'
    )
    return Reply(200, [("Content-Type", content_type)], cxf_multipart(parts, boundary))


_SOAP11_CODES = {"Sender": "Client", "Receiver": "Server", "VersionMismatch": "VersionMismatch"}


def fault(
    version: wire.SoapVersion,
    code: FaultCode,
    reason: str,
    detail: str | None = None,
    *,
    status: int = 500,
) -> Reply:
    """A SOAP fault, plain SOAP, HTTP 500 as CXF answers every fault (research §3)."""
    detail_xml = ""
    if detail is not None:
        detail_xml = (
            f'<ns2:demandeLogementException xmlns:ns2="{wire.SERVICE_NS}">'
            f"<message>{escape(detail)}</message></ns2:demandeLogementException>"
        )
    if version is wire.SoapVersion.V12:
        body = (
            f"<soap:Fault><soap:Code><soap:Value>soap:{code}</soap:Value></soap:Code>"
            f"<soap:Reason><soap:Text xml:lang={quoteattr('fr')}>{escape(reason)}</soap:Text></soap:Reason>"
            + (f"<soap:Detail>{detail_xml}</soap:Detail>" if detail_xml else "")
            + "</soap:Fault>"
        )
    else:
        body = (
            f"<soap:Fault><faultcode>soap:{_SOAP11_CODES[code]}</faultcode>"
            f"<faultstring>{escape(reason)}</faultstring>"
            + (f"<detail>{detail_xml}</detail>" if detail_xml else "")
            + "</soap:Fault>"
        )
    return Reply(status, [("Content-Type", f"{version.media_type}; charset=UTF-8")], _envelope(version, body))


def html_error(status: int, title: str) -> Reply:
    """What a reverse proxy or the servlet container answers before CXF is reached."""
    page = (
        f"<html><head><title>{status} {escape(title)}</title></head>"
        f"<body><h1>{escape(title)}</h1></body></html>"
    )
    return Reply(status, [("Content-Type", "text/html; charset=iso-8859-1")], page.encode("latin-1"))
