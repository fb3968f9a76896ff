"""``aiguilleur sne <service> …``: one exchange with the SNE from the command line.

Both forms work: libsne's positional one, ``aiguilleur sne demandeLogement 0123456789ABCDEFGH
fullchain.pem key.pem``, and options, ``aiguilleur sne demandeLogement 0123456789ABCDEFGH --cert
fullchain.pem --key key.pem`` (or ``--p12``, or ``--connector NAME`` from the configuration file).
Services: libsne's names (numUnique, demandeLogement, doublons, nouveauxDaloDepuisLe,
demandesRadieesDepuisLe, declarationNouveauDalo) or the operations' (getNumUnique…). The value is a
demande file (``-``: standard input; or the XML itself), a numéro unique or a date (ISO 8601 with offset).
The returned file goes to standard output (or ``--out``), messages to standard error.

Exit codes (scripts can rely on them):

==  =====================================================================
0   success (a getDoublons finding duplicates is a success too)
1   another failure
2   bad usage or configuration (unknown service, unreadable certificate…)
10  the file was refused by our checks before sending (nothing sent)
11  the SNE returned business anomalies (the returned file is written)
12  the SNE found probable duplicates and registered nothing (resend with forcerDoublon)
20  SOAP fault from the SNE
21  the SNE's "erreur inattendue" fault
22  TLS or authentication refused (certificate, CA, server name, certificate name)
23  the SNE is unavailable (timeout, reset, HTTP 5xx/429): try again later
24  refused by the SNE or a proxy without a SOAP fault (HTTP 4xx)
25  an answer that cannot be read (protocol error)
==  =====================================================================
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from aiguilleur.connectors.sne import errors, results
from aiguilleur.errors import AiguilleurError, ConfigError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INVALID, EXIT_ANOMALIES, EXIT_DOUBLONS = 10, 11, 12
EXIT_FAULT, EXIT_UNEXPECTED, EXIT_AUTH, EXIT_UNAVAILABLE, EXIT_REJECTED, EXIT_PROTOCOL = (
    20,
    21,
    22,
    23,
    24,
    25,
)

# First match wins: subclasses before their parents (SneCertificateRefused is a fault and an auth error).
EXIT_BY_ERROR: tuple[tuple[type[AiguilleurError], int], ...] = (
    (errors.SneValidationError, EXIT_INVALID),
    (errors.SneUnexpectedFault, EXIT_UNEXPECTED),
    (errors.SneCertificateRefused, EXIT_AUTH),
    (errors.SneAuthRefused, EXIT_AUTH),
    (errors.SneFault, EXIT_FAULT),
    (errors.SneUnavailable, EXIT_UNAVAILABLE),
    (errors.SneRejected, EXIT_REJECTED),
    (errors.SneProtocolError, EXIT_PROTOCOL),
    (ConfigError, EXIT_USAGE),
)


def exit_code(exc: AiguilleurError) -> int:
    return next((code for cls, code in EXIT_BY_ERROR if isinstance(exc, cls)), EXIT_FAILED)


def _value(service: str, raw: str) -> dict[str, Any]:
    from aiguilleur.sne import operation_name

    operation = operation_name(service)
    if operation in ("getNumUnique", "getDoublons", "getDeclarationNouveauDalo"):
        if raw == "-":
            return {"xml": sys.stdin.buffer.read()}
        if raw.lstrip().startswith("<"):
            return {"xml": raw.encode("utf-8")}
        path = Path(raw)
        if not path.is_file():
            raise ConfigError([("fichier", f"fichier introuvable : {raw}")], source="sne")
        return {"xml": path.read_bytes()}
    if operation == "getDemandeLogement":
        return {"num_unique": raw}
    return {"date": raw}


def _emit(data: bytes | None, out: Path | None) -> None:
    if data is None:
        return
    if out is not None:
        out.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def sne_command(
    service: Annotated[str, typer.Argument(help="Service : numUnique, demandeLogement, doublons, …")],
    args: Annotated[
        list[str] | None,
        typer.Argument(
            help="Valeur (fichier XML, numéro unique ou date), puis certificat et clé (forme libsne)"
        ),
    ] = None,
    cert: Annotated[str | None, typer.Option("--cert", help="Chaîne de certificats client (PEM)")] = None,
    key: Annotated[str | None, typer.Option("--key", help="Clé privée (PEM)")] = None,
    p12: Annotated[str | None, typer.Option("--p12", help="Certificat et clé en PKCS#12")] = None,
    password_env: Annotated[
        str | None, typer.Option("--password-env", help="Variable d'environnement du mot de passe")
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", "--url", help="Hôte[:port] ou adresse https (défaut : base école)")
    ] = None,
    ca_file: Annotated[str | None, typer.Option("--ca-file", help="Autorités reconnues (PEM)")] = None,
    guichet: Annotated[str | None, typer.Option("--guichet", help="Numéro de guichet (défaut : CN)")] = None,
    connector: Annotated[
        str | None, typer.Option("--connector", help="Connecteur sne du fichier de configuration")
    ] = None,
    motif: Annotated[str | None, typer.Option("--motif", help="Filtre motifRadiation (RADATT…)")] = None,
    statut_dalo: Annotated[str | None, typer.Option("--statut-dalo", help="Filtre statutDalo")] = None,
    type_reservataire: Annotated[
        str | None, typer.Option("--type-reservataire", help="Filtre typeReservataire")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Fichier où écrire la réponse")] = None,
    attestation: Annotated[
        Path | None, typer.Option("--attestation", help="Fichier où écrire l'attestation (numUnique)")
    ] = None,
) -> None:
    """Échange avec le SNE (numéro unique) : un service, sa valeur ; codes de sortie documentés."""
    from aiguilleur.cli.app import err_console

    try:
        code = _run(locals())
    except AiguilleurError as exc:
        err_console.print(f"[red]SNE :[/] {exc}", highlight=False, markup=False)
        raise typer.Exit(exit_code(exc)) from None
    raise typer.Exit(code)


def _run(o: dict[str, Any]) -> int:
    from aiguilleur import sne

    positional = list(o["args"] or [])
    if len(positional) == 3:  # libsne: <service> <value> <cert> <key>
        positional, o["cert"], o["key"] = positional[:1], positional[1], positional[2]
    if len(positional) != 1:
        raise ConfigError(
            [("arguments", "une valeur attendue (plus certificat et clé en forme libsne)")], source="sne"
        )
    params = _value(o["service"], positional[0])
    params.update(
        {
            k: v
            for k, v in (
                ("motif_radiation", o["motif"]),
                ("statut_dalo", o["statut_dalo"]),
                ("type_reservataire", o["type_reservataire"]),
            )
            if v is not None
        }
    )
    if o["connector"] is not None:
        client = _connector_client(o["connector"])
    else:
        if o["cert"] is None and o["p12"] is None:
            raise ConfigError(
                [("--cert", "certificat client requis : --cert et --key, ou --p12")], source="sne"
            )
        client = sne.open_client(
            o["cert"],
            o["key"],
            o["host"],
            pkcs12=o["p12"],
            password_env=o["password_env"],
            ca_file=o["ca_file"],
            num_guichet=o["guichet"],
        )
    with client:
        result = sne.call(client, o["service"], **params)
    return _report(result, o["out"], o["attestation"])


def _connector_client(name: str) -> Any:
    from aiguilleur.cli.app import current_config
    from aiguilleur.connectors.sne import SneConfig, SneService

    config = current_config(required=True)
    entry = config.connectors.get(name)
    if entry is None or not isinstance(entry.settings, SneConfig):
        raise ConfigError(
            [("--connector", f"pas de connecteur sne « {name} » dans {config.source}")], source="sne"
        )
    settings = entry.settings.model_copy(  # relative paths from the configuration file's folder
        update={
            key: str(config.resolve(value))
            for key in ("cert_file", "key_file", "pkcs12_file", "ca_file", "xsd_dir")
            if (value := getattr(entry.settings, key)) is not None
        }
    )
    return SneService(name, settings).client()


def _report(result: results.Result, out: Path | None, attestation: Path | None) -> int:
    from aiguilleur.cli.app import err_console

    def say(text: str) -> None:
        err_console.print(text, highlight=False, markup=False)

    for anomaly in getattr(result, "anomalies", ()):
        say(f"anomalie {anomaly.code} {anomaly.propriete or ''} : {anomaly.message}")
    if isinstance(result, results.DemandeResult):
        _emit(result.demande_xml, out)
        if attestation is not None and result.attestation is not None:
            attestation.write_bytes(result.attestation)
        for doublon in result.doublons:
            say(f"doublon probable {doublon.num_unique} {doublon.nom or ''} {doublon.prenom or ''}")
        if result.anomalies:
            return EXIT_ANOMALIES
        if result.doublons:
            say(result.hint or "")
            return EXIT_DOUBLONS
        say(f"numéro unique : {result.num_unique}")
        return EXIT_OK
    if isinstance(result, results.DoublonsResult):
        _emit(result.liste_doublons_xml, out)
        say(f"{len(result.doublons)} doublon(s) probable(s)")
        return EXIT_OK
    if result.is_empty:
        say("aucun résultat")
    _emit(result.content, out)
    return EXIT_ANOMALIES if result.anomalies else EXIT_OK
