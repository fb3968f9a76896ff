"""``aiguilleur token …``: API tokens for machines (back-office software, scripts)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aiguilleur.domain.access import ALL, Role

token_app = typer.Typer(help="Jetons d'accès à l'API.", no_args_is_help=True)


@token_app.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="Nom du jeton (logiciel ou usage)")],
    role: Annotated[Role, typer.Option(help="reader, operator ou admin")] = Role.READER,
    organisations: Annotated[
        list[str] | None, typer.Option("--org", help="Organisation visible (répétable)")
    ] = None,
    all_organisations: Annotated[bool, typer.Option("--all-orgs", help="Toutes les organisations")] = False,
) -> None:
    """Crée un jeton ; il n'est affiché qu'une fois."""
    from aiguilleur.cli.app import EXIT_CONFIG, cli_errors, console, err_console
    from aiguilleur.cli.dossiers import _store

    if bool(organisations) == all_organisations:
        err_console.print("Préciser --org ORGANISATION (répétable) ou --all-orgs.")
        raise typer.Exit(EXIT_CONFIG)
    with cli_errors():
        store = _store()
        token = store.tokens.create(name, role, [ALL] if all_organisations else organisations or [])
        store.close()
    console.print(token, highlight=False, soft_wrap=True)


@token_app.command("list")
def list_tokens() -> None:
    """Liste les jetons (jamais leur valeur)."""
    from aiguilleur.cli.app import cli_errors, console
    from aiguilleur.cli.dossiers import _store

    with cli_errors():
        store = _store()
        rows = store.tokens.list()
        store.close()
    table = Table()
    for col in ("Nom", "Rôle", "Organisations", "Créé", "Dernier usage", "Révoqué"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r.name,
            r.role,
            ", ".join(r.organisations),
            r.created_at.isoformat(timespec="seconds"),
            r.last_used_at.isoformat(timespec="seconds") if r.last_used_at else "",
            "oui" if r.revoked_at else "",
        )
    console.print(table)


@token_app.command("revoke")
def revoke_token(name: Annotated[str, typer.Argument(help="Nom du jeton")]) -> None:
    """Révoque les jetons portant ce nom."""
    from aiguilleur.cli.app import cli_errors, console
    from aiguilleur.cli.dossiers import _store

    with cli_errors():
        store = _store()
        n = store.tokens.revoke(name)
        store.close()
    console.print(f"{n} jeton(s) révoqué(s).")
