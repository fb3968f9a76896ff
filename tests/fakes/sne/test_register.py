"""The register's behaviour: numéro unique, duplicates and forcerDoublon, updates, DALO and radiation
windows, anomalies. Driven through the wire (golden requests) where the behaviour is the service's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from aiguilleur.fakes.sne import NUM_UNIQUE, FakeSne, Register, demande_xml, parse_xs_datetime
from aiguilleur.fakes.sne.register import departement_of, normalise_name
from tests.conftest import Clock
from tests.fakes.sne import golden
from tests.fakes.sne.conftest import NUU, ParsedReply, Pki, read_reply, xml_of

N = f"{{{NUU}}}"


def send(sne: FakeSne, pki: Pki, demande: bytes) -> ParsedReply:
    headers, body = golden.num_unique(demande, pki.client_pem)
    return read_reply(sne.handle(body, headers))


def anomalies(reply: ParsedReply) -> list[str | None]:
    return [a.get("code") for a in xml_of(reply.fields["fichierDemande"]).iterfind(f".//{N}anomalie")]


def number_of(reply: ParsedReply) -> str | None:
    return xml_of(reply.fields["fichierDemande"]).findtext(f".//{N}demandeLogement/{N}numUnique")


@pytest.mark.parametrize(
    ("departement", "created", "guichet", "expected"),
    [
        pytest.param("059", date(2024, 1, 15), "G0000", "0590124000001G0000", id="research-sample-shape"),
        pytest.param("02A", date(2026, 11, 2), "G2A01", "02A1126000001G2A01", id="corse"),
        pytest.param("974", date(2026, 3, 31), "R9740", "9740326000001R9740", id="outre-mer"),
    ],
)
def test_num_unique_layout(departement: str, created: date, guichet: str, expected: str) -> None:
    number = Register().next_num_unique(departement, created, guichet)
    assert number == expected and len(number) == 18 and NUM_UNIQUE.match(number)


def test_num_unique_sequence_per_departement_and_month() -> None:
    register = Register()
    numbers = [register.next_num_unique("059", date(2026, 11, 1), "G0000") for _ in range(3)]
    numbers.append(register.next_num_unique("059", date(2026, 12, 1), "G0000"))
    assert [n[7:13] for n in numbers] == ["000001", "000002", "000003", "000001"]


@pytest.mark.parametrize(
    ("commune", "expected"),
    [("59350", "059"), ("2A004", "02A"), ("97411", "974"), ("06088", "006"), ("x", "000")],
)
def test_departement_of(commune: str, expected: str) -> None:
    assert departement_of(commune) == expected


def test_names_are_compared_without_case_accents_or_punctuation() -> None:
    assert normalise_name("Lefèvre-Dupont") == normalise_name("LEFEVRE DUPONT") == "LEFEVREDUPONT"


def test_second_registration_of_a_person_returns_probable_duplicates(sne: FakeSne, pki: Pki) -> None:
    first = number_of(send(sne, pki, demande_xml()))
    again = send(sne, pki, demande_xml(prenom="CLAIRE"))
    assert again.status == 200
    assert number_of(again) is None and "attestation" not in again.fields
    doublons = xml_of(again.fields["fichierDemande"]).find(f".//{N}demandeLogement/{N}listeDoublons")
    assert doublons is not None and [d.findtext(f"{N}numUnique") for d in doublons] == [first]
    assert len(sne.register) == 1


def test_forcer_doublon_registers_anyway(sne: FakeSne, pki: Pki) -> None:
    first = number_of(send(sne, pki, demande_xml()))
    forced = send(sne, pki, demande_xml(forcer_doublon=True))
    second = number_of(forced)
    assert second is not None and second != first and "attestation" in forced.fields
    assert len(sne.register) == 2


def test_radiated_demandes_are_not_duplicates(sne: FakeSne, pki: Pki) -> None:
    first = number_of(send(sne, pki, demande_xml()))
    assert first is not None
    sne.radiate(first, "RADABA")
    assert number_of(send(sne, pki, demande_xml())) not in (None, first)


def test_structural_anomalies_are_returned_with_their_path(sne: FakeSne, pki: Pki) -> None:
    bad = demande_xml(commune="Lille", version="03.00").replace(b'code="T3"', b'code="T9"')
    reply = send(sne, pki, bad)
    assert reply.status == 200 and number_of(reply) is None
    assert set(anomalies(reply)) == {"DEM_0002", "DEM_0007", "DEM_0008"}
    anomaly = xml_of(reply.fields["fichierDemande"]).find(f".//{N}anomalie[@code='DEM_0008']")
    assert anomaly is not None
    assert anomaly.get("propriete", "").startswith("demande/demandeLogement/logementRecherche")
    assert anomaly.findtext(f"{N}message")
    assert len(sne.register) == 0


def test_unknown_guichet_is_an_anomaly(sne: FakeSne, pki: Pki) -> None:
    assert anomalies(send(sne, pki, demande_xml(guichet="G4242"))) == ["DEM_0011"]


def test_guichet_reserved_to_another_certificate(sne: FakeSne, pki: Pki) -> None:
    sne.add_guichet("G0001", certificate_cn="G0001")
    headers, body = golden.num_unique(demande_xml(guichet="G0001"), pki.client_pem)
    reply = read_reply(sne.handle(body, headers, client_cn="G0000"))
    assert anomalies(reply) == ["DEM_0012"]


def test_unreadable_demande_file_is_a_fault(sne: FakeSne, pki: Pki) -> None:
    reply = send(sne, pki, b"<pas du xml")
    assert reply.status == 500 and reply.fault_code == "soap:Sender"
    assert sne.requests[-1].check == "sne.demande.unreadable"


def test_modification_renewal_and_radiation_through_get_num_unique(
    sne: FakeSne, pki: Pki, clock: Clock
) -> None:
    number = number_of(send(sne, pki, demande_xml()))
    assert number is not None
    modified = send(sne, pki, demande_xml(type_fichier="MOD", num_unique=number, commune="59009"))
    assert number_of(modified) == number and "attestation" not in modified.fields
    registered = sne.register.get(number)
    assert registered is not None and registered.communes == ("59009",)
    renewed = send(sne, pki, demande_xml(type_fichier="REN", num_unique=number))
    assert "attestation" in renewed.fields and registered.renewed_at == [clock()]
    clock.advance(60)
    radiation = demande_xml(
        type_fichier="RAD", num_unique=number, radiation=("2026-11-23", "RADATT"), type_reservataire="PPRIOR"
    )
    assert number_of(send(sne, pki, radiation)) == number
    assert registered.radiation is not None
    assert (registered.radiation.motif, registered.radiation.type_reservataire) == ("RADATT", "PPRIOR")
    assert registered.radiation.at == clock()
    again = send(sne, pki, demande_xml(type_fichier="MOD", num_unique=number))
    assert anomalies(again) == ["DEM_0023"]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        pytest.param({"type_fichier": "MOD"}, "DEM_0021", id="update-without-number"),
        pytest.param({"type_fichier": "MOD", "num_unique": "0591126000777G0000"}, "DEM_0022", id="unknown"),
        pytest.param(
            {"type_fichier": "CRE", "num_unique": "0591126000777G0000"}, "DEM_0020", id="create-with-number"
        ),
        pytest.param({"type_fichier": "XXX"}, "DEM_0001", id="unknown-type"),
    ],
)
def test_lifecycle_anomalies(sne: FakeSne, pki: Pki, fields: dict[str, str], code: str) -> None:
    assert code in anomalies(send(sne, pki, demande_xml(**fields)))


def test_radiation_without_motif_is_an_anomaly(sne: FakeSne, pki: Pki) -> None:
    number = number_of(send(sne, pki, demande_xml()))
    assert number is not None
    rad = demande_xml(type_fichier="RAD", num_unique=number, radiation=("2026-11-23", "RADXXX"))
    assert anomalies(send(sne, pki, rad)) == ["DEM_0025"]


def test_dalo_status_in_a_demande_starts_the_dalo_timeline(sne: FakeSne, clock: Clock) -> None:
    registered = sne.seed(demande_xml(statut_dalo="ACTIF"))
    assert registered.statut_dalo == "ACTIF"
    assert [(e.at, e.statut) for e in registered.dalo_events] == [(clock(), "ACTIF")]
    assert sne.register.nouveaux_dalo(clock()) != []
    assert sne.register.nouveaux_dalo(clock() + timedelta(seconds=1)) == []


def test_windows_are_inclusive_and_ordered(sne: FakeSne, clock: Clock) -> None:
    start = clock()
    first = sne.seed(demande_xml(nom="UN"))
    second = sne.seed(demande_xml(nom="DEUX"))
    sne.radiate(second.num_unique, "RADCON", at=start + timedelta(hours=1))
    sne.radiate(first.num_unique, "RADREN", at=start + timedelta(hours=2))
    assert [d.num_unique for d in sne.register.radiees(start)] == [second.num_unique, first.num_unique]
    assert [d.num_unique for d in sne.register.radiees(start + timedelta(hours=2))] == [first.num_unique]
    assert sne.register.radiees(start + timedelta(hours=2, seconds=1)) == []
    assert [d.num_unique for d in sne.register.radiees(start, motif="RADCON")] == [second.num_unique]


def test_radiation_keeps_the_dalo_status_of_the_moment(sne: FakeSne) -> None:
    registered = sne.seed(demande_xml())
    sne.declare_dalo(registered.num_unique, "ACTIF")
    sne.radiate(registered.num_unique, "RADATT", type_reservataire="PFONCT")
    assert registered.radiation is not None and registered.radiation.statut_dalo == "ACTIF"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2017-01-13T14:55:43.5+02:00", datetime(2017, 1, 13, 12, 55, 43, 500000, tzinfo=UTC)),
        ("2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-07-01T12:00:00", datetime(2024, 7, 1, 10, 0, tzinfo=UTC)),  # no offset: Paris (CEST)
        ("2024-01-01", None),
        ("2024-13-01T00:00:00Z", None),
    ],
)
def test_parse_xs_datetime(text: str, expected: datetime | None) -> None:
    assert parse_xs_datetime(text) == expected
