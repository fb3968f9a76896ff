"""Fake SNE (Système National d'Enregistrement des demandes de logement social): the peer of the ``sne``
service.

A register of demandes keyed by their 18-character numéro unique behind the SOAP 1.2 + XOP/MTOM service
``DemandeLogementImplService`` and its six operations, with strict and lenient wire checks, CXF-like
answers, business anomalies, probable duplicates, DALO and radiation timelines and fault switches; usable
in process (`FakeSne.handle`) and over HTTPS with client certificates (`SneServer`, ``aiguilleur fake
sne``). Written from research/sne.md, it imports nothing from the hub's connectors, store or engine.

    sne = FakeSne(now=clock)
    sne.add_guichet("G0000", departement="059")
    demande = sne.seed(demande_xml(nom="MARTIN", prenom="Claire"))
    sne.faults.soap_fault("Sender", "Accès refusé", operation="getDemandeLogement")
"""

from aiguilleur.fakes.sne.demande import Anomaly
from aiguilleur.fakes.sne.faults import SneFaults
from aiguilleur.fakes.sne.operations import Guichet, parse_xs_datetime
from aiguilleur.fakes.sne.outbound import Reply
from aiguilleur.fakes.sne.refusal import Mode, Refusal
from aiguilleur.fakes.sne.register import NUM_UNIQUE, DaloEvent, Radiation, Register, Registered
from aiguilleur.fakes.sne.samples import attestation_pdf, demande_xml
from aiguilleur.fakes.sne.server import SneServer, demo_world, serve_forever
from aiguilleur.fakes.sne.world import LENIENT_QUIRKS, FakeSne, SeenRequest, certificate_cn, wsdl_text

__all__ = [
    "LENIENT_QUIRKS",
    "NUM_UNIQUE",
    "Anomaly",
    "DaloEvent",
    "FakeSne",
    "Guichet",
    "Mode",
    "Radiation",
    "Refusal",
    "Register",
    "Registered",
    "Reply",
    "SeenRequest",
    "SneFaults",
    "SneServer",
    "attestation_pdf",
    "certificate_cn",
    "demande_xml",
    "demo_world",
    "parse_xs_datetime",
    "serve_forever",
    "wsdl_text",
]
