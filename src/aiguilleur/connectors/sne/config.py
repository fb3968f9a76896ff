"""SneConfig: the ``[connectors.sne.<name>]`` section (research/sne.md §5.2).

TLS material is a PEM certificate chain with its private key (optionally encrypted), or a PKCS#12
bundle; passwords come from the environment variable the configuration names, never from the file.
There is no default production host (research §5.6): `ECOLE_URL` is the test base ("base école").
"""

from __future__ import annotations

import os
import re
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from aiguilleur.connectors.base import ConnectorSettings
from aiguilleur.durations import Duration

ECOLE_URL = (
    "https://nuu-ws.ecole.application.developpement-durable.gouv.fr/services/DemandeLogementImplService/"
)
GUICHET = re.compile(r"^[A-Z0-9]{1,5}$")


class SneConfig(ConnectorSettings):
    """Settings of one SNE service connector: where, which certificate, how long to wait."""

    url: str = Field(
        ECOLE_URL, description="adresse du service DemandeLogementImplService (défaut : base école)"
    )
    num_guichet: str = Field(description="numéro de guichet enregistreur, par exemple G0000")
    cert_file: str | None = Field(None, description="chaîne de certificats client (PEM), avec key_file")
    key_file: str | None = Field(None, description="clé privée du certificat client (PEM, chiffrée ou non)")
    pkcs12_file: str | None = Field(None, description="certificat client et sa clé en PKCS#12 (.p12, .pfx)")
    password_env: str | None = Field(
        None, description="variable d'environnement qui porte le mot de passe de la clé ou du PKCS#12"
    )
    password: SecretStr | None = Field(None, description="mot de passe (préférer password_env)")
    ca_file: str | None = Field(
        None, description="autorités reconnues pour le serveur (défaut : celles du système)"
    )
    timeout_s: Duration = Field(60.0, gt=0, le=3600, description="délai maximal d'attente d'une réponse")
    connect_timeout_s: Duration = Field(10.0, gt=0, le=600, description="délai maximal de connexion TLS")
    retries: int = Field(3, ge=1, le=10, description="essais d'une lecture en cas d'erreur passagère")
    backoff_s: Duration = Field(1.0, ge=0, le=60, description="attente avant le 2e essai, doublée ensuite")
    xsd_dir: str | None = Field(
        None,
        description="dossier des XSD officiels (InterfaceNuu_v0201.xsd…) : validation stricte avant envoi",
    )
    validate_before_sending: bool = Field(True, description="contrôles structurels du fichier avant envoi")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"adresse https attendue (TLS mutuel) : {value}")
        return value

    @field_validator("num_guichet")
    @classmethod
    def _guichet(cls, value: str) -> str:
        if not GUICHET.match(value):
            raise ValueError(f"numéro de guichet : 1 à 5 lettres majuscules ou chiffres, pas {value!r}")
        return value

    @model_validator(mode="after")
    def _material(self) -> Self:
        if self.pkcs12_file is not None:
            if self.cert_file is not None or self.key_file is not None:
                raise ValueError("pkcs12_file ou cert_file + key_file, pas les deux")
        elif self.cert_file is None:
            raise ValueError("certificat client requis : cert_file (+ key_file) ou pkcs12_file")
        return self

    def secret(self) -> str | None:
        """The key or PKCS#12 password: from `password_env` when set, else `password`."""
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if value is None:
                from aiguilleur.errors import ConfigError

                raise ConfigError([("password_env", f"variable d'environnement {self.password_env} absente")])
            return value
        return self.password.get_secret_value() if self.password is not None else None
