"""The ``aiguilleur`` command line (typer + rich). Messages in French, exit codes scripts can rely on.

Exit codes: 0 success; 1 the operation or run failed; 2 bad configuration or usage; 3 not found;
4 refused by the rules (status transition); 5 access refused.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from aiguilleur import __version__
from aiguilleur.config import Config, find_config_file, load_config
from aiguilleur.errors import AccessDenied, AiguilleurError, ConfigError, InvalidTransition, NotFound
from aiguilleur.logging import setup_logging

logger = logging.getLogger(__name__)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

EXIT_FAILED, EXIT_CONFIG, EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_DENIED = 1, 2, 3, 4, 5

app = typer.Typer(
    name="aiguilleur",
    help="Plateforme d'échanges des collectivités : MDEL, HubEE, COLD, SNE, Pronote.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class State:
    config_path: Path | None = None


state = State()


@app.callback()
def main_options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Fichier de configuration (défaut : $AIGUILLEUR_CONFIG ou ./aiguilleur.toml).",
        ),
    ] = None,
) -> None:
    state.config_path = config


def current_config(*, required: bool = False) -> Config:
    """The configuration named by --config / $AIGUILLEUR_CONFIG / ./aiguilleur.toml, else the defaults."""
    path = find_config_file(state.config_path)
    if path is None and required:
        raise ConfigError([("", "aucun fichier de configuration : --config FICHIER ou $AIGUILLEUR_CONFIG")])
    config = load_config(path)
    setup_logging(config.hub.log_level, config.secret_values)
    return config


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn our errors into a clear message and an exit code, never a traceback."""
    try:
        yield
    except ConfigError as exc:
        err_console.print(f"[bold red]Configuration invalide[/] ({exc.source}) :", highlight=False)
        for path, message in exc.problems:
            err_console.print(f"  [bold]{path or '(fichier)'}[/] : {message}", highlight=False)
        raise typer.Exit(EXIT_CONFIG) from None
    except NotFound as exc:
        err_console.print(f"[red]Introuvable :[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_NOT_FOUND) from None
    except InvalidTransition as exc:
        err_console.print(f"[red]Refusé :[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_REFUSED) from None
    except AccessDenied as exc:
        err_console.print(f"[red]Accès refusé :[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_DENIED) from None
    except AiguilleurError as exc:
        err_console.print(f"[red]Erreur :[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_FAILED) from None


@app.command()
def version() -> None:
    """Affiche la version."""
    console.print(f"aiguilleur {__version__}")


@app.command()
def check() -> None:
    """Valide le fichier de configuration ; chaque erreur nomme sa clé (code 2 si invalide)."""
    with cli_errors():
        config = current_config(required=True)
        table = Table(title=f"Configuration valide : {config.source}")
        table.add_column("Connecteur")
        table.add_column("Type")
        table.add_column("Période")
        table.add_column("Actif")
        from aiguilleur.durations import format_duration

        for name, entry in sorted(config.connectors.items()):
            table.add_row(
                name,
                entry.kind,
                format_duration(entry.settings.every),
                "oui" if entry.settings.enabled else "non",
            )
        console.print(table)
        console.print(
            f"{len(config.organisations)} organisation(s), base {_safe_url(config.database_url)}, "
            f"écoute {config.hub.listen}",
            highlight=False,
        )


def _safe_url(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def sync(name: Annotated[str, typer.Argument(help="Nom du connecteur")]) -> None:
    """Synchronise un connecteur une fois (code 0 si la synchronisation a fonctionné)."""
    from aiguilleur.engine.hub import Hub
    from aiguilleur.engine.runner import run_connector

    with cli_errors():
        hub = Hub.open(current_config())
        try:
            hub.connector(name)
            outcome = run_connector(hub, name, trigger="cli")
        finally:
            hub.close()
    counts = ", ".join(f"{k} : {v}" for k, v in sorted(outcome.counts.items())) or "rien de nouveau"
    for message in outcome.errors:
        err_console.print(f"  [yellow]•[/] {message}", highlight=False)
    if outcome.outcome != "ok":
        err_console.print(f"[red]Synchronisation de {name} en échec :[/] {outcome.error}", highlight=False)
        raise typer.Exit(EXIT_FAILED)
    console.print(f"Synchronisation de {name} terminée ({counts}).", highlight=False)


@app.command()
def run() -> None:
    """Lance le hub : planificateur des connecteurs et API/tableau de bord."""
    from aiguilleur.cli.serve import serve

    with cli_errors():
        serve(current_config())


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option(help="Dossier des données de démonstration.")] = Path("var/demo"),
    listen: Annotated[str, typer.Option(help="Adresse d'écoute.")] = "127.0.0.1:8080",
) -> None:
    """Lance le hub sur ses valeurs embarquées (SQLite, dossiers locaux, pairs simulés)."""
    from aiguilleur.cli.demo import demo_config
    from aiguilleur.cli.serve import serve

    with cli_errors():
        serve(demo_config(data_dir, listen), demo=True)


def _register_subcommands() -> None:
    from aiguilleur.cli import dossiers, fakes, sne, tokens, users

    app.add_typer(dossiers.dossiers_app, name="dossiers")
    app.add_typer(dossiers.status_app, name="status")
    app.add_typer(tokens.token_app, name="token")
    app.add_typer(users.user_app, name="user")
    app.add_typer(fakes.fake_app, name="fake")
    app.command("sne")(sne.sne_command)


_register_subcommands()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
