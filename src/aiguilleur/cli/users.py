"""``aiguilleur user …``: the people who sign in to the dashboard (machines use ``aiguilleur token``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from aiguilleur.domain.access import ALL, Role

user_app = typer.Typer(help="Comptes du tableau de bord.", no_args_is_help=True)


def _read_password(from_stdin: bool) -> str:
    """The password from the first line of stdin, else asked twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = typer.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    return password


@user_app.command("create")
def create_user(
    login: Annotated[str, typer.Argument(help="Identifiant de connexion")],
    role: Annotated[Role, typer.Option(help="reader, operator ou admin")] = Role.READER,
    organisations: Annotated[
        list[str] | None, typer.Option("--org", help="Organisation visible (répétable)")
    ] = None,
    all_organisations: Annotated[bool, typer.Option("--all-orgs", help="Toutes les organisations")] = False,
    name: Annotated[str, typer.Option("--name", help="Nom affiché")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Lire le mot de passe sur l'entrée standard")
    ] = False,
) -> None:
    """Crée un compte ; le mot de passe est demandé (ou lu sur l'entrée standard)."""
    from aiguilleur.cli.app import EXIT_CONFIG, cli_errors, console, err_console
    from aiguilleur.cli.dossiers import _store

    if bool(organisations) == all_organisations:
        err_console.print("Préciser --org ORGANISATION (répétable) ou --all-orgs.")
        raise typer.Exit(EXIT_CONFIG)
    password = _read_password(password_stdin)
    with cli_errors():
        store = _store()
        try:
            user = store.users.create(
                login,
                password,
                role,
                [ALL] if all_organisations else organisations or [],
                display_name=name,
                actor="cli",
            )
        except ValueError as exc:
            err_console.print(f"[red]Refusé :[/] {exc}", highlight=False)
            raise typer.Exit(EXIT_CONFIG) from None
        finally:
            store.close()
    console.print(f"Compte « {user.login} » créé ({user.role}).", highlight=False)


@user_app.command("list")
def list_users() -> None:
    """Liste les comptes (jamais leur mot de passe)."""
    from aiguilleur.cli.app import cli_errors, console
    from aiguilleur.cli.dossiers import _paris, _store

    with cli_errors():
        store = _store()
        users = store.users.list()
        store.close()
    table = Table()
    for col in ("Identifiant", "Nom", "Rôle", "Organisations", "Dernière connexion", "État"):
        table.add_column(col)
    for u in users:
        state = "désactivé" if u.disabled else ("verrouillé" if u.locked_until else "actif")
        table.add_row(
            u.login,
            u.display_name,
            u.role,
            ", ".join(u.organisations),
            _paris(u.last_login_at) if u.last_login_at else "",
            state,
        )
    console.print(table)


@user_app.command("password")
def set_password(
    login: Annotated[str, typer.Argument(help="Identifiant de connexion")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Lire le mot de passe sur l'entrée standard")
    ] = False,
) -> None:
    """Change le mot de passe d'un compte (et lève un verrouillage)."""
    from aiguilleur.cli.app import EXIT_CONFIG, cli_errors, console, err_console
    from aiguilleur.cli.dossiers import _store

    password = _read_password(password_stdin)
    with cli_errors():
        store = _store()
        try:
            store.users.set_password(login, password, actor="cli")
        except ValueError as exc:
            err_console.print(f"[red]Refusé :[/] {exc}", highlight=False)
            raise typer.Exit(EXIT_CONFIG) from None
        finally:
            store.close()
    console.print(f"Mot de passe de « {login} » changé.", highlight=False)


@user_app.command("unlock")
def unlock_user(login: Annotated[str, typer.Argument(help="Identifiant de connexion")]) -> None:
    """Lève le verrouillage d'un compte après des essais erronés."""
    from aiguilleur.cli.app import cli_errors, console
    from aiguilleur.cli.dossiers import _store

    with cli_errors():
        store = _store()
        try:
            store.users.unlock(login, actor="cli")
        finally:
            store.close()
    console.print(f"Compte « {login} » déverrouillé.", highlight=False)


@user_app.command("disable")
def disable_user(
    login: Annotated[str, typer.Argument(help="Identifiant de connexion")],
    enable: Annotated[bool, typer.Option("--enable", help="Réactiver le compte")] = False,
) -> None:
    """Désactive un compte (ses sessions cessent aussitôt), ou le réactive avec --enable."""
    from aiguilleur.cli.app import cli_errors, console
    from aiguilleur.cli.dossiers import _store

    with cli_errors():
        store = _store()
        try:
            store.users.set_disabled(login, not enable, actor="cli")
        finally:
            store.close()
    console.print(f"Compte « {login} » {'réactivé' if enable else 'désactivé'}.", highlight=False)
