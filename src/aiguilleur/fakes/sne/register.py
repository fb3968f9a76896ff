"""The fake SNE's register: demandes by numéro unique, their DALO and radiation timelines.

The numéro unique has 18 characters (research §1.2, ``t_numUnique``, one real-looking sample): a
3-character département (``059``, ``02A``, ``974``), the creation month and year (``MMYY``), a 6-digit
sequence, and the 5-character guichet that registered it, e.g. ``0590124000012G0000``. The layout is an
inference from that sample [I]; the fake numbers sequentially per (département, MMYY).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

NUM_UNIQUE = re.compile(r"^(?:\d{3}|0(?:2[AB]))(?:0[1-9]|1[0-2])\d{2}\d{6}[A-Z0-9]{5}$")


def departement_of(commune: str) -> str:
    """The 3-character département of an INSEE commune code (59350 → 059, 2A004 → 02A, 97411 → 974)."""
    if commune[:2] in ("2A", "2B"):
        return "0" + commune[:2]
    if commune.startswith("97") and len(commune) == 5:
        return commune[:3]
    return "0" + commune[:2] if len(commune) == 5 and commune.isdigit() else "000"


def normalise_name(name: str) -> str:
    """Upper case, no accents, letters only: ``Lefèvre-Dupont`` and ``LEFEVRE DUPONT`` match."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in plain.upper() if c.isalpha())


@dataclass(slots=True)
class Radiation:
    at: datetime  # when the SNE recorded it: what getDemandesRadieesDepuisLe compares
    date_radiation: str  # the dateRadiation of the file (xs:date)
    motif: str  # RADABA, RADATT, RADIRR, RADCON, RADREN
    statut_dalo: str  # the demande's DALO status when it was radiated
    type_reservataire: str | None  # for an attribution: COLTER, COLACT, PPRIOR, PFONCT, AUTRES, AUCUN


@dataclass(slots=True)
class DaloEvent:
    at: datetime  # when the SNE recorded the decision: what getNouveauxDaloDepuisLe compares
    statut: str  # NON, ACTIF, CADUC, ACTREL
    date_decision: str | None


@dataclass(slots=True)
class Registered:
    """One demande of the register; `xml` is the demande file as the SNE last returned it."""

    num_unique: str
    num_guichet: str
    created_at: datetime
    xml: bytes
    nom: str
    prenom: str
    date_naissance: str
    communes: tuple[str, ...]
    is_association: bool = False
    updated_at: datetime | None = None
    renewed_at: list[datetime] = field(default_factory=list)
    statut_dalo: str = "NON"
    dalo_events: list[DaloEvent] = field(default_factory=list)
    radiation: Radiation | None = None
    deleted: bool = False

    @property
    def is_active(self) -> bool:
        return self.radiation is None and not self.deleted

    @property
    def person_key(self) -> tuple[str, str, str]:
        return normalise_name(self.nom), normalise_name(self.prenom), self.date_naissance


class Register:
    """In-memory demandes; no I/O, no clock of its own (callers pass the times)."""

    def __init__(self) -> None:
        self.demandes: dict[str, Registered] = {}
        self._sequences: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self.demandes)

    def get(self, num_unique: str) -> Registered | None:
        return self.demandes.get(num_unique)

    def next_num_unique(self, departement: str, created: date, guichet: str) -> str:
        prefix = f"{departement[:3]:0>3}{created:%m%y}"
        self._sequences[prefix] += 1
        number = f"{prefix}{self._sequences[prefix]:06d}{guichet.upper():0>5}"[:18]
        if not NUM_UNIQUE.match(number):
            raise ValueError(f"cannot number a demande of guichet {guichet!r} in département {departement!r}")
        return number

    def add(self, demande: Registered) -> Registered:
        self.demandes[demande.num_unique] = demande
        return demande

    def find_duplicates(
        self, nom: str, prenom: str, date_naissance: str, *, exclude: str | None = None
    ) -> list[Registered]:
        """Active demandes of the same person: same name, first name (normalised) and birth date."""
        key = (normalise_name(nom), normalise_name(prenom), date_naissance)
        if not all(key):
            return []
        return [
            d
            for d in self.demandes.values()
            if d.is_active and not d.is_association and d.person_key == key and d.num_unique != exclude
        ]

    def set_dalo(self, demande: Registered, statut: str, date_decision: str | None, at: datetime) -> None:
        """Record a DALO status; a change is an event of the timeline."""
        if statut != demande.statut_dalo:
            demande.dalo_events.append(DaloEvent(at, statut, date_decision))
        demande.statut_dalo = statut

    def nouveaux_dalo(self, since: datetime) -> list[tuple[Registered, DaloEvent]]:
        """Demandes that became DALO (``ACTIF``) at `since` or later, oldest first, once each."""
        found: list[tuple[Registered, DaloEvent]] = []
        for demande in self.demandes.values():
            events = [e for e in demande.dalo_events if e.statut == "ACTIF" and e.at >= since]
            if events and not demande.deleted:
                found.append((demande, events[-1]))
        return sorted(found, key=lambda pair: (pair[1].at, pair[0].num_unique))

    def radiees(
        self,
        since: datetime,
        *,
        motif: str | None = None,
        statut_dalo: str | None = None,
        type_reservataire: str | None = None,
    ) -> list[Registered]:
        """Demandes radiated at `since` or later matching every filter given, oldest first."""
        found = [
            d
            for d in self.demandes.values()
            if d.radiation is not None
            and d.radiation.at >= since
            and motif in (None, d.radiation.motif)
            and statut_dalo in (None, d.radiation.statut_dalo)
            and type_reservataire in (None, d.radiation.type_reservataire)
        ]
        return sorted(found, key=lambda d: (d.radiation.at if d.radiation else since, d.num_unique))
