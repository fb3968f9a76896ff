"""What ``aiguilleur demo`` runs besides the hub: the fake peers feeding dossiers, and a demo agent.

Within a minute of the start a newcomer sees dossiers arrive from the (fake) service-public.fr portal
and the (fake) HubEE, change status, their return zips collected and checked by the portal, their
HubEE events acknowledged and the télédossiers closed by the sender.
"""

from __future__ import annotations

import logging
import random
import threading
from pathlib import Path

from aiguilleur.config import Config, ConnectorEntry, HubSettings, OrganisationConfig
from aiguilleur.connectors.hubee import HubeeConfig
from aiguilleur.connectors.mdel import MdelConfig
from aiguilleur.engine.hub import Hub
from aiguilleur.errors import AiguilleurError
from aiguilleur.fakes.hubee import FakeHubee, HubeeServer, demo_world
from aiguilleur.fakes.mdel_portal import MdelPortal
from aiguilleur.store.dossiers import DossierFilter

logger = logging.getLogger(__name__)

DEMO_ORGANISATIONS = [
    OrganisationConfig(id="nice", name="Ville de Nice", siret="21060088800015", insee="06088"),
    OrganisationConfig(id="cannes", name="Ville de Cannes", siret="21060029200012", insee="06029"),
]
MDEL = "msp-demo"
AGENT = "agent de démonstration"
HUBEE_DEMARCHES = {"hubee-etatcivil": "EtatCivil", "hubee-recensement": "recensementCitoyen"}
_hubee: HubeeServer | None = None


def fake_hubee() -> HubeeServer:
    """The demo's HubEE, started once per process: the DINUM samples when found, else synthetic ones."""
    global _hubee
    if _hubee is None:
        try:
            world = demo_world(samples=True)
        except FileNotFoundError:
            world = demo_world(samples=False)
            for _ in range(3):
                world.seed_one()
        _hubee = HubeeServer(world).start()
    return _hubee


def _hubee_connectors(server: HubeeServer) -> dict[str, ConnectorEntry]:
    subs = {s.process_codes: s for s in server.world.subscriptions.values() if s.role == "SI"}
    entries = {}
    for name, code in HUBEE_DEMARCHES.items():
        sub = subs[frozenset({code})]
        settings = HubeeConfig(
            every=10.0,
            api_url=server.base_url,
            token_url=server.token_url,
            process_code=code,
            client_id=sub.client_id,
            client_secret=sub.client_secret,
            editor_name="VILLE DE NICE (démonstration)",
        )
        entries[name] = ConnectorEntry("hubee", name, settings)
    return entries


def demo_config(data_dir: Path, listen: str) -> Config:
    """The embedded defaults: SQLite and folders under ``data_dir``, two communes, one MDEL channel."""
    mdel_dir = data_dir / "mdel"
    mdel = MdelConfig(
        every=10.0,
        min_age=1.0,
        input_dir=str(mdel_dir / "in"),
        work_dir=str(mdel_dir / "work"),
        output_dir=str(mdel_dir / "out"),
        error_dir=str(mdel_dir / "error"),
        done_dir=str(mdel_dir / "done"),
        log_dir=str(mdel_dir / "logs"),
    )
    return Config(
        hub=HubSettings(data_dir=data_dir, listen=listen),
        organisations=list(DEMO_ORGANISATIONS),
        connectors={MDEL: ConnectorEntry("mdel", MDEL, mdel), **_hubee_connectors(fake_hubee())},
        source="(démonstration)",
    )


class DemoActivity:
    """A background thread: the portal drops demands and collects returns; an agent moves dossiers on."""

    def __init__(self, hub: Hub, *, period_s: float = 8.0, seed: int | None = None) -> None:
        self.hub = hub
        self.period_s = period_s
        self.rng = random.Random(seed)  # noqa: S311 - demo choices, nothing secret
        self.portal = MdelPortal(seed=self.rng.randrange(1 << 30))
        settings = hub.config.connectors[MDEL].settings
        assert isinstance(settings, MdelConfig)
        self.input_dir = hub.config.resolve(settings.input_dir)
        self.output_dir = hub.config.resolve(settings.output_dir)
        self.hubee: FakeHubee = fake_hubee().world
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="demo-activity", daemon=True)

    def start(self) -> None:
        self.input_dir.mkdir(parents=True, exist_ok=True)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.portal.write_demands(self.input_dir, 6, insee=["06088", "06029"])
        self.portal.make_broken("unknown_insee", flow="RCO-LA", insee="06088", directory=self.input_dir)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=10)

    def _loop(self) -> None:
        while not self.stop_event.wait(self.period_s):
            try:
                self.step()
            except (AiguilleurError, OSError) as exc:  # the demo goes on; the hub logs the details
                logger.warning("démonstration : %s", exc)

    def step(self) -> None:
        """One beat: a new demand now and then, returns collected, one dossier moved on."""
        if self.rng.random() < 0.5:
            self.portal.write_demands(self.input_dir, 1, insee=self.rng.choice(["06088", "06029"]))
        for seen in self.portal.collect_returns(self.output_dir):
            logger.info("portail : retour %s reçu (statut %s)", seen.name, seen.etat)
        self._hubee_sender_acts()
        self._agent_moves_one()

    def _hubee_sender_acts(self) -> None:
        """The sender (DILA) on HubEE: a télédossier now and then, our events acknowledged, the
        télédossiers done or refused closed (the citizen is told)."""
        world = self.hubee
        if self.rng.random() < 0.3:
            world.seed_one()
        world.osl_acknowledge()
        for case in list(world.state.cases.values()):
            if case.status in ("DONE", "REFUSED"):
                world.osl_event(case.id, "STATUS_UPDATE", case_new_status="CLOSED", message="Usager informé")

    def _agent_moves_one(self) -> None:
        store = self.hub.store
        for code, target, comment in (
            (16, 19, "Votre demande a été traitée."),
            (14, 16, "Votre dossier est en cours de traitement."),
        ):
            page = store.dossiers.search(DossierFilter(status=code), None, limit=20)
            for summary in page.items:
                detail = store.dossiers.get(summary.id, None)
                if target in detail.allowed and detail.history[-1].is_transmitted:
                    store.statuses.set(summary.id, target, comment, AGENT, None)
                    return
