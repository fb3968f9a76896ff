"""Fake HubEE (DINUM's Hub d'Échange de l'État): the peer of the ``hubee`` channel.

An in-memory platform with the OAuth2 token endpoint and the Folder API 1.2.7 (subscriber and sender
sides), loaded with DINUM's sample télédossiers, with fault switches; usable in process through
``httpx.MockTransport(world)`` and over a real socket (``HubeeServer``, ``aiguilleur fake hubee``).
Written from the official OpenAPI and research/hubee.md, it imports nothing from the hub's
connectors, store or engine.

    hubee = FakeHubee(now=clock)
    sub = hubee.add_subscription("EtatCivil")        # SI credentials for Nice (SIRET 21060088800015)
    case = hubee.seed_sample("ETATCIVIL")            # a télédossier + its notification
    hubee.fail_next("/teledossiers/v1/notifications", 503)
"""

from aiguilleur.fakes.hubee.faults import HubeeFaults
from aiguilleur.fakes.hubee.model import Applicant, Case, Event, OrgId, Subscription
from aiguilleur.fakes.hubee.samples import SAMPLE_DEMARCHES, find_samples_dir
from aiguilleur.fakes.hubee.server import HubeeAsgi, HubeeServer, demo_world, serve_forever
from aiguilleur.fakes.hubee.world import DEFAULT_OSL, DEFAULT_SUBSCRIBER, FakeHubee, SeedFile, SeenRequest

__all__ = [
    "DEFAULT_OSL",
    "DEFAULT_SUBSCRIBER",
    "SAMPLE_DEMARCHES",
    "Applicant",
    "Case",
    "Event",
    "FakeHubee",
    "HubeeAsgi",
    "HubeeFaults",
    "HubeeServer",
    "OrgId",
    "SeedFile",
    "SeenRequest",
    "Subscription",
    "demo_world",
    "find_samples_dir",
    "serve_forever",
]
