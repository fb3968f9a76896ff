"""SneService: the SNE as a configured connector (a *service*: request/response, no dossier).

The hub builds it from ``[connectors.sne.<name>]``; `check()` loads the TLS material and says whether
the client certificate is usable (no call to the SNE: every call there is logged by the State),
`run()` does nothing (nothing to poll), `client()` gives a `SneClient` for the API, CLI and scripts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from cryptography import x509

from aiguilleur.connectors.base import Capability, ConnectorInfo, Health, HubContext, RunContext
from aiguilleur.connectors.sne.client import SneClient
from aiguilleur.connectors.sne.config import SneConfig
from aiguilleur.connectors.sne.tls import TlsMaterial, load_material
from aiguilleur.errors import ConfigError


class SneService:
    """One SNE connector: its settings, its TLS material (loaded once) and a shared client."""

    info: ClassVar[ConnectorInfo] = ConnectorInfo(
        kind="sne",
        title="Système national d'enregistrement (SNE)",
        config_model=SneConfig,
        capabilities=frozenset({Capability.SERVICE}),
    )

    def __init__(self, name: str, settings: SneConfig, context: HubContext | None = None) -> None:
        self.name = name
        self.settings = _resolved(settings, context)
        self.context = context
        self._material: TlsMaterial | None = None
        self._client: SneClient | None = None

    def material(self) -> TlsMaterial:
        if self._material is None:
            self._material = load_material(self.settings)
        return self._material

    def client(self) -> SneClient:
        """The connector's client (connections kept between calls); closed by `close()`."""
        if self._client is None:
            now = self.context.now if self.context is not None else (lambda: datetime.now(UTC))
            self._client = SneClient(self.settings, source=self.name, material=self.material(), now=now)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def check(self) -> Health:
        """Whether the certificate and key load, and until when the certificate is valid."""
        try:
            material = self.material()
        except ConfigError as exc:
            return Health(is_ok=False, detail="; ".join(f"{p}: {m}" for p, m in exc.problems))
        cert = x509.load_pem_x509_certificate(material.certificate_pem)
        now = self.context.now() if self.context is not None else datetime.now(UTC)
        expires = cert.not_valid_after_utc
        if expires <= now:
            return Health(is_ok=False, detail=f"certificat client expiré le {expires:%Y-%m-%d}")
        return Health(
            is_ok=True, detail=f"certificat {material.common_name} valable jusqu'au {expires:%Y-%m-%d}"
        )

    def run(self, ctx: RunContext) -> None:
        """Nothing to synchronise: the SNE is called on demand."""


def _resolved(settings: SneConfig, context: HubContext | None) -> SneConfig:
    """Relative paths taken from the configuration file's folder."""
    if context is None:
        return settings
    changes = {
        key: str(context.resolve(value))
        for key in ("cert_file", "key_file", "pkcs12_file", "ca_file", "xsd_dir")
        if (value := getattr(settings, key)) is not None
    }
    return settings.model_copy(update=changes)
