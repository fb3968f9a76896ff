"""HubeeConfig: the ``[connectors.hubee.<name>]`` section (DESIGN.md "Configuration", seed 001).

One connector follows one démarche (``process_code``) with the credential pair HubEE gives for that
démarche and organisation (research/hubee.md §2); an organisation with several démarches has several
connectors. The seed's settings keep their meaning: ``notifications_batch`` is its
``nombreDeNotifications`` (25), ``retries`` its ``NombreRetry`` (5), ``status_minimal`` and
``status_maximal`` its ``statusMinimal`` and ``statusMaximal``, ``deposit_dir`` its
``dossierDeTelechargement``.
"""

from __future__ import annotations

import unicodedata
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from aiguilleur import __version__
from aiguilleur.connectors.base import ConnectorSettings
from aiguilleur.durations import Duration

MinimalStatus = Literal["SENT", "SI_RECEIVED", "IN_PROGRESS"]
MaximalStatus = Literal["DONE", "REFUSED"]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"adresse http(s) attendue, par exemple https://api.hubee.numerique.gouv.fr : {value}"
        )
    return value.rstrip("/")


def header_value(text: str) -> str:
    """Header values are ASCII: accents dropped (« ÉVRY » becomes « EVRY »), the rest kept."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in folded if c.isprintable())


class HubeeConfig(ConnectorSettings):
    """Settings of one HubEE channel: one démarche, its credential pair, where its files go."""

    api_url: str = Field(description="racine de l'API, par exemple https://api.hubee.numerique.gouv.fr")
    token_url: str = Field(
        description="point d'obtention des jetons, par exemple https://auth.hubee.numerique.gouv.fr/oauth2/token"
    )
    process_code: str = Field(
        min_length=1, max_length=30, description="démarche suivie (processCode), par exemple EtatCivil"
    )
    client_id: str = Field(min_length=1, description="identifiant du couple de la démarche (portail HubEE)")
    client_secret: SecretStr = Field(description="secret du couple de la démarche")
    scope: str = Field("SI", min_length=1, description="portée demandée au serveur de jetons")
    editor_name: str = Field(
        min_length=1, max_length=50, description="en-tête editorName : nom de l'organisation (COMMUNE X)"
    )
    application_name: str = Field(
        "aiguilleur", min_length=1, max_length=50, description="en-tête applicationName"
    )
    software_version: str = Field(
        __version__, min_length=1, max_length=50, description="en-tête softwareVersion"
    )
    author: str | None = Field(
        None, max_length=255, description="auteur des événements envoyés (défaut : editor_name)"
    )
    notifications_batch: int = Field(
        25, ge=1, le=100, description="notifications lues par appel (25 : ne pas changer sans raison)"
    )
    status_minimal: MinimalStatus | None = Field(
        "SI_RECEIVED", description="statut posé dès le télédossier reçu et ses pièces téléchargées"
    )
    status_maximal: MaximalStatus | None = Field(
        None, description="mode fichiers seuls : statut final posé aussitôt après le statut minimal"
    )
    retries: int = Field(5, ge=1, le=20, description="essais d'une requête en cas d'erreur passagère")
    backoff_s: Duration = Field(1.0, ge=0, le=60, description="attente avant le 2e essai, doublée ensuite")
    backoff_max_s: Duration = Field(60.0, ge=0, le=3600, description="attente maximale entre deux essais")
    timeout_s: Duration = Field(60.0, gt=0, le=3600, description="délai maximal d'attente d'une réponse")
    connect_timeout_s: Duration = Field(10.0, gt=0, le=600, description="délai maximal de connexion")
    workers: int = Field(4, ge=1, le=32, description="télédossiers traités en parallèle")
    download_attempts: int = Field(
        3,
        ge=1,
        le=10,
        description="téléchargements d'une pièce dont l'empreinte ou la taille ne concorde pas",
    )
    max_attachment_bytes: int = Field(
        2 * 1024**3, ge=1024, description="taille maximale d'une pièce jointe, en octets"
    )
    max_xml_bytes: int = Field(
        50 * 1024**2, ge=1024, description="taille maximale du fichier XML de données métier, en octets"
    )
    business_types: tuple[str, ...] = Field(
        (), description="types de pièce qui portent les données métier (défaut : le XML de la démarche)"
    )
    deposit_dir: str | None = Field(
        None, description="dépôt <dossier>/<externalId>/<fichier> + metadata.json pour la GED ou un script"
    )
    files_only: bool = Field(
        False,
        description="seulement les fichiers dans deposit_dir, sans dossier dans aiguilleur (comme le seed)",
    )
    down_after: int = Field(
        3,
        ge=1,
        le=1000,
        description="synchronisations en échec d'affilée avant de déclarer le connecteur en panne",
    )
    ca_file: str | None = Field(None, description="autorités de certification à reconnaître (fichier PEM)")

    @field_validator("api_url", "token_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("editor_name", "application_name", "software_version")
    @classmethod
    def _header(cls, value: str) -> str:
        if not header_value(value).strip():
            raise ValueError("valeur d'en-tête HTTP : au moins une lettre ou un chiffre sans accent")
        return value

    @field_validator("business_types")
    @classmethod
    def _types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not t.strip() for t in value):
            raise ValueError("type de pièce vide")
        return value

    @model_validator(mode="after")
    def _modes(self) -> Self:
        if self.files_only and self.deposit_dir is None:
            raise ValueError("files_only demande deposit_dir (le dossier où déposer les fichiers)")
        if self.status_maximal is not None and not self.files_only:
            raise ValueError(
                "status_maximal ne sert qu'en mode fichiers seuls : "
                "ailleurs, les agents décident du statut final"
            )
        return self

    @property
    def event_author(self) -> str:
        return self.author or self.editor_name

    @property
    def partner_headers(self) -> dict[str, str]:
        """The three headers DINUM asks on every call, to trace who calls (research §3)."""
        return {
            "editorName": header_value(self.editor_name),
            "applicationName": header_value(self.application_name),
            "softwareVersion": header_value(self.software_version),
        }
