"""The HubEE channel: télédossiers of the State's online services in, statuses out as events (seed 001).

``client`` speaks the Folder API 1.2.7 (OAuth2 in ``auth``, payloads in ``wire``, errors in ``errors``),
``mapping`` turns payloads into dossiers and statuses into events, ``intake`` handles each notification
of the queue with ``attachments`` (downloads, business file), ``deposit`` writes the folder deposit,
``connector`` is the channel the engine runs.
"""

from aiguilleur.connectors.hubee.config import HubeeConfig
from aiguilleur.connectors.hubee.connector import HubeeChannel

__all__ = ["HubeeChannel", "HubeeConfig"]
