"""The canonical status workflow of a dossier (seed 002, section II).

Codes: 14 imported, 15 inadmissible, 16 in progress, 17 waiting for information, 19 done, 20 refused,
100 closed. Which changes are allowed depends on the current code *and* on its transmitted indicator:
whether the return carrying it has reached the channel. A change may be undone only while it is
untransmitted; 15, 19 and 20 are closed (100) automatically once transmitted, and such automatic
closures cannot be undone. Everything here is pure: the store persists what ``Workflow`` decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum

from aiguilleur.errors import InvalidTransition


class Status(IntEnum):
    """The seed's codes, canonical across channels."""

    IMPORTED = 14
    INADMISSIBLE = 15
    IN_PROGRESS = 16
    WAITING = 17
    DONE = 19
    REFUSED = 20
    CLOSED = 100

    @property
    def label(self) -> str:
        """The French label shown to agents."""
        return LABELS[self]


LABELS: dict[Status, str] = {
    Status.IMPORTED: "Dossier importé",
    Status.INADMISSIBLE: "Dossier non recevable",
    Status.IN_PROGRESS: "Dossier en cours de traitement",
    Status.WAITING: "En attente d'informations complémentaires",
    Status.DONE: "Dossier traité",
    Status.REFUSED: "Dossier refusé",
    Status.CLOSED: "Dossier clos",
}

#: The comment of the first status, as MSP writes it in the first return (seed 002, IV.3).
IMPORTED_COMMENT = "Le dossier a été reçu et sera traité prochainement."
AUTO_CLOSE_COMMENT = "Le dossier a été clos automatiquement."

_S = Status
# (current code, is it transmitted?) -> codes an agent may choose next. Seed 002, section II; the
# seed's "cas 0" is untransmitted, its other case transmitted.
TRANSITIONS: dict[tuple[Status, bool], frozenset[Status]] = {
    (_S.IMPORTED, False): frozenset({_S.INADMISSIBLE, _S.IN_PROGRESS, _S.CLOSED}),
    (_S.IMPORTED, True): frozenset({_S.INADMISSIBLE, _S.IN_PROGRESS, _S.CLOSED}),
    (_S.INADMISSIBLE, False): frozenset({_S.IN_PROGRESS, _S.CLOSED}),
    (_S.INADMISSIBLE, True): frozenset(),  # closed automatically
    (_S.IN_PROGRESS, False): frozenset({_S.INADMISSIBLE, _S.WAITING, _S.DONE, _S.CLOSED}),
    (_S.IN_PROGRESS, True): frozenset({_S.WAITING, _S.DONE, _S.CLOSED}),
    (_S.WAITING, False): frozenset({_S.IN_PROGRESS, _S.CLOSED}),
    (_S.WAITING, True): frozenset({_S.DONE, _S.REFUSED, _S.CLOSED}),
    (_S.DONE, False): frozenset(),  # only undo
    (_S.DONE, True): frozenset(),  # closed automatically
    (_S.REFUSED, False): frozenset({_S.WAITING, _S.CLOSED}),
    (_S.REFUSED, True): frozenset(),  # closed automatically
    (_S.CLOSED, False): frozenset(),  # only undo, unless automatic
    (_S.CLOSED, True): frozenset(),  # final
}

#: Codes closed automatically once their return is transmitted.
AUTO_CLOSING: frozenset[Status] = frozenset({_S.INADMISSIBLE, _S.DONE, _S.REFUSED})


@dataclass(frozen=True, slots=True)
class Change:
    """One effective status change as the workflow sees it."""

    code: Status
    is_transmitted: bool = False
    is_automatic: bool = False


@dataclass(slots=True)
class Workflow:
    """The effective history of one dossier (undone changes excluded), oldest first.

    Methods check the rules and return the resulting change; they raise ``InvalidTransition``, with the
    codes that are allowed, when the rules refuse.
    """

    history: list[Change] = field(default_factory=list)

    @classmethod
    def start(cls) -> Workflow:
        """A new dossier: status 14, not yet transmitted."""
        return cls([Change(Status.IMPORTED)])

    @classmethod
    def of(cls, changes: Sequence[Change]) -> Workflow:
        """Rebuild the workflow from stored changes."""
        if not changes or changes[0].code is not Status.IMPORTED:
            raise ValueError("a dossier's history starts with status 14")
        return cls(list(changes))

    @property
    def current(self) -> Change:
        return self.history[-1]

    def allowed(self) -> frozenset[Status]:
        """Codes an agent may set now."""
        return TRANSITIONS[(self.current.code, self.current.is_transmitted)]

    def can_undo(self) -> bool:
        """True while the last change is untransmitted, not automatic and not the initial 14."""
        last = self.current
        return len(self.history) > 1 and not last.is_transmitted and not last.is_automatic

    def set(self, code: int) -> Change:
        """Move to ``code``; raises ``InvalidTransition`` (carrying the allowed codes) when refused."""
        allowed = self.allowed()
        try:
            target = Status(code)
        except ValueError:
            raise InvalidTransition(f"statut inconnu : {code}", tuple(sorted(allowed))) from None
        if target not in allowed:
            raise InvalidTransition(self._refusal(target, allowed), tuple(sorted(allowed)))
        change = Change(target)
        self.history.append(change)
        return change

    def undo(self) -> Change | None:
        """Cancel the last change; the previous one is current again.

        Returns the automatic closure that follows when the change now current is a transmitted 15,
        19 or 20 (transmitted while the undone change was pending), else None.
        """
        if not self.can_undo():
            last = self.current
            if len(self.history) == 1:
                why = "le statut initial ne peut pas être annulé"
            elif last.is_automatic:
                why = "une clôture automatique ne peut pas être annulée"
            else:
                why = f"le statut {int(last.code)} a déjà été transmis"
            raise InvalidTransition(f"annulation impossible : {why}", tuple(sorted(self.allowed())))
        self.history.pop()
        return self._close_if_due()

    def mark_transmitted(self, index: int) -> Change | None:
        """Record that change ``index`` reached the channel.

        Returns the automatic closure that follows when the transmitted change is the current 15, 19
        or 20, else None.
        """
        self.history[index] = replace(self.history[index], is_transmitted=True)
        return self._close_if_due()

    def _close_if_due(self) -> Change | None:
        current = self.current
        if current.is_transmitted and current.code in AUTO_CLOSING:
            closure = Change(Status.CLOSED, is_automatic=True)
            self.history.append(closure)
            return closure
        return None

    def _refusal(self, target: Status, allowed: frozenset[Status]) -> str:
        current = self.current
        state = "transmis" if current.is_transmitted else "non transmis"
        codes = ", ".join(str(int(c)) for c in sorted(allowed)) or "aucun"
        return (
            f"passage de {int(current.code)} ({state}) à {int(target)} refusé ; statuts possibles : {codes}"
        )
