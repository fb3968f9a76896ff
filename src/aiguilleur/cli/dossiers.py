"""``aiguilleur dossiers …`` and ``aiguilleur status …``: what an agent does from a terminal."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from aiguilleur.domain.access import SYSTEM
from aiguilleur.store.dossiers import DossierFilter
from aiguilleur.store.repository import Store

dossiers_app = typer.Typer(help="Consulter les dossiers reçus.", no_args_is_help=True)
status_app = typer.Typer(help="Changer le statut d'un dossier.", no_args_is_help=True)


def _store() -> Store:
    from aiguilleur.cli.app import current_config

    config = current_config()
    store = Store(config.database_url)
    store.migrate()
    store.organisations.sync(config.organisations)
    return store


def _paris(at: datetime) -> str:
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y %H:%M")


@dossiers_app.command("list")
def list_dossiers(
    organisation: Annotated[str | None, typer.Option("--org", help="Organisation")] = None,
    channel: Annotated[str | None, typer.Option(help="Canal (mdel, hubee…)")] = None,
    procedure: Annotated[str | None, typer.Option(help="Démarche")] = None,
    status: Annotated[int | None, typer.Option(help="Code de statut")] = None,
    search: Annotated[str | None, typer.Option("-q", "--search", help="Numéro ou nom")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON")] = False,
) -> None:
    """Liste les dossiers, les plus récents d'abord."""
    from aiguilleur.cli.app import cli_errors, console

    with cli_errors():
        store = _store()
        page = store.dossiers.search(
            DossierFilter(
                organisation=organisation, channel=channel, procedure=procedure, status=status, search=search
            ),
            None,
            limit=limit,
            offset=offset,
        )
        store.close()
    if as_json:
        console.print_json(page.model_dump_json())
        return
    table = Table(title=f"{page.total} dossier(s)")
    for col in ("Id", "Numéro", "Canal", "Démarche", "Organisation", "Statut", "Reçu le"):
        table.add_column(col)
    for d in page.items:
        table.add_row(
            d.id,
            d.external_id,
            d.channel,
            d.procedure,
            d.organisation_id,
            f"{d.status} {d.status_label}",
            _paris(d.received_at),
        )
    console.print(table)


@dossiers_app.command("show")
def show_dossier(
    dossier_id: Annotated[str, typer.Argument(help="Identifiant du dossier")],
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON")] = False,
) -> None:
    """Affiche un dossier : données, documents, historique des statuts."""
    from aiguilleur.cli.app import cli_errors, console

    with cli_errors():
        store = _store()
        d = store.dossiers.get(dossier_id, None)
        store.close()
    if as_json:
        console.print_json(d.model_dump_json())
        return
    console.print(
        f"[bold]{d.external_id}[/] ({d.channel}/{d.connector}) — {d.procedure} — {d.organisation_id}",
        highlight=False,
    )
    console.print(f"Statut {d.status} : {d.status_label} — version {d.version}", highlight=False)
    docs = Table(title="Documents")
    for col in ("Id", "Nom", "Rôle", "Type", "Taille", "Version"):
        docs.add_column(col)
    for doc in d.documents:
        docs.add_row(str(doc.id), doc.name, doc.role, doc.media_type, str(doc.size_bytes), str(doc.version))
    console.print(docs)
    history = Table(title="Historique")
    for col in ("Date", "Statut", "Commentaire", "Par", "Transmis", "Annulé"):
        history.add_column(col)
    for c in d.history:
        history.add_row(
            _paris(c.at),
            f"{c.code} {c.label}",
            c.comment,
            c.actor,
            "oui" if c.is_transmitted else "non",
            "oui" if c.undone_at else "",
        )
    console.print(history)
    console.print(json.dumps(d.data, ensure_ascii=False, indent=2), highlight=False)
    allowed = ", ".join(str(c) for c in d.allowed) or "aucun"
    console.print(
        f"Statuts possibles : {allowed}" + (" ; annulation possible" if d.can_undo else ""), highlight=False
    )


@status_app.command("set")
def set_status(
    dossier_id: Annotated[str, typer.Argument(help="Identifiant du dossier")],
    code: Annotated[int, typer.Argument(help="Nouveau statut : 15, 16, 17, 19, 20 ou 100")],
    comment: Annotated[str, typer.Option("--comment", "-m", help="Commentaire transmis à l'usager")] = "",
    actor: Annotated[str, typer.Option(help="Auteur du changement")] = "cli",
) -> None:
    """Change le statut d'un dossier (code 4 si la transition est refusée)."""
    from aiguilleur.cli.app import cli_errors, console

    with cli_errors():
        store = _store()
        change = store.statuses.set(dossier_id, code, comment, actor, SYSTEM.scope)
        store.close()
    console.print(
        f"Statut {change.code} ({change.label}) enregistré ; retour en attente d'envoi.", highlight=False
    )


@status_app.command("undo")
def undo_status(
    dossier_id: Annotated[str, typer.Argument(help="Identifiant du dossier")],
    actor: Annotated[str, typer.Option(help="Auteur de l'annulation")] = "cli",
) -> None:
    """Annule le dernier changement de statut tant qu'il n'est pas transmis."""
    from aiguilleur.cli.app import cli_errors, console

    with cli_errors():
        store = _store()
        current = store.statuses.undo(dossier_id, actor, SYSTEM.scope)
        store.close()
    console.print(f"Annulé ; statut actuel {current.code} ({current.label}).", highlight=False)
