"""Fault switches of the fake SNE, flipped by tests (or the demo) while it serves.

The world reads them on each request, in process and behind the TLS server alike. Every switch takes an
optional `operation` (``"getNumUnique"``…; None = any) and a number of `times` it fires.

- `soap_fault(code, reason, detail)`: the next call gets that SOAP 1.2 fault (HTTP 500), after its
  request was checked and before the register changes. Presets: `authentication()`, `authorisation()`,
  `validation()`, `unexpected()` (the SNE's "erreur inattendue", research §3).
- `http_error(status)`: HTTP 500 or 503 with an HTML page, as a proxy or the servlet container sends
  before CXF is reached (503 carries ``Retry-After`` when `retry_after_s` is given).
- `slow(delay_s)`: the world calls its `sleep` hook with `delay_s` first (tests pass a recorder).
- `reset()`: no answer: `FakeSne.handle` raises ConnectionResetError, the server resets the connection.
- `truncate()`: the answer's body is cut in half (a multipart without its closing delimiter).
- `anomalies(list)`: the next getNumUnique returns these anomalies (HTTP 200) and registers nothing.
- `duplicates()`: the next getNumUnique finds probable duplicates (the register's matches, or a synthetic
  one when it has none), unless the demande says ``forcerDoublon``.

Counters: `served` maps a switch name to how many times it fired.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from aiguilleur.fakes.sne.demande import Anomaly
from aiguilleur.fakes.sne.refusal import FaultCode
from aiguilleur.fakes.sne.wire import UNEXPECTED_ERROR

SwitchKind = Literal["soap_fault", "http_error", "slow", "reset", "truncate", "anomalies", "duplicates"]


@dataclass(slots=True)
class Switch:
    kind: SwitchKind
    operation: str | None
    remaining: int
    code: FaultCode = "Sender"
    reason: str = ""
    detail: str | None = None
    status: int = 500
    retry_after_s: int | None = None
    delay_s: float = 0.0
    anomalies: tuple[Anomaly, ...] = ()


@dataclass(slots=True)
class SneFaults:
    """What the fake SNE does wrong on purpose (see the module docstring)."""

    switches: list[Switch] = field(default_factory=list)
    served: Counter[str] = field(default_factory=Counter)

    def soap_fault(
        self,
        code: FaultCode = "Sender",
        reason: str = "Erreur",
        detail: str | None = None,
        *,
        operation: str | None = None,
        times: int = 1,
    ) -> None:
        self.switches.append(Switch("soap_fault", operation, times, code=code, reason=reason, detail=detail))

    def authentication(self, *, operation: str | None = None, times: int = 1) -> None:
        """A refused client certificate at the SOAP layer (the text is the fake's own, research §5.6)."""
        self.soap_fault(
            "Sender",
            "Authentification refusée : le certificat client n'est pas reconnu.",
            "Certificat client inconnu du SNE.",
            operation=operation,
            times=times,
        )

    def authorisation(self, *, operation: str | None = None, times: int = 1) -> None:
        self.soap_fault(
            "Sender",
            "Accès refusé : le guichet n'est pas habilité pour ce service.",
            "Guichet non habilité.",
            operation=operation,
            times=times,
        )

    def validation(
        self,
        message: str = "Le fichier ne respecte pas le schéma.",
        *,
        operation: str | None = None,
        times: int = 1,
    ) -> None:
        self.soap_fault(
            "Sender", f"Unmarshalling Error: {message}", message, operation=operation, times=times
        )

    def unexpected(self, *, operation: str | None = None, times: int = 1) -> None:
        self.soap_fault("Receiver", UNEXPECTED_ERROR, UNEXPECTED_ERROR, operation=operation, times=times)

    def http_error(
        self,
        status: int = 503,
        *,
        operation: str | None = None,
        times: int = 1,
        retry_after_s: int | None = None,
    ) -> None:
        self.switches.append(
            Switch("http_error", operation, times, status=status, retry_after_s=retry_after_s)
        )

    def slow(self, delay_s: float, *, operation: str | None = None, times: int = 1) -> None:
        self.switches.append(Switch("slow", operation, times, delay_s=delay_s))

    def reset(self, *, operation: str | None = None, times: int = 1) -> None:
        self.switches.append(Switch("reset", operation, times))

    def truncate(self, *, operation: str | None = None, times: int = 1) -> None:
        self.switches.append(Switch("truncate", operation, times))

    def anomalies(self, anomalies: list[Anomaly], *, times: int = 1) -> None:
        self.switches.append(Switch("anomalies", "getNumUnique", times, anomalies=tuple(anomalies)))

    def duplicates(self, *, times: int = 1) -> None:
        self.switches.append(Switch("duplicates", "getNumUnique", times))

    def clear(self) -> None:
        """Back to a well-behaved SNE (counters kept)."""
        self.switches.clear()

    def take(self, kind: SwitchKind, operation: str | None) -> Switch | None:
        """The first armed switch of `kind` for `operation` (None: not known yet), counted as fired."""
        for switch in self.switches:
            if switch.kind == kind and (switch.operation is None or switch.operation == operation):
                switch.remaining -= 1
                if switch.remaining <= 0:
                    self.switches.remove(switch)
                self.served[kind] += 1
                return switch
        return None
