"""API tokens for machines: random, shown once, stored as a SHA-256 hash, scoped to organisations."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from aiguilleur.domain.access import ALL, Principal, Role
from aiguilleur.errors import AccessDenied, NotFound
from aiguilleur.store import tables as t

if TYPE_CHECKING:
    from aiguilleur.store.repository import Store

PREFIX = "agl_"


def token_hash(token: str) -> str:
    # a token carries 256 random bits: a plain SHA-256 is enough, no slow hash needed
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, name: str, role: Role, organisations: Iterable[str]) -> str:
        """A new token (returned once, never stored in clear). ``organisations`` may be ``["*"]``."""
        orgs = sorted(set(organisations))
        if not orgs:
            raise ValueError("a token needs at least one organisation, or '*'")
        token = PREFIX + secrets.token_urlsafe(32)
        with self.store.write() as s:
            if ALL not in orgs:
                missing = [o for o in orgs if s.get(t.Organisation, o) is None]
                if missing:
                    raise NotFound(f"organisation inconnue : {', '.join(missing)}")
            s.add(
                t.ApiToken(
                    name=name,
                    token_hash=token_hash(token),
                    role=str(role),
                    organisations=orgs,
                    created_at=self.store.now(),
                )
            )
            self.store.journal.add(s, "token", f"Jeton « {name} » créé ({role}, {', '.join(orgs)})")
        return token

    def authenticate(self, token: str) -> Principal:
        """The principal of a valid token; ``AccessDenied`` otherwise."""
        if not token.startswith(PREFIX) or len(token) > 200:
            raise AccessDenied("jeton invalide")
        digest = token_hash(token)
        with self.store.read() as s:
            row = s.scalars(select(t.ApiToken).where(t.ApiToken.token_hash == digest)).first()
            if row is None or row.revoked_at is not None:
                raise AccessDenied("jeton invalide ou révoqué")
            principal = Principal(f"token:{row.name}", Role(row.role), frozenset(row.organisations))
            last_used = row.last_used_at
        now = self.store.now()
        if last_used is None or (now - last_used).total_seconds() > 60:  # write at most once a minute
            with self.store.write() as s:
                s.execute(update(t.ApiToken).where(t.ApiToken.token_hash == digest).values(last_used_at=now))
        return principal

    def revoke(self, name: str) -> int:
        with self.store.write() as s:
            rows = list(
                s.scalars(select(t.ApiToken).where(t.ApiToken.name == name, t.ApiToken.revoked_at.is_(None)))
            )
            for row in rows:
                row.revoked_at = self.store.now()
            return len(rows)

    def list(self) -> list[t.ApiToken]:
        with self.store.read() as s:
            return list(s.scalars(select(t.ApiToken).order_by(t.ApiToken.id)))
