"""Golden MTOM requests: the bytes soap.py builds for each operation, written out here from
research/sne.md §1.3 and §2.2, then read back by the standard library's email parser and by
requests-toolbelt's MultipartDecoder. Also: answers read whether MTOM or plain SOAP."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest
from lxml import etree
from requests_toolbelt.multipart.decoder import MultipartDecoder

from aiguilleur.connectors.sne import soap
from aiguilleur.connectors.sne.errors import SneFault, SneProtocolError, SneUnexpectedFault

T = "T0K3N"
CERT = b"-----BEGIN CERTIFICATE-----\r\nMIIB\n-----END CERTIFICATE-----\n"  # CR and LF kept as they are
DEMANDE = b'<tns:interfaceNuu xmlns:tns="http://nuu.application.i2/" versionInterface="02.01"/>'
ENV_OPEN = (
    '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:ws="http://ws.metier.nuu.application.i2/"><env:Header/><env:Body>'
)
ENV_CLOSE = "</env:Body></env:Envelope>"
XOP = (
    '<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:{}.T0K3N@aiguilleur.invalid"/>'
)
CERT_XML = (
    "<nomCertificat>CERG0000-202611240900.pem</nomCertificat>"
    '<certificat ws:contentType="application/x-x509-ca-cert">' + XOP.format("certificat") + "</certificat>"
)
CERT_PARAMS: list[tuple[str, soap.Value]] = [
    ("nomCertificat", "CERG0000-202611240900.pem"),
    ("certificat", soap.Binary(CERT, "application/octet-stream", soap.CERTIFICATE_TYPE)),
]
DEMANDE_PARAM = ("fichierDemande", soap.Binary(DEMANDE, "text/xml; charset=UTF-8"))


def expected(op: str, wrapper_xml: str, attachments: list[tuple[str, str, bytes]]) -> tuple[str, bytes]:
    """The Content-Type and the body research §2.2 asks for, written out by hand."""
    action = f"http://ws.metier.nuu.application.i2/{op}"
    content_type = (
        'multipart/related; type="application/xop+xml"; start="<root.T0K3N@aiguilleur.invalid>"; '
        f'start-info="application/soap+xml"; boundary="uuid:T0K3N"; action="{action}"'
    )
    body = (
        b"--uuid:T0K3N\r\n"
        b'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"; '
        + f'action="{action}"\r\n'.encode()
        + b"Content-Transfer-Encoding: 8bit\r\n"
        b"Content-ID: <root.T0K3N@aiguilleur.invalid>\r\n"
        b"\r\n" + (ENV_OPEN + wrapper_xml + ENV_CLOSE).encode() + b"\r\n"
    )
    for name, media_type, data in attachments:
        body += (
            b"--uuid:T0K3N\r\n"
            + f"Content-Type: {media_type}\r\n".encode()
            + b"Content-Transfer-Encoding: binary\r\n"
            + f"Content-ID: <{name}.T0K3N@aiguilleur.invalid>\r\n".encode()
            + b"\r\n"
            + data
            + b"\r\n"
        )
    return content_type, body + b"--uuid:T0K3N--\r\n"


CASES = [
    (
        soap.NUM_UNIQUE,
        [("nomFichierDemande", "DEMG0000-202611240900-000001.xml"), DEMANDE_PARAM, *CERT_PARAMS],
        "<ws:numUniqueParametres><nomFichierDemande>DEMG0000-202611240900-000001.xml</nomFichierDemande>"
        "<fichierDemande>"
        + XOP.format("fichierDemande")
        + "</fichierDemande>"
        + CERT_XML
        + "</ws:numUniqueParametres>",
        [
            ("fichierDemande", "text/xml; charset=UTF-8", DEMANDE),
            ("certificat", "application/octet-stream", CERT),
        ],
    ),
    (
        soap.DEMANDE_LOGEMENT,
        [*CERT_PARAMS, ("numUnique", "059112600001AG0000")],  # given out of order: sent in sequence order
        "<ws:demandeLogementParametres><numUnique>059112600001AG0000</numUnique>"
        + CERT_XML
        + "</ws:demandeLogementParametres>",
        [("certificat", "application/octet-stream", CERT)],
    ),
    (
        soap.DOUBLONS,
        [("nomFichierDemande", "DEMG0000-202611240900-000002.xml"), DEMANDE_PARAM],
        "<ws:rechercheDoublonsParametres><nomFichierDemande>DEMG0000-202611240900-000002.xml</nomFichierDemande>"
        "<fichierDemande>"
        + XOP.format("fichierDemande")
        + "</fichierDemande></ws:rechercheDoublonsParametres>",
        [("fichierDemande", "text/xml; charset=UTF-8", DEMANDE)],
    ),
    (
        soap.NOUVEAUX_DALO,
        [("dateNouveauDaloDepuisLe", "2024-01-01T00:00:00.000+01:00"), *CERT_PARAMS],
        "<ws:nouveauxDaloDepuisLeParametres><dateNouveauDaloDepuisLe>2024-01-01T00:00:00.000+01:00"
        "</dateNouveauDaloDepuisLe>" + CERT_XML + "</ws:nouveauxDaloDepuisLeParametres>",
        [("certificat", "application/octet-stream", CERT)],
    ),
    (
        soap.DEMANDES_RADIEES,
        [
            ("dateRadiationDepuisLe", "2024-01-01T00:00:00.000+01:00"),
            ("motifRadiation", soap.Code("RADATT")),
            ("typeReservataire", soap.Code("COLTER")),
            *CERT_PARAMS,
        ],
        "<ws:demandesRadieesDepuisLeParametres><dateRadiationDepuisLe>2024-01-01T00:00:00.000+01:00"
        '</dateRadiationDepuisLe><motifRadiation code="RADATT"/><typeReservataire code="COLTER"/>'
        + CERT_XML
        + "</ws:demandesRadieesDepuisLeParametres>",
        [("certificat", "application/octet-stream", CERT)],
    ),
    (
        soap.DECLARATION_NOUVEAU_DALO,
        [
            ("nomFichierDalo", "DALG0000-202611240900-000003.xml"),
            ("fichierDalo", soap.Binary(DEMANDE, "text/xml; charset=UTF-8")),
            *CERT_PARAMS,
        ],
        "<ws:declarationNouveauDaloParametres><nomFichierDalo>DALG0000-202611240900-000003.xml</nomFichierDalo>"
        "<fichierDalo>"
        + XOP.format("fichierDalo")
        + "</fichierDalo>"
        + CERT_XML
        + "</ws:declarationNouveauDaloParametres>",
        [
            ("fichierDalo", "text/xml; charset=UTF-8", DEMANDE),
            ("certificat", "application/octet-stream", CERT),
        ],
    ),
]
IDS = [case[0].name for case in CASES]


@pytest.mark.parametrize(("op", "params", "wrapper", "attachments"), CASES, ids=IDS)
def test_golden_request_bytes(
    op: soap.Operation,
    params: list[tuple[str, soap.Value]],
    wrapper: str,
    attachments: list[tuple[str, str, bytes]],
) -> None:
    request = soap.build_request(op, params, token=T)
    content_type, body = expected(op.name, wrapper, attachments)
    assert request.headers == {"MIME-Version": "1.0", "Content-Type": content_type}
    assert request.body == body


@pytest.mark.parametrize(("op", "params", "wrapper", "attachments"), CASES, ids=IDS)
def test_golden_requests_parse_with_the_email_parser(
    op: soap.Operation,
    params: list[tuple[str, soap.Value]],
    wrapper: str,
    attachments: list[tuple[str, str, bytes]],
) -> None:
    request = soap.build_request(op, params, token=T)
    message = email.message_from_bytes(
        f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode() + request.body,
        policy=email.policy.HTTP,
    )
    assert isinstance(message, EmailMessage) and not message.defects
    assert message.get_param("start") == "<root.T0K3N@aiguilleur.invalid>"
    assert message.get_param("action") == op.action
    parts = list(message.iter_parts())
    assert parts[0]["Content-ID"] == message.get_param("start")
    assert parts[0].get_content_type() == "application/xop+xml"
    envelope = etree.fromstring(parts[0].get_payload(decode=True))
    by_cid = {str(p["Content-ID"]).strip("<>"): p.get_payload(decode=True) for p in parts[1:]}
    for include in envelope.iter("{http://www.w3.org/2004/08/xop/include}Include"):
        assert include.getparent() is not None and include.getparent().text is None and include.tail is None
        assert include.get("href")[4:] in by_cid
    assert [by_cid[f"{name}.T0K3N@aiguilleur.invalid"] for name, _, _ in attachments] == [
        d for _, _, d in attachments
    ]


@pytest.mark.parametrize(("op", "params", "wrapper", "attachments"), CASES, ids=IDS)
def test_golden_requests_parse_with_requests_toolbelt(
    op: soap.Operation,
    params: list[tuple[str, soap.Value]],
    wrapper: str,
    attachments: list[tuple[str, str, bytes]],
) -> None:
    request = soap.build_request(op, params, token=T)
    decoder = MultipartDecoder(request.body, request.headers["Content-Type"])
    assert len(decoder.parts) == 1 + len(attachments)
    root = decoder.parts[0]
    assert root.headers[b"Content-ID"] == b"<root.T0K3N@aiguilleur.invalid>"
    body = etree.fromstring(root.content)[1][0]
    assert etree.QName(body).localname == op.request
    assert [etree.QName(c).namespace for c in body] == [None] * len(body)  # children unqualified
    assert [p.content for p in decoder.parts[1:]] == [d for _, _, d in attachments]


def test_boundary_and_ids_are_random_by_default() -> None:
    one = soap.build_request(soap.DOUBLONS, [DEMANDE_PARAM])
    two = soap.build_request(soap.DOUBLONS, [DEMANDE_PARAM])
    assert one.headers["Content-Type"] != two.headers["Content-Type"]


def test_unknown_parameter_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        soap.build_request(soap.DOUBLONS, [("certificat", soap.Binary(b""))])


# -- answers ----------------------------------------------------------------------------------------------

INCLUDE = (
    b'<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" '
    b'href="cid:5e2a-1%40ws.metier.nuu.application.i2"/>'
)
ANSWER_ENV = (
    b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>'
    b'<ns2:numUniqueReponse xmlns:ns2="http://ws.metier.nuu.application.i2/">'
    b"<nomFichierDemande>DEM.xml</nomFichierDemande><fichierDemande>"
    + INCLUDE
    + b"</fichierDemande></ns2:numUniqueReponse></soap:Body></soap:Envelope>"
)


@pytest.mark.parametrize("start", ['"<root.message@cxf.apache.org>"', '"root.message@cxf.apache.org"', None])
def test_cxf_answer_with_percent_encoded_cid(start: str | None) -> None:
    content_type = 'multipart/related; type="application/xop+xml"; boundary="uuid:1b7c"'
    content_type += '; start-info="application/soap+xml"'
    if start is not None:
        content_type += f"; start={start}"
    payload = b"<x>\r\n--uuid:1b7 not a boundary\r\n\x00\xff</x>"
    body = (
        b"\r\n--uuid:1b7c\r\n"
        b'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"\r\n'
        b"Content-Transfer-Encoding: binary\r\nContent-ID: <root.message@cxf.apache.org>\r\n\r\n"
        + ANSWER_ENV
        + b"\r\n--uuid:1b7c\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: binary\r\n"
        b"Content-ID: <5e2a-1@ws.metier.nuu.application.i2>\r\n\r\n" + payload + b"\r\n--uuid:1b7c--"
    )
    response = soap.parse_response(content_type, body)
    assert response.fields == {"nomFichierDemande": "DEM.xml", "fichierDemande": payload}


def test_plain_soap_answer_with_inline_base64() -> None:
    body = ANSWER_ENV.replace(INCLUDE, b"PHg+PC94Pg==")
    response = soap.parse_response("application/soap+xml; charset=utf-8", body)
    assert soap.binary_field(response, "fichierDemande", "getNumUnique") == b"<x></x>"


def test_fault_answer_is_typed() -> None:
    body = (
        b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><soap:Fault>'
        b"<soap:Code><soap:Value>soap:Receiver</soap:Value></soap:Code>"
        b'<soap:Reason><soap:Text xml:lang="fr">'
        b"Une erreur inattendue est survenue lors du traitement de la demande."
        b"</soap:Text></soap:Reason><soap:Detail>"
        b'<ns2:demandeLogementException xmlns:ns2="http://ws.metier.nuu.application.i2/"><message>boom</message>'
        b"</ns2:demandeLogementException></soap:Detail></soap:Fault></soap:Body></soap:Envelope>"
    )
    response = soap.parse_response("application/soap+xml", body)
    with pytest.raises(SneFault) as caught:
        soap.raise_for_fault(response, operation="getDoublons", source="sne", status=500, raw=body)
    assert isinstance(caught.value, SneUnexpectedFault)
    assert (caught.value.code, caught.value.detail) == ("Receiver", "boom")


def test_unresolved_cid_is_a_protocol_error() -> None:
    content_type = 'multipart/related; type="application/xop+xml"; boundary="b"; start="<r>"'
    body = b"--b\r\nContent-ID: <r>\r\n\r\n" + ANSWER_ENV + b"\r\n--b--\r\n"
    with pytest.raises(SneProtocolError, match="ne désigne aucune partie"):
        soap.parse_response(content_type, body)


def test_garbage_is_a_protocol_error() -> None:
    with pytest.raises(SneProtocolError):
        soap.parse_response("application/soap+xml", b"<html>proxy error")
