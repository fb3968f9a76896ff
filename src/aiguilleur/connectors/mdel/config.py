"""MdelConfig: the ``[connectors.mdel.<name>]`` section (DESIGN.md "Configuration", seed 002 §II).

The seven directories of the seed: input (1), work (2), output (3), error (4), done (5), logs (6) and
the optional external attachments directory (7). Relative paths are taken from the configuration
file's folder (``HubContext.resolve``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aiguilleur.connectors.base import ConnectorSettings
from aiguilleur.durations import Duration


class SftpEndpoint(BaseModel):
    """An SFTP server of the portal: key authentication and a pinned host key, never a password."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(
        description="sftp://utilisateur@hôte:22/chemin (ou /~/chemin, depuis le dossier de connexion)"
    )
    key_file: str = Field(description="clé privée SSH sans phrase de passe (fichier)")
    known_hosts: str = Field(description="clé publique attendue du serveur (fichier known_hosts)")
    timeout_s: Duration = Field(
        30.0, gt=0, le=600, description="délai maximal de connexion et d'attente d'une réponse du serveur"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "sftp" or not parts.hostname or not parts.username:
            raise ValueError("adresse attendue : « sftp://utilisateur@hôte:22/chemin »")
        if parts.password is not None:
            raise ValueError("pas de mot de passe dans l'adresse : l'authentification se fait par clé")
        try:
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError as exc:
            raise ValueError(f"port invalide dans « {value} »") from exc
        return value


class MdelConfig(ConnectorSettings):
    """Settings of one MDEL channel (a portal account feeding one set of directories)."""

    input_dir: str = Field("var/mdel/in", description="(1) demandes déposées par le portail")
    work_dir: str = Field("var/mdel/work", description="(2) extraction temporaire")
    output_dir: str = Field("var/mdel/out", description="(3) zips de retour pour le portail")
    error_dir: str = Field("var/mdel/error", description="(4) originaux refusés et leur .log")
    done_dir: str = Field("var/mdel/done", description="(5) originaux importés")
    log_dir: str = Field("var/mdel/logs", description="(6) un journal par synchronisation")
    attachments_dir: str | None = Field(None, description="(7) stockage externe des pièces jointes")
    min_age: Duration = Field(10.0, ge=0, description="âge et stabilité minimaux d'un fichier avant lecture")
    marker_suffix: str | None = Field(
        None, description="suffixe du fichier témoin qui signale un dépôt complet, par exemple « .ok »"
    )
    max_members: int = Field(1000, ge=1, le=100_000, description="nombre maximal de fichiers par zip")
    max_total_bytes: int = Field(
        2 * 1024**3, ge=1024, description="taille décompressée maximale d'un zip, en octets"
    )
    sftp_pull: SftpEndpoint | None = Field(None, description="récupération des demandes par SFTP")
    sftp_push: SftpEndpoint | None = Field(None, description="dépôt des retours par SFTP")

    @field_validator("marker_suffix")
    @classmethod
    def _marker(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith(".") or "/" in value or len(value) < 2):
            raise ValueError("suffixe attendu sous la forme « .ok » ou « .done »")
        return value
