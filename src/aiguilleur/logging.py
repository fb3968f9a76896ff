"""Logging setup, and the redaction of secrets and personal data from logs and journals.

Journals and logs name dossiers by their reference, never by the citizen: ``redact`` masks values
under keys that hold personal data (names, addresses, birth dates, contact details, NIR, IBAN) and,
in free text, e-mail addresses, phone numbers, NIR and IBAN. ``SecretFilter`` removes the values read
from the environment (``${VAR}`` in the configuration) from every log record.
"""

from __future__ import annotations

import logging
import re
import sys
import unicodedata
from collections.abc import Iterable
from typing import Any

MASK = "[masqué]"

_PERSONAL_KEY = re.compile(
    r"(^|_)(nom|noms|prenom|prenoms|nomusage|nomnaissance|nomdenaissance|nomdusage|firstname|lastname|"
    r"givenname|familyname|surname|fullname|email|courriel|mail|telephone|tel|phone|mobile|portable|fax|"
    r"adresse|address|voie|libellevoie|numerovoie|complementadresse|lieudit|street|datenaissance|"
    r"birthdate|dateofbirth|lieunaissance|birthplace|nir|numerosecu|securitesociale|iban|bic|"
    r"motdepasse|password|passwd|secret|token|clientsecret)($|_)"
)
_TEXT_PATTERNS = [
    re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),  # e-mail
    re.compile(r"(?<!\d)(?:\+33\s?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\d)"),  # French phone number
    re.compile(
        r"(?<!\d)[12]\s?\d{2}\s?(?:0[1-9]|1[0-2]|[2-9]\d)\s?(?:\d{2}|2[AB])\s?\d{3}\s?\d{3}(?:\s?\d{2})?(?!\d)"
    ),
    re.compile(r"\bFR\d{2}(?:\s?[0-9A-Z]{4}){5}\s?[0-9A-Z]{3}\b"),  # IBAN
]


def _normal_key(key: str) -> str:
    folded = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode().lower()
    folded = re.sub(r"([a-z])([A-Z])", r"\1_\2", folded)
    return re.sub(r"[^a-z0-9]+", "", folded)


def is_personal_key(key: str) -> bool:
    """True for a key whose value is personal data (``nomNaissance``, ``email``, ``adresse``…)."""
    camel = re.sub(r"([a-z])([A-Z])", r"\1_\2", key)
    folded = unicodedata.normalize("NFKD", camel).encode("ascii", "ignore").decode().lower()
    parts = re.sub(r"[^a-z0-9]+", "_", folded).strip("_")
    return bool(_PERSONAL_KEY.search(parts)) or bool(_PERSONAL_KEY.search(_normal_key(key)))


def redact_text(text: str) -> str:
    """Mask e-mail addresses, phone numbers, NIR and IBAN in free text."""
    for pattern in _TEXT_PATTERNS:
        text = pattern.sub(MASK, text)
    return text


def redact(value: Any) -> Any:
    """A copy of ``value`` (JSON-like) with personal data masked."""
    if isinstance(value, dict):
        return {
            k: (MASK if is_personal_key(str(k)) and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


class SecretFilter(logging.Filter):
    """Replaces known secret values, and personal data patterns, in every record's final message."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for secret in self.secrets:
            message = message.replace(secret, "********")
        record.msg, record.args = redact_text(message), None
        if record.exc_info and record.exc_text is None and self.secrets:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            for secret in self.secrets:
                record.exc_text = record.exc_text.replace(secret, "********")
        return True


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Log to stderr with the redaction filter on the handler, so that every logger is covered."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_aiguilleur", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretFilter(secrets))
    handler._aiguilleur = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter on every start
