"""Users of the dashboard in the store: argon2 hashes, roles and scopes, lock-out, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from tests.conftest import Clock
from tests.web.conftest import FAST_HASHER, PASSWORD

from aiguilleur.domain.access import Role
from aiguilleur.errors import AccessDenied, Conflict, NotFound
from aiguilleur.store import tables as t
from aiguilleur.store.repository import Store
from aiguilleur.store.users import LOCK_S, MAX_FAILURES, REFUSED, AccountLocked


@pytest.fixture
def users(store: Store) -> Store:
    store.users.hasher = FAST_HASHER
    store.users.create("marie", PASSWORD, Role.OPERATOR, ["nice"], display_name="Marie Curie")
    return store


def test_users_create_stores_an_argon2_hash_never_the_password(users: Store) -> None:
    with users.read() as s:
        row = s.query(t.User).filter_by(login="marie").one()
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    user = users.users.find("MARIE ")
    assert user is not None and user.principal.scope == frozenset({"nice"})
    assert user.principal.role is Role.OPERATOR and user.name == "Marie Curie"


@pytest.mark.parametrize(
    ("login", "password", "orgs", "error"),
    [
        pytest.param("marie", PASSWORD, ["nice"], Conflict, id="login-taken"),
        pytest.param("paul", "court", ["nice"], ValueError, id="password-too-short"),
        pytest.param("paul", PASSWORD, [], ValueError, id="no-organisation"),
        pytest.param("paul", PASSWORD, ["antibes"], NotFound, id="unknown-organisation"),
        pytest.param("paul dupont", PASSWORD, ["nice"], ValueError, id="space-in-login"),
    ],
)
def test_users_create_refuses(users: Store, login: str, password: str, orgs: list[str], error: type) -> None:
    with pytest.raises(error):
        users.users.create(login, password, Role.READER, orgs)


def test_users_authenticate_records_the_sign_in(users: Store, clock: Clock) -> None:
    user = users.users.authenticate("marie", PASSWORD)
    assert user.last_login_at == clock() and user.failed_attempts == 0
    assert [e.kind for e in users.journal.recent(kinds=("login",))] == ["login"]


def test_users_unknown_login_and_wrong_password_answer_alike(users: Store) -> None:
    with pytest.raises(AccessDenied) as unknown:
        users.users.authenticate("nobody", PASSWORD)
    with pytest.raises(AccessDenied) as wrong:
        users.users.authenticate("marie", "not the password")
    assert str(unknown.value) == str(wrong.value) == REFUSED
    assert not isinstance(wrong.value, AccountLocked)


def test_users_lock_after_five_failures_for_fifteen_minutes(users: Store, clock: Clock) -> None:
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(AccessDenied):
            users.users.authenticate("marie", "wrong password")
    with pytest.raises(AccountLocked) as locked:
        users.users.authenticate("marie", "wrong password")
    assert locked.value.until == clock() + timedelta(seconds=LOCK_S)
    with pytest.raises(AccountLocked):  # even the right password, while locked
        users.users.authenticate("marie", PASSWORD)
    entries = users.journal.recent(kinds=("login-locked",))
    assert len(entries) == 1 and "marie" in entries[0].message
    clock.advance(LOCK_S + 1)
    assert users.users.authenticate("marie", PASSWORD).login == "marie"


def test_users_success_resets_the_failure_count(users: Store) -> None:
    for _ in range(MAX_FAILURES - 1):
        with pytest.raises(AccessDenied):
            users.users.authenticate("marie", "wrong password")
    users.users.authenticate("marie", PASSWORD)
    with pytest.raises(AccessDenied) as again:
        users.users.authenticate("marie", "wrong password")
    assert not isinstance(again.value, AccountLocked)


def test_users_disabled_account_cannot_sign_in(users: Store) -> None:
    users.users.set_disabled("marie", True)
    with pytest.raises(AccessDenied):
        users.users.authenticate("marie", PASSWORD)
    users.users.set_disabled("marie", False)
    assert users.users.authenticate("marie", PASSWORD).login == "marie"


def test_users_unlock_and_new_password(users: Store) -> None:
    for _ in range(MAX_FAILURES):
        with pytest.raises(AccessDenied):
            users.users.authenticate("marie", "wrong password")
    users.users.unlock("marie")
    users.users.set_password("marie", "another long password")
    assert users.users.authenticate("marie", "another long password").login == "marie"
    with pytest.raises(NotFound):
        users.users.unlock("nobody")


def test_users_hash_is_upgraded_when_the_parameters_change(users: Store) -> None:
    from argon2 import PasswordHasher

    users.users.hasher = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    users.users.authenticate("marie", PASSWORD)
    with users.read() as s:
        row = s.query(t.User).filter_by(login="marie").one()
    assert "m=16,t=2,p=1" in row.password_hash


def test_users_migrations_match_the_tables(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), t.Base.metadata)
    assert diff == []
