"""Configured connectors, their settings (secrets masked) and their newest run."""

from __future__ import annotations

from fastapi import APIRouter

from aiguilleur.api.deps import HubDep, ReaderDep
from aiguilleur.api.problems import problem_responses
from aiguilleur.api.schemas import ConnectorView

router = APIRouter(prefix="/connectors", tags=["connecteurs"], responses=problem_responses(401, 403))


@router.get("")
def list_connectors(hub: HubDep, principal: ReaderDep) -> list[ConnectorView]:
    """Every configured connector, by name. Connectors are not per organisation: every role sees them."""
    result = []
    for name, entry in sorted(hub.config.connectors.items()):
        info = hub.registry.info(entry.kind)
        runs = hub.store.runs.latest(name, 1)
        result.append(
            ConnectorView(
                name=name,
                kind=entry.kind,
                title=info.title if info is not None else None,
                enabled=entry.settings.enabled,
                settings=hub.config.summary(name),
                last_run=runs[0] if runs else None,
            )
        )
    return result
