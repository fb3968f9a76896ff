"""The Python facade of the SNE client for scripts coming from libsne (seed 000).

    from aiguilleur import sne
    result = sne.echanger("demandeLogement", "certificats/public/fullchain.pem",
                          "certificats/prive/key.pem", num_unique="0123456789ABCDEFGH")
    result = sne.echanger("numUnique", cert, key, xml=xml_demande)
    result = sne.echanger("demandesRadieesDepuisLe", cert, key, date="2017-01-13T14:55:43.5+02:00",
                          motif_radiation="RADATT")

libsne's service names (the operation without ``get``, first letter lower-cased) and parameter names
(``xml``, ``num_unique``, ``date``) are kept; the sixth service, ``declarationNouveauDalo``, takes ``xml``.
`host` is ``name`` or ``name:port`` (default: the base école), or a full ``https://`` URL. Unlike libsne,
the result is a typed value (`results.DemandeResult`, `DoublonsResult`, `FileResult`) and failures raise
the `SneError` tree; the guichet defaults to the certificate's CN when it is shaped like one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiguilleur.connectors.sne import results
from aiguilleur.connectors.sne.client import SneClient
from aiguilleur.connectors.sne.config import ECOLE_URL, GUICHET, SneConfig
from aiguilleur.connectors.sne.errors import SneError
from aiguilleur.connectors.sne.tls import load_material
from aiguilleur.errors import ConfigError

SERVICE_PATH = "/services/DemandeLogementImplService/"
SERVICES = {
    "numUnique": "getNumUnique",
    "demandeLogement": "getDemandeLogement",
    "doublons": "getDoublons",
    "nouveauxDaloDepuisLe": "getNouveauxDaloDepuisLe",
    "demandesRadieesDepuisLe": "getDemandesRadieesDepuisLe",
    "declarationNouveauDalo": "getDeclarationNouveauDalo",
}


def service_url(host: str | None) -> str:
    """The endpoint for libsne's `host` argument (None: the base école)."""
    if host is None:
        return ECOLE_URL
    if host.startswith("https://"):
        return host
    return f"https://{host}{SERVICE_PATH}"


def operation_name(service: str) -> str:
    """``getX`` for libsne's ``x`` (the full name is accepted too); ConfigError for an unknown one."""
    if service in SERVICES:
        return SERVICES[service]
    if service in SERVICES.values():
        return service
    raise ConfigError([("service", f"service inconnu {service!r} (connus : {', '.join(SERVICES)})")])


def open_client(
    cert: str | None,
    key: str | None,
    host: str | None = None,
    *,
    pkcs12: str | None = None,
    password_env: str | None = None,
    ca_file: str | None = None,
    num_guichet: str | None = None,
    timeout_s: float = 60.0,
) -> SneClient:
    """A client from libsne-style arguments; the guichet from the certificate CN unless given."""
    values: dict[str, Any] = {
        "url": service_url(host),
        "num_guichet": num_guichet or "G0000",
        "cert_file": cert,
        "key_file": key,
        "pkcs12_file": pkcs12,
        "password_env": password_env,
        "ca_file": ca_file,
        "timeout_s": timeout_s,
    }
    try:
        config = SneConfig(**values)
    except ValueError as exc:
        raise ConfigError([("", str(exc))], source="sne") from exc
    material = load_material(config)
    if num_guichet is None:
        if material.common_name is None or not GUICHET.match(material.common_name):
            raise ConfigError(
                [("num_guichet", f"CN du certificat {material.common_name!r} : donner le numéro de guichet")]
            )
        config = config.model_copy(update={"num_guichet": material.common_name})
    return SneClient(config, material=material)


def _xml(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise ConfigError([("xml", "chaîne ou octets XML attendus")])


def _date(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError([("date", f"date {value!r} : AAAA-MM-JJTHH:MM:SS+HH:MM attendu")]) from exc


def call(client: SneClient, service: str, **params: Any) -> results.Result:
    """Run libsne's `service` with its parameters on `client`."""
    operation = operation_name(service)
    try:
        if operation == "getNumUnique":
            return client.get_num_unique(_xml(params["xml"]), complet=params.get("complet"))
        if operation == "getDemandeLogement":
            return client.get_demande_logement(str(params["num_unique"]), complet=params.get("complet"))
        if operation == "getDoublons":
            return client.get_doublons(_xml(params["xml"]))
        if operation == "getNouveauxDaloDepuisLe":
            return client.get_nouveaux_dalo_depuis_le(_date(params["date"]))
        if operation == "getDemandesRadieesDepuisLe":
            return client.get_demandes_radiees_depuis_le(
                _date(params["date"]),
                motif_radiation=params.get("motif_radiation"),
                statut_dalo=params.get("statut_dalo"),
                type_reservataire=params.get("type_reservataire"),
            )
        return client.get_declaration_nouveau_dalo(_xml(params["xml"]), nom_fichier=params.get("nom_fichier"))
    except KeyError as exc:
        raise ConfigError([(str(exc.args[0]), f"paramètre requis par {service}")]) from None


def echanger(service: str, cert: str, key: str, host: str | None = None, **params: Any) -> results.Result:
    """libsne's ``echanger``: one exchange with a fresh client (for many, use `open_client` once).

    Extra keyword arguments besides the service's own: ``ca_file``, ``num_guichet``, ``password_env``.
    Raises ConfigError for a bad argument, the SneError tree for the exchange itself.
    """
    options = {k: params.pop(k) for k in ("ca_file", "num_guichet", "password_env") if k in params}
    operation_name(service)
    with open_client(cert, key, host, **options) as client:
        return call(client, service, **params)


__all__ = ["SERVICES", "SneError", "call", "echanger", "open_client", "operation_name", "service_url"]
