"""Who may do what: roles and organisation scopes (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """Roles in increasing power: a reader reads, an operator changes statuses, an admin administers."""

    READER = "reader"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        order = [Role.READER, Role.OPERATOR, Role.ADMIN]
        return order.index(self) >= order.index(needed)


ALL = "*"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a token or a person, with a role and the organisations it may see."""

    name: str
    role: Role
    organisations: frozenset[str]  # {"*"} for every organisation

    @property
    def scope(self) -> frozenset[str] | None:
        """None for every organisation, else the ids this principal may see."""
        return None if ALL in self.organisations else self.organisations

    def sees(self, organisation_id: str) -> bool:
        return ALL in self.organisations or organisation_id in self.organisations


SYSTEM = Principal("aiguilleur", Role.ADMIN, frozenset({ALL}))
