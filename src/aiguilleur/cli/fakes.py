"""``aiguilleur fake <peer>``: the faithful fake peers, for editors testing an integration offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

fake_app = typer.Typer(
    help="Pairs simulés (portail MDEL, HubEE…) pour essayer une intégration hors ligne.", no_args_is_help=True
)


@fake_app.command("mdel")
def fake_mdel(
    root: Annotated[
        Path, typer.Option("--root", help="Dossier servi : depot/ (demandes) et retours/")
    ] = Path("var/fake-mdel"),
    port: Annotated[int, typer.Option(help="Port SFTP sur 127.0.0.1 (0 : un port libre)")] = 2222,
    authorized_keys: Annotated[
        Path, typer.Option("--authorized-keys", help="Clés publiques des clients autorisés (format OpenSSH)")
    ] = Path("var/fake-mdel/authorized_keys"),
    host_key: Annotated[Path, typer.Option("--host-key", help="Clé d'hôte (créée si absente)")] = Path(
        "var/fake-mdel/host_key"
    ),
    demands: Annotated[int, typer.Option(help="Demandes déposées au démarrage dans depot/")] = 5,
    insee: Annotated[str, typer.Option(help="Code INSEE de la commune destinataire")] = "06088",
    seed: Annotated[int, typer.Option(help="Graine : mêmes demandes à chaque lancement")] = 0,
) -> None:
    """Portail service-public.fr simulé : demandes RCO-LA, AEC-LA, ILE-LA servies en SFTP (clé seulement)."""
    from aiguilleur.cli.app import EXIT_CONFIG, console, err_console
    from aiguilleur.fakes.mdel_portal import MdelPortal
    from aiguilleur.fakes.mdel_portal.server import serve_forever

    if not authorized_keys.is_file():
        err_console.print(f"Fichier de clés autorisées introuvable : {authorized_keys}")
        raise typer.Exit(EXIT_CONFIG)
    depot = root / "depot"
    depot.mkdir(parents=True, exist_ok=True)
    (root / "retours").mkdir(parents=True, exist_ok=True)
    if demands:
        MdelPortal(seed=seed).write_demands(depot, demands, insee=insee)

    def announce(listening: int) -> None:
        url = f"sftp://mairie@127.0.0.1:{listening}/depot"
        console.print(f"Portail MDEL simulé : {url} ({demands} demande(s) déposée(s))")
        console.print("Ligne known_hosts à épingler :")

    serve_forever(root, port, authorized_keys, host_key, on_ready=announce)


@fake_app.command("hubee")
def fake_hubee(
    port: Annotated[int, typer.Option(help="Port HTTP sur 127.0.0.1 (0 : un port libre)")] = 8090,
    samples: Annotated[
        bool, typer.Option("--samples/--no-samples", help="Charger les télédossiers d'exemple de la DINUM")
    ] = True,
    jdd: Annotated[
        Path | None, typer.Option("--jdd", help="Dossier des exemples (défaut : shared/data/hubee/jdd)")
    ] = None,
    certfile: Annotated[Path | None, typer.Option("--cert", help="Certificat TLS (PEM), avec --key")] = None,
    keyfile: Annotated[Path | None, typer.Option("--key", help="Clé privée TLS (PEM)")] = None,
) -> None:
    """HubEE simulé : jetons OAuth2, API Folder 1.2.7 (abonné et émetteur), télédossiers d'exemple.

    Affiche l'adresse de l'API, celle du serveur de jetons et un couple d'identifiants par démarche.
    """
    from aiguilleur.cli.app import EXIT_CONFIG, err_console
    from aiguilleur.fakes.hubee import serve_forever

    if (certfile is None) != (keyfile is None):
        err_console.print("--cert et --key vont ensemble")
        raise typer.Exit(EXIT_CONFIG)
    try:
        serve_forever(port, samples, jdd_dir=jdd, certfile=certfile, keyfile=keyfile)
    except FileNotFoundError as exc:
        err_console.print(f"{exc} (ou lancer avec --no-samples)")
        raise typer.Exit(EXIT_CONFIG) from None


@fake_app.command("sne")
def fake_sne(
    cert: Annotated[Path, typer.Option("--cert", help="Certificat TLS du serveur (PEM)")],
    key: Annotated[Path, typer.Option("--key", help="Clé privée TLS du serveur (PEM)")],
    ca: Annotated[Path, typer.Option("--ca", help="Autorités des certificats clients acceptés (PEM)")],
    port: Annotated[int, typer.Option(help="Port HTTPS sur 127.0.0.1 (0 : un port libre)")] = 8443,
    lenient: Annotated[
        bool, typer.Option("--lenient/--strict", help="Accepter les écarts des anciens clients (libsne)")
    ] = False,
) -> None:
    """SNE simulé : DemandeLogementImplService (SOAP 1.2 + MTOM), TLS mutuel, demandes d'exemple."""
    from aiguilleur.cli.app import EXIT_CONFIG, err_console
    from aiguilleur.fakes.sne import Mode, serve_forever

    for path in (cert, key, ca):
        if not path.is_file():
            err_console.print(f"Fichier introuvable : {path}")
            raise typer.Exit(EXIT_CONFIG)
    serve_forever(port, cert, key, ca, mode=Mode.LENIENT if lenient else Mode.STRICT)
