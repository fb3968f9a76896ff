from __future__ import annotations

import logging

import pytest

from aiguilleur.logging import MASK, SecretFilter, is_personal_key, redact, redact_text


@pytest.mark.parametrize(
    "key",
    [
        "nom",
        "nomNaissance",
        "prenoms",
        "Prénom",
        "email",
        "adresse",
        "dateNaissance",
        "telephone",
        "client_secret",
        "IBAN",
        "lieuNaissance",
    ],
)
def test_personal_keys(key):
    assert is_personal_key(key)


@pytest.mark.parametrize(
    "key", ["ville", "codeInsee", "procedure", "numeroTeledemarche", "nature", "renommage"]
)
def test_non_personal_keys(key):
    assert not is_personal_key(key)


def test_redact_masks_nested_personal_data():
    data = {
        "Demandeur": {"nom": "DUPONT", "prenoms": ["Jean"], "commune": "Nice"},
        "Acte": {"nature": "NAISSANCE"},
    }
    assert redact(data) == {
        "Demandeur": {"nom": MASK, "prenoms": MASK, "commune": "Nice"},
        "Acte": {"nature": "NAISSANCE"},
    }


@pytest.mark.parametrize(
    "text",
    [
        "écrire à jean.dupont@example.fr",
        "tél. 06 12 34 56 78",
        "+33 6 12 34 56 78",
        "NIR 1 84 12 76 451 089 46",
        "IBAN FR76 3000 6000 0112 3456 7890 189",
    ],
)
def test_redact_text_masks_contact_details(text):
    assert MASK in redact_text(text)


def test_redact_text_keeps_dossier_numbers():
    assert (
        redact_text("dossier A-1-N8F602RR, statut 16, 2026-11-24")
        == "dossier A-1-N8F602RR, statut 16, 2026-11-24"
    )


def test_secret_filter_removes_secrets_from_messages_and_tracebacks():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token %s refused", ("s3cr3t-value",), None)
    try:
        raise RuntimeError("bad s3cr3t-value")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    SecretFilter(["s3cr3t-value"]).filter(record)
    assert record.getMessage() == "token ******** refused"
    assert "s3cr3t-value" not in (record.exc_text or "")
