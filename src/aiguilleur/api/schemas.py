"""Request and response bodies of the API that are not the store's read models (``store.views``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aiguilleur.store.views import RunView


class StatusIn(BaseModel):
    """A status change asked by the back-office."""

    model_config = ConfigDict(extra="forbid")

    code: int = Field(description="Code du nouveau statut : 15, 16, 17, 19, 20 ou 100")
    comment: str = Field("", max_length=2000, description="Commentaire transmis avec le retour")


class Health(BaseModel):
    status: str = "ok"
    database: str = "ok"
    version: str


class ConnectorView(BaseModel):
    """A configured connector, its settings (secrets masked) and its newest run."""

    name: str
    kind: str
    title: str | None
    enabled: bool
    settings: dict[str, Any]
    last_run: RunView | None
