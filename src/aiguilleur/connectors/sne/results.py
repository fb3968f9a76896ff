"""What the SNE answers, as values: business anomalies, probable duplicates and empty answers are
expected outcomes (STYLE.md "One connector package"), not exceptions.

Every result keeps the raw request and response bytes (audit, debugging) and the raw XML of each
anomaly and duplicate. Anomalies sit in the returned demande at
``demande/demandeLogement/listeAnomalie/anomalie`` (@code ≤ 10 chars, @propriete, complement@nom,
message), duplicates at ``demandeLogement/listeDoublons/doublon`` or in the ``listeDoublons`` file of
getDoublons (research §1.3, §3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from aiguilleur.connectors.sne.soap import NUU

_N = f"{{{NUU}}}"


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One anomaly the SNE found in a demande."""

    code: str
    message: str
    propriete: str | None = None
    complements: tuple[tuple[str, str], ...] = ()
    raw: bytes = b""


@dataclass(frozen=True, slots=True)
class Doublon:
    """One probable duplicate: its numéro unique and the applicant's identity as the SNE gives them."""

    num_unique: str
    nom: str | None = None
    prenom: str | None = None
    date_naissance: str | None = None
    raw: bytes = b""


@dataclass(frozen=True, slots=True)
class Exchange:
    """Raw bytes of one exchange, kept on every result."""

    raw_request: bytes = field(default=b"", repr=False)
    raw_response: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class DemandeResult(Exchange):
    """getNumUnique or getDemandeLogement: the returned demande file and what it says.

    `num_unique` is the one the returned file carries (None when it has none: nothing registered);
    `is_ok` is False when the SNE reported anomalies or probable duplicates (resend with
    ``forcerDoublon`` to register anyway); `attestation` is the registration attestation, when sent.
    """

    num_unique: str | None = None
    nom_fichier: str | None = None
    demande_xml: bytes = b""
    nom_attestation: str | None = None
    attestation: bytes | None = None
    anomalies: tuple[Anomaly, ...] = ()
    doublons: tuple[Doublon, ...] = ()

    @property
    def is_ok(self) -> bool:
        return not self.anomalies and not self.doublons

    @property
    def hint(self) -> str | None:
        if self.doublons and not self.anomalies:
            return "doublons probables : renvoyer avec forcerDoublon=true pour enregistrer quand même"
        return None


@dataclass(frozen=True, slots=True)
class DoublonsResult(Exchange):
    """getDoublons: the probable duplicates (empty when none), the ``listeDoublons`` file as sent."""

    doublons: tuple[Doublon, ...] = ()
    nom_fichier_doublons: str | None = None
    liste_doublons_xml: bytes | None = None
    nom_fichier_demande: str | None = None
    demande_xml: bytes | None = None

    @property
    def is_ok(self) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class FileResult(Exchange):
    """A file answer (DALO, radiations, DALO declaration): opaque bytes plus a name; both None when the
    SNE has nothing (research §1.1: the formats are not public, kept as they come)."""

    nom_fichier: str | None = None
    content: bytes | None = None
    anomalies: tuple[Anomaly, ...] = ()

    @property
    def is_empty(self) -> bool:
        return self.content is None

    @property
    def is_ok(self) -> bool:
        return not self.anomalies


Result = DemandeResult | DoublonsResult | FileResult


def _raw(element: etree._Element) -> bytes:
    return etree.tostring(element, encoding="utf-8", with_tail=False)


def anomalies_in(root: etree._Element) -> tuple[Anomaly, ...]:
    """Every ``listeAnomalie/anomalie`` (or ``listeAnomalies``) of a returned file."""
    found = []
    for anomaly in root.iter(f"{_N}anomalie", "anomalie"):
        parent = anomaly.getparent()
        if parent is None or etree.QName(parent).localname not in ("listeAnomalie", "listeAnomalies"):
            continue
        complements = tuple(
            (c.get("nom", ""), (c.text or "").strip()) for c in anomaly.iter(f"{_N}complement", "complement")
        )
        message = anomaly.findtext(f"{_N}message") or anomaly.findtext("message") or ""
        found.append(
            Anomaly(
                code=anomaly.get("code", ""),
                message=message.strip(),
                propriete=anomaly.get("propriete"),
                complements=complements,
                raw=_raw(anomaly),
            )
        )
    return tuple(found)


def _text(element: etree._Element, path: str) -> str | None:
    value = element.findtext(path.replace("~", _N))
    return value.strip() if value is not None else None


def doublons_in(root: etree._Element) -> tuple[Doublon, ...]:
    """Every ``doublon`` of a ``listeDoublons`` (a file of its own, or inside a returned demande)."""
    return tuple(
        Doublon(
            num_unique=_text(d, "~numUnique") or "",
            nom=_text(d, "~demandeur/~nom"),
            prenom=_text(d, "~demandeur/~prenom"),
            date_naissance=_text(d, "~demandeur/~dateNaissance"),
            raw=_raw(d),
        )
        for d in root.iter(f"{_N}doublon")
    )


def num_unique_in(root: etree._Element) -> str | None:
    value = root.findtext(f"{_N}demande/{_N}demandeLogement/{_N}numUnique")
    return value.strip() or None if value is not None else None
