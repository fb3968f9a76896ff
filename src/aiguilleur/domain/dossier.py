"""What a channel hands to the store: a received dossier and its documents (pure values, no I/O)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ExternalRef:
    """Identity of a dossier at its peer: unique per connector."""

    channel: str  # connector kind: "mdel", "hubee"…
    connector: str  # configured name: "msp-nice"
    external_id: str  # NumeroTeledemarche, HubEE case id…

    def __str__(self) -> str:
        return f"{self.connector}:{self.external_id}"


@dataclass(frozen=True, slots=True)
class DocumentIn:
    """A file of a received dossier, already written to the blob store."""

    name: str
    sha256: str
    size_bytes: int
    media_type: str = "application/octet-stream"
    role: str = ""  # type code from the peer: "ji", "ActeEtatCivil-XML", "recapPDF"…


@dataclass(frozen=True, slots=True)
class DossierIn:
    """A complete dossier as received: a later receipt of the same ref is a new version."""

    ref: ExternalRef
    organisation_id: str
    procedure: str
    data: dict[str, Any]
    documents: tuple[DocumentIn, ...] = ()
    origin: str = ""  # what carried it: a zip name, a notification id
    message_id: str = ""  # the peer's id of this transmission, to refuse replays
    received_at: datetime | None = None
    title: str = ""  # a short human label: applicant's name, acte type
    extra: dict[str, Any] = field(default_factory=dict)


def search_key(*parts: str) -> str:
    """Accent- and case-insensitive text to search dossiers by number or name, the same on every backend."""
    text = " ".join(p for p in parts if p)
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(folded.casefold().split())[:600]
