"""The six operations through `FakeSne.handle`, with golden MTOM requests and with plain SOAP."""

from __future__ import annotations

import base64

import pytest

from aiguilleur.fakes.sne import NUM_UNIQUE, FakeSne, Mode, demande_xml
from tests.conftest import Clock
from tests.fakes.sne import golden
from tests.fakes.sne.conftest import NUU, Pki, read_reply, xml_of

N = f"{{{NUU}}}"


def register_one(sne: FakeSne, pki: Pki, **fields: str) -> str:
    reply = read_reply(sne.handle(*reversed(golden.num_unique(demande_xml(**fields), pki.client_pem))))
    assert reply.status == 200, reply.fault_reason
    number = xml_of(reply.fields["fichierDemande"]).findtext(f".//{N}numUnique")
    assert number is not None
    return number


def test_get_num_unique_registers_and_returns_number_and_attestation(sne: FakeSne, pki: Pki) -> None:
    headers, body = golden.num_unique(demande_xml(), pki.client_pem)
    reply = read_reply(sne.handle(body, headers))
    assert reply.status == 200
    assert reply.wrapper == "numUniqueReponse"
    assert list(reply.fields) == ["nomFichierDemande", "fichierDemande", "nomAttestation", "attestation"]
    assert reply.fields["nomFichierDemande"] == "DEMG0000-202611240900-000001.xml"
    returned = xml_of(reply.fields["fichierDemande"])
    number = returned.findtext(f"{N}demande/{N}demandeLogement/{N}numUnique")
    assert number == "0591126000001G0000"
    assert reply.fields["nomAttestation"] == f"ATT-{number}.pdf"
    assert isinstance(reply.fields["attestation"], bytes) and reply.fields["attestation"].startswith(b"%PDF-")
    assert sne.register.get(number) is not None
    assert sne.requests[-1].binaries["certificat"] == pki.client_pem


def test_get_num_unique_plain_soap_with_inline_base64(sne: FakeSne, pki: Pki) -> None:
    env = golden.envelope(
        b"numUniqueParametres",
        b"<nomFichierDemande>DEMG0000-202611240900-000001.xml</nomFichierDemande>"
        b"<fichierDemande>" + golden.b64(demande_xml()) + b"</fichierDemande>"
        b"<nomCertificat>CERG0000-202611240900.pem</nomCertificat>"
        b"<certificat>" + golden.b64(pki.client_pem) + b"</certificat>",
    )
    reply = read_reply(sne.handle(env, golden.plain("getNumUnique", env)[0]))
    assert reply.status == 200
    assert NUM_UNIQUE.match(xml_of(reply.fields["fichierDemande"]).findtext(f".//{N}numUnique") or "")
    assert sne.requests[-1].framing == "plain"


def test_get_demande_logement_returns_the_stored_demande(sne: FakeSne, pki: Pki) -> None:
    number = register_one(sne, pki)
    headers, body = golden.demande_logement(number.encode(), pki.client_pem)
    reply = read_reply(sne.handle(body, headers))
    assert reply.wrapper == "demandeLogementReponse"
    assert reply.fields["nomFichierDemande"] == f"DEM-{number}.xml"
    demande = reply.fields["fichierDemande"]
    assert isinstance(demande, bytes)
    assert demande.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<ns1:interfaceNuu')
    assert xml_of(demande).findtext(f".//{N}nom") == "MARTIN"


@pytest.mark.parametrize(
    ("number", "code"),
    [
        pytest.param(b"0591126000999G0000", "DEM_0022", id="unknown"),
        pytest.param(b"0123456789ABCDEFGH", "DEM_0026", id="bad-format"),
    ],
)
def test_get_demande_logement_unknown_number_is_an_anomaly(
    sne: FakeSne, pki: Pki, number: bytes, code: str
) -> None:
    reply = read_reply(sne.handle(*reversed(golden.demande_logement(number, pki.client_pem))))
    assert reply.status == 200
    anomaly = xml_of(reply.fields["fichierDemande"]).find(f".//{N}listeAnomalie/{N}anomalie")
    assert anomaly is not None and anomaly.get("code") == code
    assert anomaly.get("propriete") == "demande/demandeLogement/numUnique"


def test_get_demande_logement_with_an_empty_certificate_is_accepted(sne: FakeSne, pki: Pki) -> None:
    number = register_one(sne, pki)
    reply = read_reply(sne.handle(*reversed(golden.demande_logement(number.encode(), b""))))
    assert reply.status == 200  # the école server took libsne's empty certificate here (research §2.4)


def test_get_doublons_lists_the_same_person(sne: FakeSne, pki: Pki) -> None:
    number = register_one(sne, pki, nom="Lefèvre", prenom="Élise")
    partial = demande_xml(nom="LEFEVRE", prenom="elise", guichet="G0000")
    reply = read_reply(sne.handle(*reversed(golden.doublons(partial))))
    assert reply.wrapper == "rechercheDoublonsReponse"
    assert str(reply.fields["nomFichierDoublons"]).startswith("DOUBLONS-")
    liste = xml_of(reply.fields["listeDoublons"])
    assert liste.tag == f"{N}listeDoublons"
    assert [d.findtext(f"{N}numUnique") for d in liste] == [number]
    assert (
        liste.find(f"{N}doublon/{N}listeLocalisationSouhaitee/{N}localisationSouhaitee/{N}commune")
        is not None
    )


def test_get_doublons_without_match_is_an_empty_answer(sne: FakeSne) -> None:
    reply = read_reply(sne.handle(*reversed(golden.doublons(demande_xml(nom="PERSONNE")))))
    assert reply.status == 200 and reply.wrapper == "rechercheDoublonsReponse" and reply.fields == {}


def test_get_doublons_on_an_association_hits_the_known_sne_bug(sne: FakeSne) -> None:
    reply = read_reply(sne.handle(*reversed(golden.doublons(demande_xml(association="Les Amis")))))
    assert reply.status == 500
    assert reply.fault_code == "soap:Receiver"
    assert reply.fault_reason == "Une erreur inattendue est survenue lors du traitement de la demande."


def test_get_nouveaux_dalo_depuis_le(sne: FakeSne, pki: Pki, clock: Clock) -> None:
    old = register_one(sne, pki, nom="ANCIEN")
    sne.declare_dalo(old, "ACTIF", date_decision="2026-11-01")
    clock.advance(3600)
    recent = register_one(sne, pki, nom="RECENT")
    sne.declare_dalo(recent, "ACTIF", date_decision="2026-11-20")
    since = b"2026-11-24T09:30:00.0+01:00"  # 08:30 UTC: after ANCIEN's decision, before RECENT's
    reply = read_reply(sne.handle(*reversed(golden.nouveaux_dalo(since, pki.client_pem))))
    assert reply.wrapper == "nouveauxDaloDepuisLeReponse"
    liste = xml_of(reply.fields["fichierNouveauxDalo"])
    assert [item.findtext(f"{N}numUnique") for item in liste] == [recent]
    assert liste[0].find(f"{N}statutDalo").get("code") == "ACTIF"


def test_get_nouveaux_dalo_empty_window_is_an_empty_answer(sne: FakeSne, pki: Pki) -> None:
    reply = read_reply(sne.handle(*reversed(golden.nouveaux_dalo(b"2026-11-24T09:00:00Z", pki.client_pem))))
    assert reply.status == 200 and reply.fields == {}


def test_get_demandes_radiees_depuis_le_with_filters(sne: FakeSne, pki: Pki) -> None:
    attribuee = register_one(sne, pki, nom="ATTRIBUEE")
    abandon = register_one(sne, pki, nom="ABANDON")
    sne.radiate(attribuee, "RADATT", type_reservataire="COLTER")
    sne.radiate(abandon, "RADABA")
    since = b"2026-11-24T00:00:00.0+01:00"

    def radiees(filters: bytes) -> list[str | None]:
        reply = read_reply(sne.handle(*reversed(golden.radiees(since, pki.client_pem, filters))))
        assert reply.status == 200, reply.fault_reason
        if "fichierDemandesRadiees" not in reply.fields:
            return []
        return [item.findtext(f"{N}numUnique") for item in xml_of(reply.fields["fichierDemandesRadiees"])]

    assert radiees(b"") == [attribuee, abandon]
    assert radiees(b'<motifRadiation code="RADATT"/>') == [attribuee]
    assert radiees(b'<typeReservataire code="COLTER"/>') == [attribuee]
    assert radiees(b'<motifRadiation code="RADABA"/><statutDalo code="NON"/>') == [abandon]
    assert radiees(b'<statutDalo code="ACTIF"/>') == []


def test_get_demandes_radiees_unknown_filter_code_is_a_fault(sne: FakeSne, pki: Pki) -> None:
    filters = b'<motifRadiation code="RADXXX"/>'
    reply = read_reply(
        sne.handle(*reversed(golden.radiees(b"2026-11-24T00:00:00Z", pki.client_pem, filters)))
    )
    assert reply.status == 500 and sne.requests[-1].check == "sne.filter"


def test_get_declaration_nouveau_dalo_records_the_decision(sne: FakeSne, pki: Pki) -> None:
    number = register_one(sne, pki)
    fichier = demande_xml(
        type_fichier="MOD", num_unique=number, statut_dalo="ACTIF", date_decision_dalo="2026-11-23"
    )
    reply = read_reply(sne.handle(*reversed(golden.declaration_dalo(fichier, pki.client_pem))))
    assert reply.wrapper == "declarationNouveauDaloReponse"
    assert reply.fields["nomFichierDalo"] == "DALOG0000-202611240900.xml"
    returned = xml_of(reply.fields["fichierDalo"])
    assert returned.find(f"{N}demande/{N}informationDalo/{N}statutDalo").get("code") == "ACTIF"
    stored = sne.register.get(number)
    assert stored is not None and stored.statut_dalo == "ACTIF" and len(stored.dalo_events) == 1


def test_get_declaration_nouveau_dalo_unknown_number_is_an_anomaly(sne: FakeSne, pki: Pki) -> None:
    fichier = demande_xml(type_fichier="MOD", num_unique="0591126000999G0000", statut_dalo="ACTIF")
    reply = read_reply(sne.handle(*reversed(golden.declaration_dalo(fichier, pki.client_pem))))
    anomaly = xml_of(reply.fields["fichierDalo"]).find(f".//{N}anomalie")
    assert reply.status == 200 and anomaly is not None and anomaly.get("code") == "DEM_0022"


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda pem: golden.nouveaux_dalo(b"2026-11-24T00:00:00Z", pem), id="nouveaux-dalo"),
        pytest.param(lambda pem: golden.radiees(b"2026-11-24T00:00:00Z", pem), id="radiees"),
    ],
)
def test_dalo_and_radiation_reads_refuse_an_empty_certificate(sne: FakeSne, build) -> None:
    reply = read_reply(sne.handle(*reversed(build(b""))))
    assert reply.status == 500
    assert reply.fault_reason == "Le nom du certificat associé [] n'est pas conforme."


def test_certificate_attachment_must_match_the_tls_client(sne: FakeSne, pki: Pki) -> None:
    headers, body = golden.nouveaux_dalo(b"2026-11-24T00:00:00Z", pki.client_pem)
    reply = read_reply(sne.handle(body, headers, client_cn="G1234"))
    assert reply.status == 500
    assert sne.requests[-1].check in ("sne.auth", "sne.certificate")


def test_bad_date_is_an_unmarshalling_fault(sne: FakeSne, pki: Pki) -> None:
    reply = read_reply(sne.handle(*reversed(golden.nouveaux_dalo(b"13/01/2017", pki.client_pem))))
    assert reply.status == 500 and reply.fault_code == "soap:Sender"
    assert (reply.fault_reason or "").startswith("Unmarshalling Error:")


def test_handle_http_takes_the_raw_request(sne: FakeSne, pki: Pki) -> None:
    headers, body = golden.num_unique(demande_xml(), pki.client_pem)
    raw = (
        b"POST /services/DemandeLogementImplService/ HTTP/1.1\r\n"
        b"Host: nuu-ws.ecole.application.developpement-durable.gouv.fr\r\n"
        + b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    assert sne.handle_http(raw).status == 200


def test_inline_base64_in_an_mtom_package_is_accepted(sne: FakeSne, pki: Pki) -> None:
    headers, body = golden.demande_logement(b"0591126000999G0000", pki.client_pem)
    inline = b"<certificat>" + base64.b64encode(pki.client_pem) + b"</certificat>"
    body = body.replace(
        b'<certificat ws:contentType="application/x-x509-ca-cert">'
        + golden.include(golden.CER_CID)
        + b"</certificat>",
        inline,
    )
    sne.mode = Mode.LENIENT  # the certificate part is now unreferenced, which strict mode refuses
    assert sne.handle(body, headers).status == 200
