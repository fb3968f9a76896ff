from __future__ import annotations

import pytest

from aiguilleur.domain.access import Role
from aiguilleur.errors import AccessDenied, NotFound
from aiguilleur.store import tables as t


def test_token_authenticates_with_its_role_and_scope(store):
    token = store.tokens.create("gru", Role.OPERATOR, ["nice"])
    who = store.tokens.authenticate(token)
    assert (who.role, who.scope) == (Role.OPERATOR, frozenset({"nice"}))


def test_token_is_stored_hashed(store):
    token = store.tokens.create("gru", Role.READER, ["*"])
    with store.read() as s:
        stored = s.query(t.ApiToken).one()
    assert token not in stored.token_hash and len(stored.token_hash) == 64
    assert store.tokens.authenticate(token).scope is None


@pytest.mark.parametrize("bad", ["", "nope", "agl_" + "x" * 43])
def test_bad_token_is_refused(store, bad):
    store.tokens.create("gru", Role.READER, ["nice"])
    with pytest.raises(AccessDenied):
        store.tokens.authenticate(bad)


def test_revoked_token_is_refused(store):
    token = store.tokens.create("gru", Role.READER, ["nice"])
    assert store.tokens.revoke("gru") == 1
    with pytest.raises(AccessDenied, match="révoqué"):
        store.tokens.authenticate(token)


def test_token_for_unknown_organisation_is_refused(store):
    with pytest.raises(NotFound, match="paris"):
        store.tokens.create("gru", Role.READER, ["paris"])
