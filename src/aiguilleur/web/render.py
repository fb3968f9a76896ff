"""Server-side rendering: the Jinja2 environment of the dashboard, its filters and ``render``."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from aiguilleur.domain.statuses import LABELS
from aiguilleur.web.deps import ROLE_LABELS, csrf_token, pop_flashes

PARIS = ZoneInfo("Europe/Paris")
NBSP = "\u202f"  # narrow no-break space: the French thousands separator

STATUS_TONES = {
    14: "new",
    15: "refused",
    16: "progress",
    17: "waiting",
    19: "done",
    20: "refused",
    100: "closed",
}
COUNT_LABELS = {
    "imported": "importé(s)",
    "updated": "nouvelle(s) version(s)",
    "duplicate": "déjà reçu(s)",
    "rejected": "refusé(s)",
    "errors": "erreur(s)",
    "pulled": "récupéré(s) par SFTP",
    "pull_failed": "récupération(s) SFTP en échec",
    "returns_sent": "retour(s) envoyé(s)",
    "returns_retry": "retour(s) à réessayer",
    "returns_dead": "retour(s) abandonné(s)",
}
JOURNAL_KINDS = {
    "received": "Réception",
    "version": "Nouvelle version",
    "status": "Statut",
    "undo": "Annulation",
    "return": "Retour transmis",
    "return-failed": "Retour en échec",
    "return-retry": "Retour relancé",
    "return-discard": "Retour abandonné",
    "document": "Document ajouté",
    "message": "Message",
    "event": "Événement",
}
OUTCOMES = {"ok": "réussie", "failed": "en échec", "running": "en cours", "interrupted": "interrompue"}
TRIGGER_LABELS = {"schedule": "planifiée", "manual": "à la demande", "cli": "ligne de commande"}
RUN_TONES = {"ok": "ok", "failed": "error", "running": "progress", "interrupted": "warning"}


def paris(value: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    """A UTC datetime as agents read it: Paris time, French order."""
    return value.astimezone(PARIS).strftime(fmt) if value is not None else "—"


def number(value: int | float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,}".replace(",", NBSP) if isinstance(value, int) else f"{value:,.1f}".replace(",", NBSP)


def filesize(size_bytes: int) -> str:
    """``12,3 Ko``: French units and decimal comma."""
    size = float(size_bytes)
    for unit in ("octets", "Ko", "Mo", "Go"):
        if size < 1024 or unit == "Go":
            text = f"{size:.0f}" if unit == "octets" or size >= 100 else f"{size:.1f}".replace(".", ",")
            return f"{text}{NBSP}{unit}"
        size /= 1024
    raise AssertionError("unreachable")


def status_tone(code: int) -> str:
    return STATUS_TONES.get(code, "closed")


def actor(name: str) -> str:
    """Who did it, as agents say it: ``user:marie`` → marie, ``token:gru`` → « API (gru) »."""
    kind, sep, rest = name.partition(":")
    if sep and kind == "user":
        return rest
    if sep and kind == "token":
        return f"API ({rest})"
    return "le hub" if name == "aiguilleur" else name


def setting(value: Any) -> str:
    """A configuration value for display: nested tables and lists as compact JSON, nothing as « — »."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def with_query(request: Request, **changes: Any) -> str:
    """The current URL's query with ``changes`` applied (None removes a key), for links like pagination."""
    params = {k: v for k, v in request.query_params.items() if v != ""}
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else "?"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("aiguilleur.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        paris=paris, number=number, filesize=filesize, status_tone=status_tone, actor=actor, setting=setting
    )
    env.globals.update(
        status_labels={int(k): v for k, v in LABELS.items()},
        with_query=with_query,
        role_labels=ROLE_LABELS,
        count_labels=COUNT_LABELS,
        outcome_labels=OUTCOMES,
        journal_kinds=JOURNAL_KINDS,
        trigger_labels=TRIGGER_LABELS,
        run_tones=RUN_TONES,
    )
    return env


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context`` and what every page shows: user, CSRF token, messages."""
    from aiguilleur.api.app import package_version  # late: the API's app module mounts this dashboard

    page = (
        environment()
        .get_template(template)
        .render(
            request=request,
            user=getattr(request.state, "user", None),
            csrf=csrf_token(request),
            flashes=pop_flashes(request),
            version=package_version(),
            **context,
        )
    )
    return HTMLResponse(page, status_code=status_code)
