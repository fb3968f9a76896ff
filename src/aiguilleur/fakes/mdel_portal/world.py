"""The fake "Ma démarche en ligne" portal: the demands it sends and the returns it receives.

Everything is drawn from one ``random.Random(seed)`` and a clock that only moves forward with each demand,
so the same seed and the same calls give byte-identical zips. The portal is written from the protocol
(seed 002, research notes), never from the hub's MDEL connector.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiguilleur.fakes.mdel_portal.broken import BROKEN_KINDS, break_demand
from aiguilleur.fakes.mdel_portal.checker import ReturnRejected, ReturnSeen, check_return, parse_return_name
from aiguilleur.fakes.mdel_portal.demand import (
    Demand,
    DemandHeader,
    DemandParts,
    Parties,
    compose,
    make_parties,
)
from aiguilleur.fakes.mdel_portal.envelope import iso_paris
from aiguilleur.fakes.mdel_portal.payloads import FLOWS

DEFAULT_START = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
_NUMERO_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".filepart")


class MdelPortal:
    """The portal side of the MDEL exchange, deterministic from `seed`.

    - ``demands``: the header of every valid demand made, by NumeroTeledemarche, in step order (the
      zips themselves are returned to the caller, not kept);
    - ``returns``: accepted returns by NumeroTeledemarche, in increment order;
    - ``rejected``: returns refused (ReturnRejected, with the reason);
    - ``problems``: sequencing faults of the hub seen so far (gaps, repeats, late arrivals, reused
      MessageIds), as sentences.
    """

    def __init__(self, seed: int = 0, *, start: datetime = DEFAULT_START) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test data, no secret
        self.now = start
        self.demands: dict[str, list[DemandHeader]] = {}  # headers only: zips can be many and large
        self.broken: list[DemandHeader] = []
        self.returns: dict[str, list[ReturnSeen]] = {}
        self.rejected: list[ReturnRejected] = []
        self._parties: dict[str, Parties] = {}
        self._messages = 0
        self._events: list[str] = []
        self._collected: dict[str, str] = {}  # file name -> sha256 of what was read (consume=False)
        self._message_ids: dict[str, str] = {}  # MessageId -> first return name that used it

    # --- demands -------------------------------------------------------------------------------------

    def _advance(self) -> datetime:
        self.now += timedelta(seconds=self.rng.randint(60, 5400), milliseconds=self.rng.randint(0, 999))
        return self.now

    def new_numero(self) -> str:
        """A fresh NumeroTeledemarche like ``A-1-N8F602RR``."""
        while True:
            numero = f"A-{self.rng.randint(0, 9)}-{''.join(self.rng.choices(_NUMERO_ALPHABET, k=8))}"
            if numero not in self.demands and numero not in self._parties:
                return numero

    def header(self, numero: str) -> DemandHeader | None:
        """The routing header of the latest demand sent for `numero`, if any."""
        sent = self.demands.get(numero)
        return sent[-1] if sent else None

    def _parts(
        self,
        flow: str,
        insee: str,
        *,
        step: int,
        numero: str | None,
        attachments: int,
        pdf_bytes: int,
        with_cerfa: bool,
    ) -> DemandParts:
        if step < 1:
            raise ValueError("step starts at 1")
        numero = numero or self.new_numero()
        sent = self.demands.get(numero)
        if sent and sent[-1].flow != flow:
            raise ValueError(f"{numero} is a {sent[-1].flow} dossier, not {flow}")
        when = self._advance()
        parties = self._parties.get(numero) or make_parties(self.rng, flow, insee, when.date())
        self._parties[numero] = parties
        self._messages += 1
        message_id = f"{numero} {4_000_000 + self._messages:08d} Principal {iso_paris(when)}"
        return compose(
            self.rng,
            numero=numero,
            flow=flow,
            step=step,
            insee=insee,
            when=when,
            message_id=message_id,
            parties=parties,
            attachments=attachments,
            pdf_bytes=pdf_bytes,
            with_cerfa=with_cerfa,
        )

    def make_demand(
        self,
        flow: str,
        insee: str,
        *,
        step: int = 1,
        numero: str | None = None,
        attachments: int = 2,
        pdf_bytes: int = 20_000,
        with_cerfa: bool = True,
        directory: Path | None = None,
    ) -> Demand:
        """A complete demand of `flow` (RCO-LA, AEC-LA, ILE-LA) routed to commune `insee`.

        A new number is drawn unless `numero` is given; a known number keeps its people and data (a
        re-sent demand carries the complete data again). Each PDF (cerfa unless `with_cerfa` is False,
        then `attachments` pieces) is `pdf_bytes` long. With `directory`, the zip is also written there
        atomically. Raises ValueError for an unknown flow or a flow that differs from the dossier's.
        """
        if flow not in FLOWS:
            raise ValueError(f"unknown flow {flow!r}; known: {', '.join(FLOWS)}")
        parts = self._parts(
            flow,
            insee,
            step=step,
            numero=numero,
            attachments=attachments,
            pdf_bytes=pdf_bytes,
            with_cerfa=with_cerfa,
        )
        demand = parts.pack()
        self.demands.setdefault(demand.numero, []).append(demand.header)
        if directory is not None:
            demand.write(directory)
        return demand

    def resend(
        self,
        numero: str,
        *,
        attachments: int = 2,
        pdf_bytes: int = 20_000,
        with_cerfa: bool = True,
        directory: Path | None = None,
    ) -> Demand:
        """The next step of a known dossier (e.g. after status 17, the user completes the demand).
        Raises KeyError for a number the portal never sent."""
        last = self.demands[numero][-1]
        return self.make_demand(
            last.flow,
            last.insee,
            step=last.step + 1,
            numero=numero,
            attachments=attachments,
            pdf_bytes=pdf_bytes,
            with_cerfa=with_cerfa,
            directory=directory,
        )

    def write_demands(
        self,
        directory: Path,
        count: int,
        *,
        flows: Sequence[str] = FLOWS,
        insee: str | Sequence[str] = "06088",
        attachments: int = 2,
        pdf_bytes: int = 20_000,
        with_cerfa: bool = True,
    ) -> list[Path]:
        """Write `count` new demands into `directory` (each atomically), flows and communes drawn in turn
        from `flows` and `insee`; return their paths in order."""
        communes = [insee] if isinstance(insee, str) else list(insee)
        paths = []
        for _ in range(count):
            demand = self.make_demand(
                self.rng.choice(list(flows)),
                self.rng.choice(communes),
                attachments=attachments,
                pdf_bytes=pdf_bytes,
                with_cerfa=with_cerfa,
            )
            paths.append(demand.write(directory))
        return paths

    def make_broken(
        self,
        kind: str,
        *,
        flow: str = "RCO-LA",
        insee: str = "06088",
        unknown_insee: str = "99999",
        bomb_bytes: int = 1 << 30,
        pdf_bytes: int = 20_000,
        directory: Path | None = None,
    ) -> Demand:
        """A demand with one defect (see :mod:`aiguilleur.fakes.mdel_portal.broken` for each kind).

        Its header is kept in ``broken``, not in ``demands``: a hub must not answer it. Raises
        ValueError for an unknown kind.
        """
        if kind not in BROKEN_KINDS:
            raise ValueError(f"unknown broken kind {kind!r}; known: {', '.join(BROKEN_KINDS)}")
        parts = self._parts(
            "DDPACS" if kind == "unknown_flow" else flow,
            unknown_insee if kind == "unknown_insee" else insee,
            step=1,
            numero=None,
            attachments=2,
            pdf_bytes=pdf_bytes,
            with_cerfa=True,
        )
        other = next(code for code in ("06029", "06088") if code != insee)
        demand = break_demand(kind, parts, other_insee=other, bomb_bytes=bomb_bytes)
        self.broken.append(demand.header)
        if directory is not None:
            demand.write(directory)
        return demand

    # --- returns -------------------------------------------------------------------------------------

    def collect_returns(self, directory: Path, *, consume: bool = True) -> list[ReturnSeen]:
        """Read the return zips in `directory` (the hub's output folder or the SFTP upload folder).

        Files still being written (``.part``, ``.tmp``, hidden) are left alone. Each other file is
        checked (:func:`check_return`, against the demand the portal sent) and recorded, or kept in
        ``rejected``. With `consume` (the seed: "les fichiers retours doivent être supprimés … lorsqu'ils
        sont récupérés par le portail") every file read is deleted; otherwise a file already read with the
        same content is skipped. Returns the returns accepted by this call.
        """
        candidates = [
            p
            for p in directory.iterdir()
            if p.is_file() and not p.name.startswith(".") and not p.name.endswith(_IN_PROGRESS_SUFFIXES)
        ]

        def order(path: Path) -> tuple[int, str, int, str]:
            parsed = parse_return_name(path.name)
            return (0, parsed[0], parsed[2], path.name) if parsed else (1, "", 0, path.name)

        accepted = []
        for path in sorted(candidates, key=order):
            data = path.read_bytes()
            if consume:
                path.unlink()
            else:
                digest = hashlib.sha256(data).hexdigest()
                previous = self._collected.get(path.name)
                if previous == digest:
                    continue
                if previous is not None:
                    self._events.append(f"{path.name}: rewritten with other content after the portal read it")
                self._collected[path.name] = digest
            try:
                seen = self._check(path.name, data)
            except ReturnRejected as exc:
                self.rejected.append(exc)
                continue
            if self._record(seen):
                accepted.append(seen)
        return accepted

    def _check(self, name: str, data: bytes) -> ReturnSeen:
        parsed = parse_return_name(name)
        header = self.header(parsed[0]) if parsed else None
        if parsed and header is None:
            raise ReturnRejected(name, f"the portal never sent a demand {parsed[0]}")
        return check_return(name, data, header)

    def _record(self, seen: ReturnSeen) -> bool:
        kept = self.returns.setdefault(seen.numero, [])
        first_use = self._message_ids.setdefault(seen.message_id, seen.name)
        if first_use != seen.name:
            self._events.append(f"{seen.name}: MessageId {seen.message_id!r} already used by {first_use}")
        if any(r.increment == seen.increment for r in kept):
            self._events.append(f"{seen.numero}: return increment {seen.increment} received twice")
            return False
        highest = max((r.increment for r in kept), default=0)
        if seen.increment < highest:
            self._events.append(f"{seen.numero}: return increment {seen.increment} arrived after {highest}")
        kept.append(seen)
        kept.sort(key=lambda r: r.increment)
        return True

    def statuses(self, numero: str) -> list[int]:
        """The Etat codes received for `numero`, in increment order."""
        return [r.etat for r in self.returns.get(numero, [])]

    @property
    def problems(self) -> list[str]:
        """Sequencing faults: the events recorded so far, then increments still missing per dossier."""
        found = list(self._events)
        for numero, kept in sorted(self.returns.items()):
            have = {r.increment for r in kept}
            missing = sorted(set(range(1, max(have, default=0) + 1)) - have)
            if missing:
                found.append(
                    f"{numero}: return increment(s) {_join(missing)} missing (got {_join(sorted(have))})"
                )
        return found


def _join(numbers: Iterable[int]) -> str:
    return ", ".join(str(n) for n in numbers)
