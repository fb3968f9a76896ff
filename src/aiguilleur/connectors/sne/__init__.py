"""The SNE service (seed 000): the six operations of ``DemandeLogementImplService``, SOAP 1.2 + MTOM
over mutual TLS (research/sne.md).

``soap`` builds requests to the byte and reads answers, ``tls`` the client context, ``client`` the
typed operations, ``results`` the business outcomes as values, ``errors`` the SneError tree,
``validation`` the checks before sending, ``service`` the connector the hub configures.
"""

from aiguilleur.connectors.sne.config import SneConfig
from aiguilleur.connectors.sne.service import SneService

__all__ = ["SneConfig", "SneService"]
