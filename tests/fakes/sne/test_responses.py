"""The fake's answers on the wire: CXF framing to the byte, plain SOAP, faults, the WSDL it serves."""

from __future__ import annotations

import re

import pytest
from lxml import etree
from requests_toolbelt.multipart.decoder import MultipartDecoder

from aiguilleur.fakes.sne import FakeSne, Mode, demande_xml, wsdl_text
from aiguilleur.fakes.sne.wire import OPERATIONS
from tests.fakes.sne import golden
from tests.fakes.sne.conftest import Pki, read_reply

CID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-\d+"


@pytest.fixture
def reply(sne: FakeSne, pki: Pki):
    number = sne.seed(demande_xml()).num_unique
    return sne.handle(*reversed(golden.demande_logement(number.encode(), pki.client_pem)))


def test_success_is_framed_like_cxf(reply) -> None:
    content_type = reply.header("Content-Type")
    match = re.fullmatch(
        r'multipart/related; type="application/xop\+xml"; boundary="(uuid:[0-9a-f-]{36})"; '
        r'start="<root\.message@cxf\.apache\.org>"; start-info="application/soap\+xml"',
        content_type,
    )
    assert match, content_type
    boundary = match[1].encode()
    body = reply.body
    root_head = (
        b"\r\n--" + boundary + b"\r\n"
        b'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"\r\n'
        b"Content-Transfer-Encoding: binary\r\n"
        b"Content-ID: <root.message@cxf.apache.org>\r\n\r\n"
        b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>'
        b'<ns2:demandeLogementReponse xmlns:ns2="http://ws.metier.nuu.application.i2/">'
    )
    assert body.startswith(root_head)
    assert body.endswith(b"\r\n--" + boundary + b"--")  # no line end after the closing delimiter
    href = re.search(
        rb'<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:('
        + CID.encode()
        + rb')%40ws\.metier\.nuu\.application\.i2"/>',
        body,
    )
    assert href, "percent-encoded cid"
    assert (
        b"\r\n--"
        + boundary
        + b"\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
        b"Content-ID: <" + href[1] + b"@ws.metier.nuu.application.i2>\r\n\r\n<?xml" in body
    )


def test_success_parses_with_requests_toolbelt(reply) -> None:
    decoder = MultipartDecoder(reply.body, reply.header("Content-Type"))
    ids = [part.headers[b"Content-ID"] for part in decoder.parts]
    assert ids[0] == b"<root.message@cxf.apache.org>"
    assert decoder.parts[1].content.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n')


def test_cid_style_plain_writes_bare_at_signs(sne: FakeSne, pki: Pki) -> None:
    sne.cid_style = "plain"
    number = sne.seed(demande_xml()).num_unique
    reply = sne.handle(*reversed(golden.demande_logement(number.encode(), pki.client_pem)))
    assert b'@ws.metier.nuu.application.i2"/>' in reply.body and b"%40" not in reply.body
    assert read_reply(reply).fields["fichierDemande"]


def test_plain_responses_inline_base64(sne: FakeSne, pki: Pki) -> None:
    sne.mtom_responses = False
    number = sne.seed(demande_xml()).num_unique
    reply = sne.handle(*reversed(golden.demande_logement(number.encode(), pki.client_pem)))
    assert reply.header("Content-Type") == "application/soap+xml; charset=UTF-8"
    envelope = etree.fromstring(reply.body)
    text = envelope.findtext(".//fichierDemande")
    assert text and "<" not in text


def test_content_ids_follow_one_process_uuid_and_a_counter(sne: FakeSne, pki: Pki) -> None:
    number = sne.seed(demande_xml()).num_unique
    bodies = [
        sne.handle(*reversed(golden.demande_logement(number.encode(), pki.client_pem))).body for _ in range(2)
    ]
    ids = [re.search(rb"Content-ID: <(" + CID.encode() + rb")@", b)[1] for b in bodies]
    assert ids[0].rsplit(b"-", 1)[0] == ids[1].rsplit(b"-", 1)[0]
    assert int(ids[1].rsplit(b"-", 1)[1]) == int(ids[0].rsplit(b"-", 1)[1]) + 1


def test_fault_is_plain_soap12_with_detail(sne: FakeSne) -> None:
    sne.faults.soap_fault("Sender", "Refus <motif>", "détail & co")
    env = golden.envelope(
        b"demandeLogementParametres", b"<numUnique>x</numUnique><nomCertificat>c</nomCertificat><certificat/>"
    )
    reply = sne.handle(env, golden.plain("getDemandeLogement", env)[0])
    assert reply.status == 500
    assert reply.header("Content-Type") == "application/soap+xml; charset=UTF-8"
    assert reply.body == (
        b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault>'
        b"<soap:Code><soap:Value>soap:Sender</soap:Value></soap:Code>"
        b'<soap:Reason><soap:Text xml:lang="fr">Refus &lt;motif&gt;</soap:Text></soap:Reason>'
        b'<soap:Detail><ns2:demandeLogementException xmlns:ns2="http://ws.metier.nuu.application.i2/">'
        + "<message>détail &amp; co</message>".encode()
        + b"</ns2:demandeLogementException></soap:Detail></soap:Fault></soap:Body></soap:Envelope>"
    )


def test_unknown_path_and_methods(sne: FakeSne) -> None:
    assert sne.handle(b"", {}, path="/services/Autre").status == 404
    assert sne.handle(b"", {}, method="PUT").status == 405
    reply = read_reply(sne.handle(b"", {}, method="GET"))
    assert reply.status == 500 and (reply.fault_reason or "").startswith("No such operation")
    assert sne.handle(b"", {"Content-Type": "application/json"}).status == 500
    assert sne.requests[-1].check == "http.content-type.media"


def test_service_path_with_and_without_trailing_slash(sne: FakeSne, pki: Pki) -> None:
    headers, body = golden.doublons(demande_xml())
    for path in ("/services/DemandeLogementImplService/", "/services/DemandeLogementImplService"):
        assert sne.handle(body, headers, path=path).status == 200


def test_wsdl_is_served_with_the_servers_address(sne: FakeSne) -> None:
    reply = sne.handle(b"", {"Host": "127.0.0.1:8443"}, method="GET", query="wsdl")
    assert reply.status == 200 and reply.header("Content-Type") == "text/xml;charset=UTF-8"
    wsdl = etree.fromstring(reply.body)
    address = wsdl.find(".//{http://schemas.xmlsoap.org/wsdl/soap12/}address")
    assert address is not None
    assert address.get("location") == "https://127.0.0.1:8443/services/DemandeLogementImplService/"
    include = wsdl.find(".//{http://www.w3.org/2001/XMLSchema}include")
    assert include is not None
    location = include.get("schemaLocation")
    assert location == "https://127.0.0.1:8443/services/DemandeLogementImplService?xsd=xmlmime.xsd"
    xsd = sne.handle(b"", {}, method="GET", query="xsd=xmlmime.xsd")
    etree.XMLSchema(etree.fromstring(xsd.body))


def test_wsdl_agrees_with_the_operation_table() -> None:
    wsdl = etree.fromstring(wsdl_text().encode())
    ns = {
        "w": "http://schemas.xmlsoap.org/wsdl/",
        "s": "http://schemas.xmlsoap.org/wsdl/soap12/",
        "xs": "http://www.w3.org/2001/XMLSchema",
    }
    for op in OPERATIONS:
        soap_op = wsdl.find(f"w:binding/w:operation[@name='{op.name}']/s:operation", ns)
        assert soap_op is not None and soap_op.get("soapAction") == op.action
        children = wsdl.findall(f".//xs:complexType[@name='{op.request}']/xs:sequence/xs:element", ns)
        assert [c.get("name") for c in children] == [p.name for p in op.params]
        message = wsdl.find(f"w:message[@name='{op.message}Request']/w:part", ns)
        assert message is not None and message.get("element") == f"tns:{op.request}"
    assert wsdl.find("w:binding/s:binding", ns).get("style") == "document"


def test_zeep_loads_the_wsdl_file_offline() -> None:
    from importlib import resources

    import zeep

    path = resources.files("aiguilleur.fakes.sne").joinpath("wsdl", "DemandeLogementImplService.wsdl")
    client = zeep.Client(str(path))
    operations = (
        client.wsdl.services["DemandeLogementImplService"]
        .ports["DemandeLogementImplPort"]
        .binding._operations
    )
    assert sorted(operations) == sorted(op.name for op in OPERATIONS)


def test_lenient_and_strict_answer_alike(pki: Pki) -> None:
    bodies = []
    for mode in Mode:
        world = FakeSne(mode=mode, seed=3)
        headers, body = golden.num_unique(demande_xml(), pki.client_pem)
        bodies.append(world.handle(body, headers).body)
    assert bodies[0] == bodies[1]


def test_the_fake_imports_nothing_from_connectors_store_or_engine() -> None:
    import subprocess
    import sys

    code = (
        "import sys, aiguilleur.fakes.sne; "
        "print([m for m in sys.modules if m.split('.')[1:2] in (['connectors'], ['store'], ['engine'])])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
