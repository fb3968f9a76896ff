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
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from aiguilleur.connectors.base import Capability, Channel, ConnectorSettings, GroupChannel
from aiguilleur.errors import AiguilleurError, AuthError, PermanentError, TransientError

if TYPE_CHECKING:
    from aiguilleur.engine.hub import Hub
    from aiguilleur.store.outbox import OutboxItem

logger = logging.getLogger(__name__)

BASE_DELAY_S = 30.0
MAX_DELAY_S = 3600.0
GROUP = 32  # returns a GroupChannel delivers at once at most
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

    A channel that delivers several returns at once (``GroupChannel``) gets them by groups: claimed in
    one transaction, delivered by one ``send_returns``, those delivered recorded in one transaction.
    """
    counts = {"sent": 0, "retry": 0, "dead": 0, "skipped": 0}
    connector = hub.connector(name)
    if not takes_returns(connector):
        return counts
    assert isinstance(connector, Channel)
    send = _send_by_groups if isinstance(connector, GroupChannel) else _send_in_turn
    delivery = _Delivery(hub, connector, name, _settings(hub, name).max_attempts, stopping, counts)
    # Batches until nothing is due: a burst of thousands of receipts leaves in one run, and the return
    # that follows a delivered one (an automatic closure) goes in the same run. Each batch either makes
    # progress or only finds returns claimed by other workers, which ends the loop.
    while not delivery.stopped():
        batch = hub.store.outbox.due(name, limit=limit)
        before = counts["skipped"]
        send(delivery, batch)
        if not batch or counts["skipped"] - before == len(batch):
            break
    return counts


@dataclass
class _Delivery:
    hub: Hub
    connector: Channel
    name: str
    max_attempts: int
    stopping: threading.Event | None
    counts: dict[str, int]

    def stopped(self) -> bool:
        return self.stopping is not None and self.stopping.is_set()

    def sent(self, item: OutboxItem, claim_next: OutboxItem | None = None) -> bool:
        """Record a return sent; returns whether `claim_next` was claimed in the same transaction."""
        outbox = self.hub.store.outbox
        claimed = False
        if claim_next is None or self.stopped():
            outbox.mark_sent(item.id)
        else:
            claimed = outbox.mark_sent(item.id, claim_next=claim_next.id)
        self.counts["sent"] += 1
        logger.info("connector %s: return %d (status %d) sent", self.name, item.id, item.code)
        return claimed

    def sent_many(self, items: list[OutboxItem]) -> None:
        """Record returns sent together, in one transaction."""
        if not items:
            return
        self.hub.store.outbox.mark_sent_many([item.id for item in items])
        self.counts["sent"] += len(items)
        for item in items:
            logger.info("connector %s: return %d (status %d) sent", self.name, item.id, item.code)

    def failed(self, item: OutboxItem, exc: Exception) -> None:
        """Record a failed return (the caller raises an AuthError once it is recorded)."""
        name, counts = self.name, self.counts
        if isinstance(exc, AuthError):
            _retry_or_dead(self.hub, item, _describe(exc), self.max_attempts, counts)
            logger.error("connector %s: credentials refused while sending return %d", name, item.id)
        elif isinstance(exc, PermanentError):
            self.hub.store.outbox.mark_failed(item.id, _describe(exc), retry_at=None)
            counts["dead"] += 1
            logger.warning("connector %s: return %d refused for good: %s", name, item.id, exc)
        elif isinstance(exc, TransientError):
            _retry_or_dead(self.hub, item, _describe(exc), self.max_attempts, counts)
            logger.info("connector %s: return %d failed, will retry: %s", name, item.id, exc)
        else:  # a bug or an untranslated library error: retry, loudly
            logger.error(
                "connector %s: unexpected error while sending return %d", name, item.id, exc_info=exc
            )
            _retry_or_dead(self.hub, item, _describe(exc), self.max_attempts, counts)


def _send_in_turn(delivery: _Delivery, batch: list[OutboxItem]) -> None:
    outbox = delivery.hub.store.outbox
    claimed = False  # whether the item at hand was claimed with the previous one's mark_sent
    for index, item in enumerate(batch):
        if delivery.stopped() and not claimed:  # a claimed one is sent
            break
        if not claimed and not outbox.claim(item.id):
            delivery.counts["skipped"] += 1
            continue
        claimed = False
        try:
            delivery.connector.send_return(item)
        except Exception as exc:
            delivery.failed(item, exc)
            if isinstance(exc, AuthError):
                raise
        else:  # the next return is claimed in the same transaction
            claimed = delivery.sent(item, claim_next=batch[index + 1] if index + 1 < len(batch) else None)


def _send_by_groups(delivery: _Delivery, batch: list[OutboxItem]) -> None:
    """Claim up to GROUP returns at once, deliver them together, record them together.

    After an AuthError no other group is claimed: that group's outcomes are recorded, then it is raised.
    """
    connector = delivery.connector
    assert isinstance(connector, GroupChannel)
    outbox = delivery.hub.store.outbox
    for start in range(0, len(batch), GROUP):
        if delivery.stopped():
            break
        group = batch[start : start + GROUP]
        claimed_ids = set(outbox.claim_many([item.id for item in group]))
        delivery.counts["skipped"] += len(group) - len(claimed_ids)
        claimed = [item for item in group if item.id in claimed_ids]
        if not claimed:
            continue
        try:
            outcomes = connector.send_returns(claimed)
        except Exception as exc:  # noqa: BLE001 - the channel failed as a whole: each return did
            outcomes = [exc] * len(claimed)
        delivery.sent_many([item for item, outcome in zip(claimed, outcomes, strict=True) if outcome is None])
        refused: AuthError | None = None
        for item, outcome in zip(claimed, outcomes, strict=True):
            if outcome is not None:
                delivery.failed(item, outcome)
                refused = refused or (outcome if isinstance(outcome, AuthError) else None)
        if refused is not None:
            raise refused


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
