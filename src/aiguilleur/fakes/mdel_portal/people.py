"""Fictional people, addresses and communes for the fake portal's demands.

Surnames and first names are common French ones drawn independently, so a generated person is nobody
in particular. E-mail addresses use the reserved domain example.org (RFC 2606) and telephone numbers the
range ARCEP sets aside for fiction (06 39 98 xx xx).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

SURNAMES = (
    "MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS", "MOREAU", "LAURENT",
    "SIMON", "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID", "BERTRAND", "MOREL", "FOURNIER", "GIRARD",
    "BONNET", "DUPONT", "LAMBERT", "FONTAINE", "ROUSSEAU", "VINCENT", "FAURE", "ANDRE", "MERCIER", "BLANC",
    "GUERIN", "BOYER", "GARNIER", "CHEVALIER", "LEGRAND", "GAUTHIER", "PERRIN", "ROBIN", "CLEMENT", "MORIN",
    "LE GALL", "D'ALMEIDA", "N'GUYEN", "HÉBERT", "LEFÈVRE", "BÉNARD", "L'HERITIER", "DA SILVA",
)  # fmt: skip
FIRST_NAMES_M = (
    "Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jules", "Adam", "Raphaël", "Léo", "Nathan", "Paul",
    "Théo", "Noé", "Mathis", "Enzo", "Jean-Pierre", "François", "Michel", "Alain", "Philippe", "Karim",
)  # fmt: skip
FIRST_NAMES_F = (
    "Emma", "Jade", "Louise", "Alice", "Chloé", "Léa", "Manon", "Inès", "Camille", "Lina", "Zoé", "Anaïs",
    "Marie", "Nathalie", "Isabelle", "Sylvie", "Françoise", "Hélène", "Océane", "Clémence", "Fatou",
)  # fmt: skip
STREETS = (
    ("RUE", "DES LILAS"), ("AVENUE", "JEAN JAURES"), ("BOULEVARD", "VICTOR HUGO"), ("ALLEE", "DES PINS"),
    ("CHEMIN", "DU MOULIN"), ("PLACE", "DE LA REPUBLIQUE"), ("IMPASSE", "DES ROSES"), ("RUE", "PASTEUR"),
    ("AVENUE", "DE LA GARE"), ("RUE", "DU 8 MAI 1945"), ("QUAI", "DES ETATS-UNIS"), ("ROUTE", "DE TURIN"),
)  # fmt: skip

# INSEE code -> (name, postal code). Real communes, used only as places.
COMMUNES: dict[str, tuple[str, str]] = {
    "06088": ("NICE", "06000"),
    "06029": ("CANNES", "06400"),
    "06004": ("ANTIBES", "06600"),
    "75056": ("PARIS", "75001"),
    "69123": ("LYON", "69001"),
    "13055": ("MARSEILLE", "13001"),
    "33063": ("BORDEAUX", "33000"),
    "31555": ("TOULOUSE", "31000"),
    "44109": ("NANTES", "44000"),
    "59350": ("LILLE", "59000"),
    "2A004": ("AJACCIO", "20000"),
}
# Commune SIRETs the test suite already uses (tests/conftest.py); others are derived by siret_for().
KNOWN_SIRETS = {"06088": "21060088800015", "06029": "21060029200012"}


def luhn_complete(digits: str) -> str:
    """`digits` followed by the Luhn check digit (SIREN and SIRET use the Luhn checksum)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits + str((10 - total % 10) % 10)


def siret_for(insee: str) -> str:
    """The commune's SIRET: known ones, else a checksum-valid one built like a commune's (21 + dept…)."""
    if insee in KNOWN_SIRETS:
        return KNOWN_SIRETS[insee]
    digits = insee.replace("2A", "20").replace("2B", "20")
    if len(digits) != 5 or not digits.isdigit():
        digits = "99999"
    siren = luhn_complete("21" + digits[:2] + "0" + digits[2:])
    return luhn_complete(siren + "0001")


def commune(insee: str) -> tuple[str, str]:
    """(name, postal code) of a commune; an unknown code gets a placeholder name."""
    return COMMUNES.get(insee, (f"COMMUNE {insee}", insee[:2].replace("A", "0").replace("B", "0") + "000"))


@dataclass(frozen=True, slots=True)
class Address:
    number: str
    street_type: str
    street_name: str
    postal_code: str
    city: str
    insee: str

    @property
    def line(self) -> str:
        return f"{self.number} {self.street_type} {self.street_name}"


@dataclass(frozen=True, slots=True)
class Person:
    is_female: bool
    surname: str
    first_names: tuple[str, ...]
    birth_date: date
    birth_insee: str
    address: Address
    email: str
    phone: str

    @property
    def first_name(self) -> str:
        return self.first_names[0]

    @property
    def birth_city(self) -> str:
        return commune(self.birth_insee)[0]


def _ascii_slug(text: str) -> str:
    table = str.maketrans("àâäéèêëîïôöùûüçÀÂÄÉÈÊËÎÏÔÖÙÛÜÇ", "aaaeeeeiioouuucAAAEEEEIIOOUUUC")
    return "".join(c for c in text.translate(table).lower() if c.isalnum())


def make_address(rng: random.Random, insee: str) -> Address:
    city, postal = commune(insee)
    street_type, street_name = rng.choice(STREETS)
    return Address(str(rng.randint(1, 180)), street_type, street_name, postal, city, insee)


def make_person(
    rng: random.Random,
    *,
    insee: str,
    born_between: tuple[date, date],
    surname: str | None = None,
    is_female: bool | None = None,
) -> Person:
    """A fictional person living in commune `insee`, born in the given interval."""
    female = rng.random() < 0.5 if is_female is None else is_female
    pool = FIRST_NAMES_F if female else FIRST_NAMES_M
    names = tuple(rng.sample(pool, rng.choice((1, 1, 2, 3))))
    name = surname or rng.choice(SURNAMES)
    low, high = born_between
    born = low + timedelta(days=rng.randint(0, max(0, (high - low).days)))
    birth_insee = insee if rng.random() < 0.6 else rng.choice(sorted(COMMUNES))
    email = f"{_ascii_slug(names[0])}.{_ascii_slug(name)}{rng.randint(1, 99)}@example.org"
    phone = f"063998{rng.randint(0, 9999):04d}"
    return Person(female, name, names, born, birth_insee, make_address(rng, insee), email, phone)
