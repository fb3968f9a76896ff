"""Organisations (tenants), kept in step with the configuration file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from aiguilleur.config import OrganisationConfig
from aiguilleur.errors import NotFound
from aiguilleur.store import tables as t
from aiguilleur.store.views import OrganisationView

if TYPE_CHECKING:
    from aiguilleur.store.repository import Store


class Organisations:
    def __init__(self, store: Store) -> None:
        self.store = store

    def sync(self, organisations: Sequence[OrganisationConfig]) -> None:
        """Insert or update the configured organisations (never deletes: dossiers refer to them)."""
        with self.store.write() as s:
            for org in organisations:
                row = s.get(t.Organisation, org.id)
                if row is None:
                    s.add(
                        t.Organisation(
                            id=org.id,
                            name=org.name,
                            siret=org.siret,
                            insee=org.insee,
                            created_at=self.store.now(),
                        )
                    )
                else:
                    row.name, row.siret, row.insee = org.name, org.siret, org.insee

    def list(self, scope: frozenset[str] | None) -> list[OrganisationView]:
        stmt = select(t.Organisation).order_by(t.Organisation.id)
        if scope is not None:
            stmt = stmt.where(t.Organisation.id.in_(sorted(scope)))
        with self.store.read() as s:
            return [OrganisationView.model_validate(r) for r in s.scalars(stmt)]

    def get(self, organisation_id: str, scope: frozenset[str] | None) -> OrganisationView:
        if scope is not None and organisation_id not in scope:
            raise NotFound(f"organisation {organisation_id} introuvable")
        with self.store.read() as s:
            row = s.get(t.Organisation, organisation_id)
            if row is None:
                raise NotFound(f"organisation {organisation_id} introuvable")
            return OrganisationView.model_validate(row)
