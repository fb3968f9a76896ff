"""Strict and lenient wire checks: each malformed variant of a golden request, and libsne's request.

Every variant breaks one thing in the canonical getNumUnique request (tests/fakes/sne/golden.py); the
table says which check strict mode names and whether lenient mode lets it through.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from aiguilleur.fakes.sne import LENIENT_QUIRKS, FakeSne, Mode, demande_xml
from tests.fakes.sne import golden
from tests.fakes.sne.conftest import Pki, read_reply

Request = tuple[dict[str, str], bytes]
Variant = Callable[[Request], Request]

ACTION = "http://ws.metier.nuu.application.i2/getNumUnique"
ROOT_ACTION = b'type="application/soap+xml"; action="' + ACTION.encode() + b'"'


def header(old: str, new: str) -> Variant:
    def change(request: Request) -> Request:
        headers, body = request
        assert old in headers["Content-Type"], old
        return {**headers, "Content-Type": headers["Content-Type"].replace(old, new)}, body

    return change


def body(old: bytes, new: bytes, count: int = -1) -> Variant:
    def change(request: Request) -> Request:
        headers, data = request
        assert old in data, old
        return headers, data.replace(old, new, count)

    return change


def both(*changes: Variant) -> Variant:
    def change(request: Request) -> Request:
        for one in changes:
            request = one(request)
        return request

    return change


CERT_PART = b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
NO_ACTION = both(header(f'; action="{ACTION}"', ""), body(b"; action=" + b'"' + ACTION.encode() + b'"', b""))
EXTRA_PART = (
    b"--" + golden.BOUNDARY + b"\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n"
    b"Content-ID: <extra@client.invalid>\r\n\r\nhello\r\n--" + golden.BOUNDARY + b"--"
)

# (variant, check named by strict mode, does lenient mode accept it?)
VARIANTS: list = [
    pytest.param(
        header('start="<root.4f1c@client.invalid>"; ', ""), "mime.start.missing", True, id="no-start"
    ),
    pytest.param(
        header('start="<root.4f1c@client.invalid>"', 'start="root.4f1c@client.invalid"'),
        "mime.start.brackets",
        True,
        id="start-without-brackets",
    ),
    pytest.param(
        header('start="<root.4f1c@client.invalid>"', 'start="<other@client.invalid>"'),
        "mime.start.unresolved",
        False,
        id="start-unresolved",
    ),
    pytest.param(
        header('start-info="application/soap+xml"; ', ""), "mime.start-info", True, id="no-start-info"
    ),
    pytest.param(NO_ACTION, "mime.action.missing", True, id="no-action"),
    pytest.param(
        body(b'action="' + ACTION.encode() + b'"', b'action="getNumUnique"'),
        "soap.action",
        True,
        id="bare-action-in-root-part",
    ),
    pytest.param(
        header(ACTION, ACTION.replace("getNumUnique", "getDoublons")),
        "soap.action",
        False,
        id="action-of-another-operation",
    ),
    pytest.param(body(b"\r\n", b"\n"), "mime.crlf", True, id="lf-line-ends"),
    pytest.param(
        body(b"Content-ID: <" + golden.ROOT_CID + b">\r\n", b"Content-ID: <" + golden.ROOT_CID + b">\n"),
        "mime.crlf",
        True,
        id="one-bare-lf-in-headers",
    ),
    pytest.param(
        body(b"<fichierDemande><xop", b"<fichierDemande> <xop"),
        "xop.whitespace",
        True,
        id="space-before-include",
    ),
    pytest.param(
        body(b'"/></fichierDemande>', b'"/>\r\n</fichierDemande>'),
        "xop.whitespace",
        True,
        id="newline-after-include",
    ),
    pytest.param(
        body(b"<fichierDemande><xop", b"<fichierDemande>x<xop"), "xop.mixed", False, id="text-beside-include"
    ),
    pytest.param(
        body(b"http://www.w3.org/2003/05/soap-envelope", b"http://schemas.xmlsoap.org/soap/envelope/"),
        "soap.version",
        True,
        id="soap11-envelope",
    ),
    pytest.param(
        body(
            b"Content-Transfer-Encoding: 8bit\r\nContent-ID: <" + golden.ROOT_CID,
            b"Content-ID: <" + golden.ROOT_CID,
        ),
        "mime.cte.missing",
        True,
        id="no-cte",
    ),
    pytest.param(
        body(b"Content-ID: <" + golden.DEM_CID + b">", b"Content-ID: " + golden.DEM_CID),
        "mime.content-id.brackets",
        True,
        id="content-id-without-brackets",
    ),
    pytest.param(
        body(b'href="cid:dem.77a2@client.invalid"', b'href="cid:dem.0000@client.invalid"'),
        "xop.unresolved",
        False,
        id="href-unresolved",
    ),
    pytest.param(
        body(b'href="cid:dem.77a2@client.invalid"', b'href="cid:&lt;dem.77a2@client.invalid&gt;"'),
        "xop.href",
        True,
        id="href-in-brackets",
    ),
    pytest.param(
        body(b"--" + golden.BOUNDARY + b"--\r\n", b""), "mime.truncated", False, id="no-closing-delimiter"
    ),
    pytest.param(header('type="application/xop+xml"', 'type="text/xml"'), "mime.type", False, id="not-xop"),
    pytest.param(
        header('type="application/xop+xml"', "type=application/xop+xml"),
        "http.content-type.syntax",
        True,
        id="unquoted-type",
    ),
    pytest.param(
        header(f'boundary="{golden.BOUNDARY.decode()}"; ', ""), "mime.boundary", False, id="no-boundary"
    ),
    pytest.param(
        body(b'charset=UTF-8; type="application/soap+xml"', b'type="application/soap+xml"'),
        "mime.root.charset",
        True,
        id="root-without-charset",
    ),
    pytest.param(body(ROOT_ACTION, b'type="text/xml"'), "mime.root.type", True, id="root-type-text-xml"),
    pytest.param(
        body(b"Content-Type: application/xop+xml", b"Content-Type: application/soap+xml"),
        "mime.root.type",
        True,
        id="root-not-xop",
    ),
    pytest.param(
        body(b"<nomCertificat>CERG0000-202611240900.pem</nomCertificat>", b"", 1),
        "soap.params.missing",
        False,
        id="missing-parameter",
    ),
    pytest.param(
        body(
            b"<nomFichierDemande>DEMG0000-202611240900-000001.xml</nomFichierDemande>",
            b"<ws:nomFichierDemande>DEMG0000-202611240900-000001.xml</ws:nomFichierDemande>",
        ),
        "soap.params.unexpected",
        False,
        id="qualified-parameter",
    ),
    pytest.param(
        body(b"--" + golden.BOUNDARY + b"--", EXTRA_PART), "mime.unreferenced", True, id="unreferenced-part"
    ),
    pytest.param(
        body(b"numUniqueParametres", b"inconnuParametres"), "soap.operation", False, id="unknown-wrapper"
    ),
    pytest.param(
        body(b"<env:Envelope", b'<!DOCTYPE x [<!ENTITY e "e">]><env:Envelope'),
        "soap.xml",
        False,
        id="doctype",
    ),
]


@pytest.fixture
def canonical(pki: Pki) -> Request:
    return golden.num_unique(demande_xml(), pki.client_pem)


def test_canonical_request_is_accepted_in_both_modes(sne: FakeSne, canonical: Request) -> None:
    for mode in Mode:
        sne.mode = mode
        assert sne.handle(canonical[1], canonical[0]).status == 200, sne.requests[-1].reason


@pytest.mark.parametrize(("variant", "check", "lenient_ok"), VARIANTS)
def test_strict_mode_refuses(
    sne: FakeSne, canonical: Request, variant: Variant, check: str, lenient_ok: bool
) -> None:
    headers, data = variant(canonical)
    reply = read_reply(sne.handle(data, headers))
    assert reply.status == 500
    assert sne.requests[-1].check == check, sne.requests[-1].reason
    expected_code = "soap:VersionMismatch" if check == "soap.version" else "soap:Sender"
    assert reply.fault_code == expected_code


@pytest.mark.parametrize(("variant", "check", "lenient_ok"), VARIANTS)
def test_lenient_mode(
    sne: FakeSne, canonical: Request, variant: Variant, check: str, lenient_ok: bool
) -> None:
    sne.mode = Mode.LENIENT
    headers, data = variant(canonical)
    reply = sne.handle(data, headers)
    if lenient_ok:
        assert reply.status == 200, sne.requests[-1].reason
    else:
        assert reply.status == 500 and sne.requests[-1].check is not None


def test_cte_base64_part_is_decoded_in_lenient_mode_only(sne: FakeSne, pki: Pki) -> None:
    import base64

    headers, data = golden.num_unique(demande_xml(), pki.client_pem)
    encoded = data.replace(
        CERT_PART + b"Content-ID: <" + golden.CER_CID + b">\r\n\r\n" + pki.client_pem,
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: BASE64\r\n"
        b"Content-ID: <"
        + golden.CER_CID
        + b">\r\n\r\n"
        + base64.encodebytes(pki.client_pem).replace(b"\n", b"\r\n"),
    )
    assert encoded != data
    assert sne.handle(encoded, headers).status == 500
    assert sne.requests[-1].check == "mime.cte.encoded"
    sne.mode = Mode.LENIENT
    assert sne.handle(encoded, headers).status == 200
    assert sne.requests[-1].binaries["certificat"] == pki.client_pem


def test_7bit_part_with_8bit_bytes_is_refused_in_strict_mode(sne: FakeSne, pki: Pki) -> None:
    headers, data = golden.num_unique(demande_xml(prenom="Léa"), pki.client_pem)
    data = data.replace(
        b"Content-Type: text/xml; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit",
        b"Content-Type: text/xml; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit",
    )
    assert sne.handle(data, headers).status == 500
    assert sne.requests[-1].check == "mime.cte.7bit"


def test_parameters_out_of_order_strict_refuses_lenient_accepts(sne: FakeSne, pki: Pki) -> None:
    env = golden.envelope(
        b"numUniqueParametres",
        golden.certificate_children()
        + b"<nomFichierDemande>DEMG0000-202611240900-000001.xml</nomFichierDemande>"
        b"<fichierDemande>" + golden.include(golden.DEM_CID) + b"</fichierDemande>",
    )
    headers, data = golden.mtom(
        "getNumUnique",
        env,
        [
            (golden.DEM_CID, b"text/xml; charset=UTF-8", demande_xml()),
            (golden.CER_CID, b"application/octet-stream", pki.client_pem),
        ],
    )
    assert sne.handle(data, headers).status == 500
    assert sne.requests[-1].check == "soap.params.order"
    sne.mode = Mode.LENIENT
    assert sne.handle(data, headers).status == 200


def test_percent_encoded_cid_is_resolved_in_strict_mode(sne: FakeSne, canonical: Request) -> None:
    headers, data = body(b'href="cid:dem.77a2@client.invalid"', b'href="cid:dem.77a2%40client.invalid"')(
        canonical
    )
    assert sne.handle(data, headers).status == 200


def test_cxf_client_form_with_action_in_start_info_is_accepted(sne: FakeSne, canonical: Request) -> None:
    # a CXF client writes the action inside start-info and the root part's type (AttachmentSerializer)
    headers, data = NO_ACTION(canonical)
    escaped = f'start-info="application/soap+xml; action=\\"{ACTION}\\""'
    headers = {
        **headers,
        "Content-Type": headers["Content-Type"].replace('start-info="application/soap+xml"', escaped),
    }
    assert sne.handle(data, headers).status == 200, sne.requests[-1].reason


def test_plain_soap_without_action_strict_refuses(sne: FakeSne, pki: Pki) -> None:
    env = golden.envelope(
        b"demandeLogementParametres",
        b"<numUnique>0591126000001G0000</numUnique><nomCertificat>c.pem</nomCertificat><certificat/>",
    )
    reply = sne.handle(env, {"Content-Type": "application/soap+xml; charset=utf-8"})
    assert reply.status == 500 and sne.requests[-1].check == "http.action.missing"
    sne.mode = Mode.LENIENT
    assert sne.handle(env, {"Content-Type": "application/soap+xml; charset=utf-8"}).status == 200


def test_soap11_is_answered_in_soap11_in_lenient_mode(sne: FakeSne) -> None:
    env = (
        b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        b'xmlns:ws="http://ws.metier.nuu.application.i2/"><soapenv:Body><ws:demandeLogementParametres>'
        b"<numUnique>0591126000001G0000</numUnique><nomCertificat>c.pem</nomCertificat><certificat/>"
        b"</ws:demandeLogementParametres></soapenv:Body></soapenv:Envelope>"
    )
    headers = {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": '"http://ws.metier.nuu.application.i2/getDemandeLogement"',
    }
    refused = sne.handle(env, headers)
    assert refused.status == 500 and b"VersionMismatch" in refused.body
    sne.mode = Mode.LENIENT
    reply = sne.handle(env, headers)
    assert reply.status == 200
    assert b"http://schemas.xmlsoap.org/soap/envelope/" in reply.body
    assert 'start-info="text/xml"' in (reply.header("Content-Type") or "")


def test_libsne_request_is_refused_strict_and_accepted_lenient(pki: Pki) -> None:
    demande = demande_xml(guichet="G1226", prenom="L&#233;a").replace(b"&amp;", b"&")  # ASCII, char refs
    headers, data = golden.libsne_num_unique(demande)
    strict = FakeSne()
    assert strict.handle(data, headers).status == 500
    assert strict.requests[-1].check == "mime.start.brackets"
    lenient = FakeSne(mode=Mode.LENIENT)
    reply = read_reply(lenient.handle(data, headers))
    assert reply.status == 200
    assert lenient.requests[-1].binaries["certificat"] == b""
    registered = next(iter(lenient.register.demandes.values()))
    assert registered.prenom == "Léa" and registered.num_guichet == "G1226"
    assert reply.fields["nomFichierDemande"] == "DEMG1226-201701131455-000001.xml"


def test_lenient_quirks_are_documented() -> None:
    assert len(LENIENT_QUIRKS) >= 10
    assert any("soaproot" in quirk for quirk in LENIENT_QUIRKS)
