"""People who sign in to the dashboard: argon2 password hashes, roles, organisation scope, lock-out.

Machines keep API tokens (``tokens.py``). After ``MAX_FAILURES`` wrong passwords in a row an account is
locked for ``LOCK_S`` seconds, and the lock is journaled; while locked, even the right password is
refused without being checked. An unknown login costs the same argon2 verification as a known one, and
both answer the same message, so that the answer does not tell which logins exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from aiguilleur.domain.access import ALL, Principal, Role
from aiguilleur.errors import AccessDenied, Conflict, NotFound
from aiguilleur.store import tables as t
from aiguilleur.store.views import View

if TYPE_CHECKING:
    from aiguilleur.store.repository import Store

MAX_FAILURES = 5
LOCK_S = 15 * 60
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a cap keeps a huge form field from costing much
LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,99}$")
REFUSED = "identifiant ou mot de passe incorrect"


class AccountLocked(AccessDenied):
    """Too many failed sign-ins: the account refuses every password until ``until``."""

    def __init__(self, message: str, until: datetime) -> None:
        self.until = until
        super().__init__(message)


class UserView(View):
    id: int
    login: str
    display_name: str
    role: str
    organisations: list[str]
    failed_attempts: int
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None
    disabled: bool

    @property
    def principal(self) -> Principal:
        """The caller this person is, for the store's scoped queries."""
        return Principal(f"user:{self.login}", Role(self.role), frozenset(self.organisations))

    @property
    def name(self) -> str:
        return self.display_name or self.login


def check_password(password: str) -> None:
    """Raise ``ValueError`` (French message) when ``password`` is too short or too long."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"mot de passe trop court : {MIN_PASSWORD_LENGTH} caractères au moins")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"mot de passe trop long : {MAX_PASSWORD_LENGTH} caractères au plus")


class Users:
    def __init__(self, store: Store, hasher: PasswordHasher | None = None) -> None:
        self.store = store
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    def create(
        self,
        login: str,
        password: str,
        role: Role,
        organisations: Iterable[str],
        *,
        display_name: str = "",
        actor: str = "aiguilleur",
    ) -> UserView:
        """A new user. ``organisations`` may be ``["*"]``.

        Raises ``ValueError`` for a malformed login, a weak password or no organisation, ``NotFound``
        for an unknown organisation and ``Conflict`` when the login is taken.
        """
        login = login.strip().lower()
        if not LOGIN_PATTERN.match(login):
            raise ValueError("identifiant attendu : 2 à 100 caractères parmi a-z, 0-9, « . _ @ - »")
        check_password(password)
        orgs = sorted(set(organisations))
        if not orgs:
            raise ValueError("un utilisateur voit au moins une organisation, ou toutes (« * »)")
        password_hash = self.hasher.hash(password)
        with self.store.write() as s:
            if ALL not in orgs:
                missing = [o for o in orgs if s.get(t.Organisation, o) is None]
                if missing:
                    raise NotFound(f"organisation inconnue : {', '.join(missing)}")
            if s.scalar(select(t.User.id).where(t.User.login == login)) is not None:
                raise Conflict(f"l'utilisateur « {login} » existe déjà")
            row = t.User(
                login=login,
                display_name=display_name.strip(),
                password_hash=password_hash,
                role=str(role),
                organisations=orgs,
                failed_attempts=0,
                created_at=self.store.now(),
                disabled=False,
            )
            s.add(row)
            s.flush()
            self.store.journal.add(
                s, "user", f"Utilisateur « {login} » créé ({role}, {', '.join(orgs)})", actor=actor
            )
            return UserView.model_validate(row)

    def authenticate(self, login: str, password: str) -> UserView:
        """The user whose password this is, with its failure count reset and its sign-in recorded.

        Raises ``AccountLocked`` while the account is locked (the password is not checked), and
        ``AccessDenied`` for an unknown or disabled login or a wrong password; the failure that reaches
        ``MAX_FAILURES`` locks the account and raises ``AccountLocked``.
        """
        login = login.strip().lower()
        now = self.store.now()
        with self.store.read() as s:
            row = s.scalars(select(t.User).where(t.User.login == login)).first() if login else None
            user = UserView.model_validate(row) if row is not None else None
            stored_hash = row.password_hash if row is not None else None
        if user is not None and user.locked_until is not None and user.locked_until > now:
            raise AccountLocked(_locked_message(user.locked_until), user.locked_until)
        if len(password) > MAX_PASSWORD_LENGTH:
            password = password[:MAX_PASSWORD_LENGTH]  # still checked, still counted as a failure
        is_valid = self._verify(stored_hash, password)
        if user is None or user.disabled:
            raise AccessDenied(REFUSED)
        if not is_valid:
            raise self._failed(user.id, now)
        with self.store.write() as s:
            row = s.get(t.User, user.id)
            if row is None:
                raise AccessDenied(REFUSED)
            row.failed_attempts, row.locked_until, row.last_login_at = 0, None, now
            if stored_hash is not None and self.hasher.check_needs_rehash(stored_hash):
                row.password_hash = self.hasher.hash(password)
            self.store.journal.add(s, "login", f"Connexion de « {login} » au tableau de bord", actor=login)
            return UserView.model_validate(row)

    def _verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored_hash or self._dummy(), password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        """A hash to verify against for an unknown login: the same cost as a real one."""
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash("aiguilleur: no such user")
        return self._dummy_hash

    def _failed(self, user_id: int, now: datetime) -> AccessDenied:
        """Count a wrong password; returns the error to raise: ``AccountLocked`` when this one locks."""
        with self.store.write() as s:
            row = s.get(t.User, user_id)
            if row is None:
                return AccessDenied(REFUSED)
            row.failed_attempts += 1
            if row.failed_attempts < MAX_FAILURES:
                return AccessDenied(REFUSED)
            until = now + timedelta(seconds=LOCK_S)
            row.failed_attempts, row.locked_until = 0, until
            self.store.journal.add(
                s,
                "login-locked",
                f"Compte « {row.login} » verrouillé {LOCK_S // 60} minutes après "
                f"{MAX_FAILURES} mots de passe erronés",
                actor=row.login,
            )
            return AccountLocked(_locked_message(until), until)

    def get(self, user_id: int) -> UserView | None:
        with self.store.read() as s:
            row = s.get(t.User, user_id)
            return UserView.model_validate(row) if row is not None else None

    def find(self, login: str) -> UserView | None:
        with self.store.read() as s:
            row = s.scalars(select(t.User).where(t.User.login == login.strip().lower())).first()
            return UserView.model_validate(row) if row is not None else None

    def list(self) -> list[UserView]:
        with self.store.read() as s:
            return [UserView.model_validate(r) for r in s.scalars(select(t.User).order_by(t.User.login))]

    def set_password(self, login: str, password: str, *, actor: str = "aiguilleur") -> None:
        """Replace a password (and lift a lock); raises ``NotFound`` or ``ValueError`` (weak password)."""
        check_password(password)
        password_hash = self.hasher.hash(password)
        with self.store.write() as s:
            row = self._row(s, login)
            row.password_hash, row.failed_attempts, row.locked_until = password_hash, 0, None
            self.store.journal.add(s, "user", f"Mot de passe de « {row.login} » changé", actor=actor)

    def unlock(self, login: str, *, actor: str = "aiguilleur") -> None:
        """Lift a lock-out; raises ``NotFound``."""
        with self.store.write() as s:
            row = self._row(s, login)
            row.failed_attempts, row.locked_until = 0, None
            self.store.journal.add(s, "user", f"Compte « {row.login} » déverrouillé", actor=actor)

    def set_disabled(self, login: str, disabled: bool, *, actor: str = "aiguilleur") -> None:
        """Disable (or enable again) an account; a disabled account cannot sign in. Raises ``NotFound``."""
        with self.store.write() as s:
            row = self._row(s, login)
            row.disabled = disabled
            verb = "désactivé" if disabled else "réactivé"
            self.store.journal.add(s, "user", f"Compte « {row.login} » {verb}", actor=actor)

    @staticmethod
    def _row(s: Session, login: str) -> t.User:
        row = s.scalars(select(t.User).where(t.User.login == login.strip().lower())).first()
        if row is None:
            raise NotFound(f"utilisateur « {login} » introuvable")
        return row


def _locked_message(until: datetime) -> str:
    from zoneinfo import ZoneInfo

    local = until.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M")
    return f"compte verrouillé après {MAX_FAILURES} essais erronés : réessayer après {local}"
