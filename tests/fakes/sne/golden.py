"""Golden requests to the SNE, written byte by byte from research/sne.md §1.3 and §2.1.

Nothing here comes from the fake or from our client: every delimiter, header and line end is spelled
out, so that a test can break exactly one of them (``GOLDEN.replace(...)``) and see which check refuses it.
"""

from __future__ import annotations

import base64

WS = b"http://ws.metier.nuu.application.i2/"
BOUNDARY = b"uuid:9d0e5b7a-0c1f-4e55-8f1a-2b3c4d5e6f70"
ROOT_CID = b"root.4f1c@client.invalid"
DEM_CID = b"dem.77a2@client.invalid"
CER_CID = b"cer.08b1@client.invalid"
XOP_DECL = b'xmlns:xop="http://www.w3.org/2004/08/xop/include"'

Headers = dict[str, str]


def include(cid: bytes) -> bytes:
    """An xop:Include, compact: nothing beside it (research §2.1)."""
    return b"<xop:Include " + XOP_DECL + b' href="cid:' + cid + b'"/>'


def envelope(wrapper: bytes, children: bytes) -> bytes:
    return (
        b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
        b'xmlns:ws="http://ws.metier.nuu.application.i2/">'
        b"<env:Header/><env:Body><ws:" + wrapper + b">" + children + b"</ws:" + wrapper + b">"
        b"</env:Body></env:Envelope>"
    )


def certificate_children(cid: bytes = CER_CID) -> bytes:
    return (
        b"<nomCertificat>CERG0000-202611240900.pem</nomCertificat>"
        b'<certificat ws:contentType="application/x-x509-ca-cert">' + include(cid) + b"</certificat>"
    )


def mtom(operation: str, env: bytes, attachments: list[tuple[bytes, bytes, bytes]]) -> tuple[Headers, bytes]:
    """The canonical MTOM request of research §1.3 / §2.2: `attachments` are (cid, content type, bytes);
    XML parts go 8bit, others binary."""
    action = WS + operation.encode()
    content_type = (
        b'multipart/related; type="application/xop+xml"; start="<' + ROOT_CID + b'>"; '
        b'start-info="application/soap+xml"; boundary="' + BOUNDARY + b'"; action="' + action + b'"'
    )
    body = (
        b"--" + BOUNDARY + b"\r\n"
        b'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"; '
        b'action="' + action + b'"\r\n'
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"Content-ID: <" + ROOT_CID + b">\r\n"
        b"\r\n" + env + b"\r\n"
    )
    for cid, part_type, data in attachments:
        encoding = b"8bit" if part_type.startswith(b"text/xml") else b"binary"
        body += (
            b"--" + BOUNDARY + b"\r\n"
            b"Content-Type: " + part_type + b"\r\n"
            b"Content-Transfer-Encoding: " + encoding + b"\r\n"
            b"Content-ID: <" + cid + b">\r\n"
            b"\r\n" + data + b"\r\n"
        )
    body += b"--" + BOUNDARY + b"--\r\n"
    return {"MIME-Version": "1.0", "Content-Type": content_type.decode()}, body


def plain(operation: str, env: bytes) -> tuple[Headers, bytes]:
    """Plain SOAP 1.2 with inline base64 (what zeep sends, research §2.2 item 6)."""
    action = (WS + operation.encode()).decode()
    return {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}, env


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


# --- the six operations, canonical MTOM -----------------------------------------------------------


def num_unique(demande: bytes, certificate: bytes, *, name: bytes = b"DEMG0000-202611240900-000001.xml"):
    env = envelope(
        b"numUniqueParametres",
        b"<nomFichierDemande>" + name + b"</nomFichierDemande>"
        b"<fichierDemande>" + include(DEM_CID) + b"</fichierDemande>" + certificate_children(),
    )
    return mtom(
        "getNumUnique",
        env,
        [(DEM_CID, b"text/xml; charset=UTF-8", demande), (CER_CID, b"application/octet-stream", certificate)],
    )


def demande_logement(number: bytes, certificate: bytes):
    env = envelope(
        b"demandeLogementParametres", b"<numUnique>" + number + b"</numUnique>" + certificate_children()
    )
    return mtom("getDemandeLogement", env, [(CER_CID, b"application/octet-stream", certificate)])


def doublons(demande: bytes):
    env = envelope(
        b"rechercheDoublonsParametres",
        b"<nomFichierDemande>DEMG0000-202611240900-000002.xml</nomFichierDemande>"
        b"<fichierDemande>" + include(DEM_CID) + b"</fichierDemande>",
    )
    return mtom("getDoublons", env, [(DEM_CID, b"text/xml; charset=UTF-8", demande)])


def nouveaux_dalo(since: bytes, certificate: bytes):
    env = envelope(
        b"nouveauxDaloDepuisLeParametres",
        b"<dateNouveauDaloDepuisLe>" + since + b"</dateNouveauDaloDepuisLe>" + certificate_children(),
    )
    return mtom("getNouveauxDaloDepuisLe", env, [(CER_CID, b"application/octet-stream", certificate)])


def radiees(since: bytes, certificate: bytes, filters: bytes = b""):
    env = envelope(
        b"demandesRadieesDepuisLeParametres",
        b"<dateRadiationDepuisLe>" + since + b"</dateRadiationDepuisLe>" + filters + certificate_children(),
    )
    return mtom("getDemandesRadieesDepuisLe", env, [(CER_CID, b"application/octet-stream", certificate)])


def declaration_dalo(fichier: bytes, certificate: bytes):
    dalo_cid = b"dalo.5c3e@client.invalid"
    env = envelope(
        b"declarationNouveauDaloParametres",
        b"<nomFichierDalo>DALOG0000-202611240900.xml</nomFichierDalo>"
        b"<fichierDalo>" + include(dalo_cid) + b"</fichierDalo>" + certificate_children(),
    )
    return mtom(
        "getDeclarationNouveauDalo",
        env,
        [
            (dalo_cid, b"text/xml; charset=UTF-8", fichier),
            (CER_CID, b"application/octet-stream", certificate),
        ],
    )


# --- libsne, as research §2.1 describes its request ----------------------------------------------


def libsne_num_unique(demande_ascii: bytes) -> tuple[Headers, bytes]:
    """libsne 0.1.0a8's getNumUnique: start without brackets, fixed boundary, bare action in the root
    part, pretty-printed envelope, parts root/certificate/demande, an empty BASE64 certificate, the
    demande as us-ascii 7bit, every LF turned into CRLF, no CRLF after the closing delimiter."""
    template = (
        b"--MIME_BOUNDARY\n"
        b'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"; '
        b'action="getNumUnique"\n'
        b"Content-Transfer-Encoding: 8bit\n"
        b"Content-ID: <soaproot>\n"
        b"\n"
        b'<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" '
        b'xmlns:ws="http://ws.metier.nuu.application.i2/">\n'
        b"   <soap:Header/>\n"
        b"   <soap:Body>\n"
        b"      <ws:numUniqueParametres>\n"
        b"         <nomFichierDemande>DEMG1226-201701131455-000001.xml</nomFichierDemande>\n"
        b"         <fichierDemande>" + include(b"xml_id") + b"</fichierDemande>\n"
        b"         <nomCertificat>CERG1226-201701131455.pem</nomCertificat>\n"
        b'         <certificat ws:contentType="application/x-x509-ca-cert">'
        + include(b"certificate")
        + b"</certificat>\n"
        b"      </ws:numUniqueParametres>\n"
        b"   </soap:Body>\n"
        b"</soap:Envelope>\n"
        b"--MIME_BOUNDARY\n"
        b"Content-Type: application/octet-stream\n"
        b"Content-Transfer-Encoding: BASE64\n"
        b"Content-ID: <certificate>\n"
        b"Content-Disposition: attachment\n"
        b"\n"
        b"\n"
        b"--MIME_BOUNDARY\n"
        b"Content-Type: text/xml; charset=us-ascii\n"
        b"Content-Transfer-Encoding: 7bit\n"
        b"Content-ID: <xml_id>\n"
        b"Content-Disposition: attachment\n"
        b"\n" + demande_ascii + b"\n"
        b"--MIME_BOUNDARY--"
    )
    headers = {
        "MIME-Version": "1.0",
        "Accept-Encoding": "deflate",
        "Connection": "Keep-Alive",
        "User-Agent": "Apache-HttpClient/4.1.1 (java 1.5)",
        "Host": "nuu-ws.ecole.application.developpement-durable.gouv.fr",
        "Content-Type": 'multipart/related; type="application/xop+xml"; start="soaproot"; '
        'start-info="application/soap+xml"; boundary="MIME_BOUNDARY"; '
        'action="http://ws.metier.nuu.application.i2/getNumUnique"',
    }
    return headers, template.replace(b"\n", b"\r\n")
