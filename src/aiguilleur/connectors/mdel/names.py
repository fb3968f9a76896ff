"""MDEL zip names: ``<NumeroTeledemarche>-<FlowType>-<n>.zip`` (seed 002, section III).

The flow types themselves contain a dash (``AEC-LA``), so a name is read from the right: the
increment, then a known flow type, and what is left is the télédémarche number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

from aiguilleur.errors import RejectedItemError

#: The flows the portal sends, with the French label shown to agents (seed 002, section I).
FLOW_TYPES: MappingProxyType[str, str] = MappingProxyType(
    {
        "RCO-LA": "recensement citoyen",
        "AEC-LA": "actes d'état civil",
        "ILE-LA": "inscription sur les listes électorales",
    }
)

# Seen: A-9-X3UGO4V7, A-1-N8F602RR, A-0-12SVIZTIW (letter-digit-alphanumerics). Any dash-separated
# ASCII alphanumeric id is accepted: it only has to be safe in a file name and a log line.
_NUMERO = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_MAX_NUMERO_CHARS = 64
# The increment: ASCII digits only (str.isdigit() would accept "²" or Arabic-Indic digits).
_INDEX = re.compile(r"[0-9]{1,9}")
# An unknown flow still looks like ``XXXX-LA``: used only to word the refusal precisely.
_FLOW_LIKE = re.compile(r"^(.+)-([A-Za-z0-9]+-[A-Za-z0-9]+)$")
_EXPECTED = "nom de fichier non conforme : attendu <Numéro>-<Flux>-<n>.zip"


@dataclass(frozen=True, slots=True)
class DemandName:
    """What a demand zip's name says: télédémarche number, flow type, increment of the file."""

    numero: str
    flow_type: str
    index: int

    @property
    def zip_name(self) -> str:
        """The canonical name of this zip, for messages (``A-1-N8F602RR-RCO-LA-1.zip``)."""
        return f"{self.numero}-{self.flow_type}-{self.index}.zip"


def is_safe_numero(numero: str) -> bool:
    """Whether `numero` can be a télédémarche number: dash-separated ASCII letters and digits."""
    return len(numero) <= _MAX_NUMERO_CHARS and _NUMERO.fullmatch(numero) is not None


def parse_demand_name(name: str) -> DemandName:
    """Parse a demand zip's file name (``A-1-N8F602RR-RCO-LA-2.zip``).

    The ``.zip`` suffix is matched without regard to case. Raises RejectedItemError, naming the file,
    when the name does not follow ``<Numéro>-<Flux>-<n>.zip`` or its flow is not one of FLOW_TYPES.
    """
    stem = name[:-4] if name.lower().endswith(".zip") else None
    if stem is None:
        raise RejectedItemError(f"{name} : {_EXPECTED}")
    rest, dash, index = stem.rpartition("-")
    if not dash or _INDEX.fullmatch(index) is None:
        raise RejectedItemError(f"{name} : {_EXPECTED} (le numéro de fichier <n> manque)")
    for flow_type in FLOW_TYPES:
        numero = rest.removesuffix(f"-{flow_type}")
        if numero != rest:
            if not is_safe_numero(numero):
                raise RejectedItemError(
                    f"{name} : {_EXPECTED} (numéro de télédémarche « {numero} » invalide : lettres, "
                    f"chiffres et tirets seulement, {_MAX_NUMERO_CHARS} caractères au plus)"
                )
            return DemandName(numero=numero, flow_type=flow_type, index=int(index))
    guess = _FLOW_LIKE.match(rest)
    if guess is not None and is_safe_numero(guess.group(1)) and is_safe_numero(guess.group(2)):
        raise RejectedItemError(
            f"{name} : {_EXPECTED} ; flux « {guess.group(2)} » inconnu, "
            f"flux acceptés : {', '.join(FLOW_TYPES)}"
        )
    raise RejectedItemError(f"{name} : {_EXPECTED}, avec <Flux> parmi {', '.join(FLOW_TYPES)}")


def return_zip_name(numero: str, flow_type: str, increment: int) -> str:
    """The name of a return zip: ``<Numero>-<FlowType>-<increment>.zip`` (seed 002, section III).

    Raises ValueError when `numero` is not a safe télédémarche number, `flow_type` is unknown or
    `increment` is negative: these come from an imported dossier, so it is a bug, not a bad input.
    """
    if not is_safe_numero(numero):
        raise ValueError(f"not a télédémarche number: {numero!r}")
    if flow_type not in FLOW_TYPES:
        raise ValueError(f"unknown MDEL flow type: {flow_type!r}")
    if isinstance(increment, bool) or increment < 0:
        raise ValueError(f"return increment must be a non-negative int: {increment!r}")
    return f"{numero}-{flow_type}-{increment}.zip"
