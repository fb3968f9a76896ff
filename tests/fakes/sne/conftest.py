"""Fixtures for the fake SNE: a world on the fixed clock, test certificates, an independent reply reader.

The reader (`read_reply`) uses the standard library's email parser and percent-decodes cid: hrefs itself
(RFC 2392): it shares no code with the fake's MIME writer.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from urllib.parse import unquote

import pytest
import trustme
from lxml import etree

from aiguilleur.fakes.sne import FakeSne, Reply
from tests.conftest import Clock

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WS = "http://ws.metier.nuu.application.i2/"
NUU = "http://nuu.application.i2/"
XOP = "http://www.w3.org/2004/08/xop/include"


class Sleeps:
    """The world's sleep hook in unit tests: records, never sleeps."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, delay_s: float) -> None:
        self.delays.append(delay_s)


@dataclass
class Pki:
    """A test CA, the server's certificate, and client certificates (good, other CA, expired)."""

    ca: trustme.CA
    dir: Path
    client_pem: bytes  # leaf certificate of CN G0000, what goes in the certificat attachment
    files: dict[str, Path] = field(default_factory=dict)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("sne-pki")
    ca = trustme.CA()
    other_ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client.example", common_name="G0000")
    stranger = other_ca.issue_cert("client.example", common_name="G0000")
    expired = ca.issue_cert("client.example", common_name="G0000", not_after=datetime(2020, 1, 1, tzinfo=UTC))
    other_guichet = ca.issue_cert("client.example", common_name="G9999")
    files: dict[str, Path] = {}
    ca.cert_pem.write_to_path(str(root / "ca.pem"))
    files["ca"] = root / "ca.pem"
    for name, cert in [
        ("server", server),
        ("client", client),
        ("stranger", stranger),
        ("expired", expired),
        ("other_guichet", other_guichet),
    ]:
        cert.private_key_and_cert_chain_pem.write_to_path(str(root / f"{name}.pem"))
        cert.cert_chain_pems[0].write_to_path(str(root / f"{name}.crt"))
        cert.private_key_pem.write_to_path(str(root / f"{name}.key"))
        files[name] = root / f"{name}.pem"
        files[f"{name}.crt"] = root / f"{name}.crt"
        files[f"{name}.key"] = root / f"{name}.key"
    return Pki(ca, root, client.cert_chain_pems[0].bytes(), files)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def sne(clock: Clock, sleeps: Sleeps) -> FakeSne:
    world = FakeSne(now=clock, sleep=sleeps, seed=1)
    world.add_guichet("G0000", departement="059")
    return world


@dataclass
class ParsedReply:
    """A reply read with the standard library: the SOAP envelope and the wrapper's children."""

    status: int
    envelope: etree._Element
    parts: dict[str, bytes]  # attachments by Content-ID (no brackets)
    fields: dict[str, str | bytes]  # wrapper children: text, or the bytes an xop:Include points to
    wrapper: str | None  # local name of the Body's child (…Reponse, or Fault)

    @property
    def fault_code(self) -> str | None:
        value = self.envelope.find(f"{{{SOAP12}}}Body/{{{SOAP12}}}Fault/{{{SOAP12}}}Code/{{{SOAP12}}}Value")
        return value.text if value is not None else None

    @property
    def fault_reason(self) -> str | None:
        return self.envelope.findtext(
            f"{{{SOAP12}}}Body/{{{SOAP12}}}Fault/{{{SOAP12}}}Reason/{{{SOAP12}}}Text"
        )

    @property
    def fault_detail(self) -> str | None:
        return self.envelope.findtext(f".//{{{WS}}}demandeLogementException/message")


def mime_message(content_type: str, body: bytes) -> Message:
    return email.message_from_bytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body, policy=email.policy.HTTP
    )


def read_reply(reply: Reply) -> ParsedReply:
    content_type = reply.header("Content-Type") or ""
    parts: dict[str, bytes] = {}
    if content_type.startswith("multipart/related"):
        message = mime_message(content_type, reply.body)
        assert message.is_multipart()
        start = message.get_param("start")
        assert isinstance(start, str)
        root_bytes = None
        for part in message.iter_parts():
            cid = str(part["Content-ID"]).strip("<>")
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            if f"<{cid}>" == start:
                root_bytes = payload
            else:
                parts[cid] = payload
        assert root_bytes is not None, "start matches no part"
    else:
        root_bytes = reply.body
    envelope = etree.fromstring(root_bytes)
    body = envelope.find(f"{{{SOAP12}}}Body")
    assert body is not None
    wrapper = body[0] if len(body) else None
    fields: dict[str, str | bytes] = {}
    if wrapper is not None and etree.QName(wrapper).namespace == WS:
        for child in wrapper:
            include = child.find(f"{{{XOP}}}Include")
            if include is not None:
                fields[etree.QName(child).localname] = parts[unquote(include.get("href", "")[4:])]
            else:
                fields[etree.QName(child).localname] = child.text or ""
    name = etree.QName(wrapper).localname if wrapper is not None else None
    return ParsedReply(reply.status, envelope, parts, fields, name)


def xml_of(data: str | bytes) -> etree._Element:
    assert isinstance(data, bytes)
    return etree.fromstring(data)
