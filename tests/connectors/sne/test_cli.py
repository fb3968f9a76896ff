"""``aiguilleur sne``: libsne's positional form, the options form, and every error class's exit code."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aiguilleur import sne as facade
from aiguilleur.cli import sne as cli_sne
from aiguilleur.cli.app import app
from aiguilleur.connectors.sne import errors
from aiguilleur.connectors.sne.results import DemandeResult, DoublonsResult, FileResult
from aiguilleur.errors import ConfigError
from aiguilleur.fakes.sne import Anomaly, FakeSne, SneServer, demande_xml
from tests.conftest import Clock
from tests.connectors.sne.conftest import Pki, start_server

pytestmark = pytest.mark.integration
runner = CliRunner()


def run(server: SneServer, pki: Pki, *args: str, positional: bool = True) -> tuple[int, bytes, str]:
    service, value = args[0], args[1]
    tls = [str(pki.files["client"]), str(pki.files["client.key"])]
    argv = ["sne", service, value, *(tls if positional else ["--cert", tls[0], "--key", tls[1]])]
    argv += ["--host", f"127.0.0.1:{server.port}", "--ca-file", str(pki.files["ca"]), *args[2:]]
    result = runner.invoke(app, argv)
    return result.exit_code, result.stdout_bytes, result.stderr


def test_libsne_positional_form(server: SneServer, world: FakeSne, pki: Pki) -> None:
    registered = world.seed(demande_xml(nom="POSITION"))
    code, out, _ = run(server, pki, "demandeLogement", registered.num_unique)
    assert code == 0 and b"POSITION" in out


def test_num_unique_from_a_file_with_options(
    server: SneServer, world: FakeSne, pki: Pki, tmp_path: Path
) -> None:
    (tmp_path / "demande.xml").write_bytes(demande_xml(nom="FICHIER"))
    code, out, err = run(
        server,
        pki,
        "numUnique",
        str(tmp_path / "demande.xml"),
        "--attestation",
        str(tmp_path / "att.pdf"),
        positional=False,
    )
    assert code == 0, err
    assert "numéro unique" in err and b"FICHIER" in out
    assert (tmp_path / "att.pdf").read_bytes().startswith(b"%PDF")


def test_radiees_with_filters(server: SneServer, world: FakeSne, pki: Pki, clock: Clock) -> None:
    registered = world.seed(demande_xml(nom="RADIE"))
    world.radiate(registered.num_unique, "RADATT", at=clock())
    since = (clock() - timedelta(days=1)).isoformat()
    code, out, _ = run(server, pki, "demandesRadieesDepuisLe", since, "--motif", "RADATT")
    assert code == 0 and registered.num_unique.encode() in out
    assert world.requests[-1].codes.get("motifRadiation") == "RADATT"


def test_business_outcomes_exit_codes(server: SneServer, world: FakeSne, pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "d.xml").write_bytes(demande_xml(nom="CODE"))
    world.faults.anomalies([Anomaly("ERR001", "Faux", propriete="nom")])
    assert run(server, pki, "numUnique", str(tmp_path / "d.xml"))[0] == cli_sne.EXIT_ANOMALIES
    world.seed(demande_xml(nom="CODE"))
    assert run(server, pki, "numUnique", str(tmp_path / "d.xml"))[0] == cli_sne.EXIT_DOUBLONS
    (tmp_path / "bad.xml").write_bytes(demande_xml(type_fichier="XYZ"))
    code, _, err = run(server, pki, "numUnique", str(tmp_path / "bad.xml"))
    assert code == cli_sne.EXIT_INVALID and "/interfaceNuu/entete/typeFichier" in err


@pytest.mark.parametrize(
    ("arm", "expected"),
    [
        (lambda w: w.faults.authorisation(), cli_sne.EXIT_FAULT),
        (lambda w: w.faults.unexpected(), cli_sne.EXIT_UNEXPECTED),
        (
            lambda w: w.faults.soap_fault("Sender", "Le nom du certificat associé [] n'est pas conforme."),
            cli_sne.EXIT_AUTH,
        ),
        (lambda w: w.faults.http_error(503, times=5), cli_sne.EXIT_UNAVAILABLE),
        (lambda w: w.faults.http_error(404), cli_sne.EXIT_REJECTED),
        (lambda w: w.faults.truncate(), cli_sne.EXIT_PROTOCOL),
    ],
    ids=["fault", "unexpected", "certificate-name", "unavailable", "rejected", "protocol"],
)
def test_error_classes_reach_their_exit_code(
    server: SneServer, world: FakeSne, pki: Pki, arm: object, expected: int
) -> None:
    arm(world)  # type: ignore[operator]
    code, _, err = run(server, pki, "demandeLogement", "059112600001XG0000")
    assert code == expected, err


def test_tls_refused_exit_code(world: FakeSne, pki: Pki) -> None:
    server = start_server(world, pki, cert="misnamed")
    try:
        assert run(server, pki, "doublons", demande_xml().decode())[0] == cli_sne.EXIT_AUTH
    finally:
        server.stop()


def test_usage_errors(server: SneServer, pki: Pki) -> None:
    assert run(server, pki, "inconnu", "x")[0] == cli_sne.EXIT_USAGE
    assert runner.invoke(app, ["sne", "demandeLogement", "X"]).exit_code == cli_sne.EXIT_USAGE


def test_every_error_class_has_a_code() -> None:
    cases = {
        errors.SneValidationError([errors.Problem("/", "x")]): 10,
        errors.SneUnexpectedFault("Receiver", "x"): 21,
        errors.SneCertificateRefused("Sender", "x"): 22,
        errors.SneTlsRefused("x"): 22,
        errors.SneAuthRefused("x"): 22,
        errors.SneFault("Sender", "x"): 20,
        errors.SneUnavailable("x"): 23,
        errors.SneRejected("x"): 24,
        errors.SneProtocolError("x"): 25,
        ConfigError([("", "x")]): 2,
        errors.SneError("x"): 1,
    }
    assert {type(e).__name__: cli_sne.exit_code(e) for e in cases} == {
        type(e).__name__: c for e, c in cases.items()
    }


def test_python_facade_accepts_libsne_names(
    server: SneServer, world: FakeSne, pki: Pki, clock: Clock
) -> None:
    registered = world.seed(demande_xml(nom="FACADE"))
    common = {"host": f"127.0.0.1:{server.port}", "ca_file": str(pki.files["ca"])}
    cert, key = str(pki.files["client"]), str(pki.files["client.key"])
    demande = facade.echanger("demandeLogement", cert, key, num_unique=registered.num_unique, **common)
    assert isinstance(demande, DemandeResult) and demande.num_unique == registered.num_unique
    created = facade.echanger("numUnique", cert, key, xml=demande_xml(nom="AUTRE").decode(), **common)
    assert isinstance(created, DemandeResult) and created.num_unique
    doublons = facade.echanger("doublons", cert, key, xml=demande_xml(nom="FACADE"), **common)
    assert isinstance(doublons, DoublonsResult) and len(doublons.doublons) == 1
    for service in ("nouveauxDaloDepuisLe", "demandesRadieesDepuisLe"):
        found = facade.echanger(service, cert, key, date="2017-01-13T14:55:43.5+02:00", **common)
        assert isinstance(found, FileResult)
    declared = facade.echanger(
        "declarationNouveauDalo",
        cert,
        key,
        xml=demande_xml(
            nom="FACADE", num_unique=registered.num_unique, type_fichier="MOD", statut_dalo="ACTIF"
        ),
        **common,
    )
    assert isinstance(declared, FileResult)
    with pytest.raises(ConfigError):
        facade.echanger("inconnu", cert, key, **common)
    assert facade.service_url(None).startswith("https://nuu-ws.ecole.")


def test_connector_from_the_configuration_file(
    server: SneServer, world: FakeSne, pki: Pki, tmp_path: Path
) -> None:
    registered = world.seed(demande_xml(nom="CONFIG"))
    for name in ("client", "client.key", "ca"):
        (tmp_path / name).write_bytes(pki.files[name].read_bytes())
    (tmp_path / "aiguilleur.toml").write_text(
        f"""
[connectors.sne.sne-59]
url = "{server.url}"
num_guichet = "G0000"
cert_file = "client"
key_file = "client.key"
ca_file = "ca"
"""
    )
    argv = ["--config", str(tmp_path / "aiguilleur.toml"), "sne", "demandeLogement", registered.num_unique]
    result = runner.invoke(app, [*argv, "--connector", "sne-59"])
    assert result.exit_code == 0, result.stderr
    assert b"CONFIG" in result.stdout_bytes
    assert runner.invoke(app, [*argv, "--connector", "autre"]).exit_code == cli_sne.EXIT_USAGE


def test_fake_sne_command_checks_its_files(tmp_path: Path) -> None:
    missing = str(tmp_path / "absent.pem")
    result = runner.invoke(app, ["fake", "sne", "--cert", missing, "--key", missing, "--ca", missing])
    assert result.exit_code == 2 and "introuvable" in result.stderr
