"""Delivering the outbox: each due return handed to its channel, with back-off and dead letters.

A return is claimed before it is sent, so two workers never send the same one; a worker that dies
while sending leaves a claim that expires and the return is sent again (at least once). The outcome
of ``send_return`` decides what happens to the item:

- it returns: ``sent``, its status change becomes transmitted (and 15/19/20 close the dossier);
- ``TransientError`` (and any unexpected exception): ``pending`` again, retried after an exponential
  back-off, ``dead`` once the connector's ``max_attempts`` are spent;
- ``PermanentError``: ``dead`` at once, visible in the error queue with its last error;
- ``AuthError`` (credentials refused): not the item's fault, so the item is retried like a transient
  failure, the rest of the batch is left alone and the error is raised for the run to record.
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from aiguilleur.connectors.base import Capability, Channel, ConnectorSettings
from aiguilleur.errors import AiguilleurError, AuthError, PermanentError, TransientError

if TYPE_CHECKING:
    from aiguilleur.engine.hub import Hub
    from aiguilleur.store.outbox import OutboxItem

logger = logging.getLogger(__name__)

BASE_DELAY_S = 30.0
MAX_DELAY_S = 3600.0
JITTER = 0.10  # ±10 %, so that returns failed together are not retried together


def backoff_s(attempts: int, seed: int) -> float:
    """Seconds before the next try of a return that failed ``attempts + 1`` times.

    30 s × 2^attempts, capped at one hour, then spread by ±10 % with ``random.Random(seed)`` (the
    outbox item id): the bounds are ``[0.9, 1.1] × min(30 × 2^attempts, 3600)``.
    """
    base = min(BASE_DELAY_S * 2.0 ** min(attempts, 32), MAX_DELAY_S)
    spread = random.Random(seed).uniform(-JITTER, JITTER)  # noqa: S311 - jitter, not a secret
    return base * (1.0 + spread)


def takes_returns(connector: object) -> bool:
    """True for a channel that declares the ``status-return`` capability."""
    if not isinstance(connector, Channel):
        return False
    return Capability.STATUS_RETURN in connector.info.capabilities


def deliver_due(
    hub: Hub, name: str, *, limit: int = 100, stopping: threading.Event | None = None
) -> dict[str, int]:
    """Send the due returns of connector ``name``; returns counts: sent, retry, dead, skipped.

    ``skipped`` counts returns another worker claimed first. Stops between two returns when
    ``stopping`` is set. A connector that takes no returns has nothing to deliver. Raises
    ``NotFound`` for an unknown connector and ``AuthError`` when the peer refuses our credentials.
    """
    counts = {"sent": 0, "retry": 0, "dead": 0, "skipped": 0}
    connector = hub.connector(name)
    if not takes_returns(connector):
        return counts
    assert isinstance(connector, Channel)
    outbox = hub.store.outbox
    max_attempts = _settings(hub, name).max_attempts
    # Batches until nothing is due: a burst of thousands of receipts leaves in one run, and the return
    # that follows a delivered one (an automatic closure) goes in the same run. Each batch either makes
    # progress or only finds returns claimed by other workers, which ends the loop.
    while not (stopping is not None and stopping.is_set()):
        batch = outbox.due(name, limit=limit)
        before = counts["skipped"]
        claimed = False  # whether the item at hand was claimed with the previous one's mark_sent
        for index, item in enumerate(batch):
            if stopping is not None and stopping.is_set() and not claimed:  # a claimed one is sent
                break
            if not claimed and not outbox.claim(item.id):
                counts["skipped"] += 1
                continue
            claimed = False
            try:
                connector.send_return(item)
            except AuthError as exc:
                _retry_or_dead(hub, item, _describe(exc), max_attempts, counts)
                logger.error("connector %s: credentials refused while sending return %d", name, item.id)
                raise
            except PermanentError as exc:
                outbox.mark_failed(item.id, _describe(exc), retry_at=None)
                counts["dead"] += 1
                logger.warning("connector %s: return %d refused for good: %s", name, item.id, exc)
            except TransientError as exc:
                _retry_or_dead(hub, item, _describe(exc), max_attempts, counts)
                logger.info("connector %s: return %d failed, will retry: %s", name, item.id, exc)
            except Exception as exc:  # a bug or an untranslated library error: retry, loudly
                logger.exception("connector %s: unexpected error while sending return %d", name, item.id)
                _retry_or_dead(hub, item, _describe(exc), max_attempts, counts)
            else:
                # the next return is claimed in the same transaction, unless the hub is stopping
                following = batch[index + 1] if index + 1 < len(batch) else None
                if following is None or (stopping is not None and stopping.is_set()):
                    outbox.mark_sent(item.id)
                else:
                    claimed = outbox.mark_sent(item.id, claim_next=following.id)
                counts["sent"] += 1
                logger.info("connector %s: return %d (status %d) sent", name, item.id, item.code)
        if not batch or counts["skipped"] - before == len(batch):
            break
    return counts


def _retry_or_dead(hub: Hub, item: OutboxItem, error: str, max_attempts: int, counts: dict[str, int]) -> None:
    if item.attempts + 1 >= max_attempts:
        hub.store.outbox.mark_failed(item.id, error, retry_at=None)
        counts["dead"] += 1
        return
    retry_at = hub.store.now() + timedelta(seconds=backoff_s(item.attempts, item.id))
    hub.store.outbox.mark_failed(item.id, error, retry_at=retry_at)
    counts["retry"] += 1


def _settings(hub: Hub, name: str) -> ConnectorSettings:
    entry = hub.config.connectors.get(name)
    return entry.settings if entry is not None else ConnectorSettings()


def _describe(exc: Exception) -> str:
    """Our own errors carry a readable message; anything else is named by its type too."""
    if isinstance(exc, AiguilleurError) and str(exc):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
