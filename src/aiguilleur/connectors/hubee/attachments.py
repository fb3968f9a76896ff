"""The télédossier's files: streamed into the blob store with size and digest checked, and the business
file read into JSON-able data (research §11, §12: up to 1 GB, checked by ``digest``).

A copy that does not match what HubEE announced is downloaded again (`download_attempts`), then the
télédossier is given up as an `IntegrationFailure` (reported to the sender as SI_INTG_ERROR).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from aiguilleur.connectors.base import HubContext
from aiguilleur.connectors.hubee import mapping, wire
from aiguilleur.connectors.hubee.client import Download, HubeeClient
from aiguilleur.connectors.hubee.config import HubeeConfig
from aiguilleur.connectors.hubee.errors import HubeeNotFound
from aiguilleur.errors import RejectedItemError
from aiguilleur.store.blobs import BlobRef
from aiguilleur.transport.xml import parse_xml, xml_to_dict

logger = logging.getLogger(__name__)


class IntegrationFailure(RejectedItemError):
    """The télédossier (or a deposit) cannot be integrated: reported to the sender, not retried."""

    def __init__(self, reason: str, dossier_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.dossier_id = dossier_id  # the dossier concerned, when it exists already


class Attachments:
    """Downloads of one démarche's télédossiers; safe from several threads."""

    def __init__(self, name: str, config: HubeeConfig, context: HubContext, client: HubeeClient) -> None:
        self.name = name
        self.config = config
        self.context = context
        self.client = client

    def download_all(
        self, case_id: str, attachments: Sequence[wire.Attachment], *, event_id: str | None = None
    ) -> list[tuple[wire.Attachment, BlobRef]]:
        """Every attachment into the blob store, before anything else happens to the case."""
        files = []
        for att in attachments:
            if att.status and att.status != wire.ATTACHMENT_RECEIVED:
                raise IntegrationFailure(
                    f"pièce jointe « {att.file_name} » indisponible sur HubEE (statut {att.status})"
                )
            if att.size > self.config.max_attachment_bytes:
                raise IntegrationFailure(
                    f"pièce jointe « {att.file_name} » trop volumineuse ({att.size} octets, "
                    f"limite {self.config.max_attachment_bytes})"
                )
            files.append((att, self._fetch(case_id, att, event_id)))
        return files

    def _fetch(self, case_id: str, att: wire.Attachment, event_id: str | None) -> BlobRef:
        """One attachment, streamed into the blob store; a corrupted copy is downloaded again."""

        def sink(download: Download) -> BlobRef:
            return self.context.blobs.put_stream(
                download.chunks,
                expected_sha256=download.sha256,
                expected_size=att.size,
                max_bytes=self.config.max_attachment_bytes,
            )

        attempts = self.config.download_attempts
        last: RejectedItemError | None = None
        for attempt in range(1, attempts + 1):
            try:
                if event_id is None:
                    return self.client.download_case_attachment(case_id, att.id, sink)
                return self.client.download_event_attachment(case_id, event_id, att.id, sink)
            except HubeeNotFound as exc:
                raise IntegrationFailure(
                    f"pièce jointe « {att.file_name} » introuvable sur HubEE (purgée ?)"
                ) from exc
            except RejectedItemError as exc:
                last = exc
                logger.warning(
                    "hubee %s: attachment %s of case %s corrupted (try %d of %d): %s",
                    self.name, att.id, case_id, attempt, attempts, exc,
                )  # fmt: skip
        raise IntegrationFailure(
            f"pièce jointe « {att.file_name} » reçue corrompue {attempts} fois de suite ({last})"
        )

    def business(
        self, attachments: Sequence[wire.Attachment], files: Sequence[tuple[wire.Attachment, BlobRef]]
    ) -> tuple[dict[str, Any] | None, wire.Attachment | None]:
        """The business file parsed to JSON-able data (XML hardened, JSON as is)."""
        chosen = mapping.business_attachment(attachments, self.config.business_types)
        if chosen is None:
            return None, None
        blob = next(b for a, b in files if a.id == chosen.id)
        path = self.context.blobs.path(blob.sha256)
        limit = self.config.max_xml_bytes
        if mapping.is_json(chosen) and not mapping.is_xml(chosen):
            if blob.size_bytes > limit:
                raise IntegrationFailure(f"fichier de données « {chosen.file_name} » trop volumineux")
            try:
                value = json.loads(path.read_bytes())
            except ValueError as exc:
                raise IntegrationFailure(
                    f"fichier de données « {chosen.file_name} » : JSON invalide"
                ) from exc
            return (value if isinstance(value, dict) else {"value": value}), chosen
        try:
            root = parse_xml(path, max_bytes=limit, source=chosen.file_name)
        except RejectedItemError as exc:
            raise IntegrationFailure(f"fichier de données illisible : {exc}") from exc
        return xml_to_dict(root), chosen
