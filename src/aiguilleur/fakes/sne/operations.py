"""The six operations of the fake SNE on its register (research/sne.md §1.1, §3).

Business outcomes are answers, as the SNE gives them (HTTP 200): anomalies and probable duplicates travel
inside the returned demande file; an empty result is a response element without children. Faults are only
for what the SNE could not process at all (unreadable file, bad dates or codes, certificates).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from lxml import etree

from aiguilleur.fakes.sne import wire
from aiguilleur.fakes.sne.demande import (
    Anomaly,
    Demande,
    DemandeUnreadable,
    N,
    anomaly_only_demande,
    doublon_element,
    el,
    jaxb_bytes,
    read_demande,
    returned_demande,
)
from aiguilleur.fakes.sne.faults import SneFaults
from aiguilleur.fakes.sne.inbound import Decoded
from aiguilleur.fakes.sne.outbound import Child
from aiguilleur.fakes.sne.refusal import Refusal
from aiguilleur.fakes.sne.register import NUM_UNIQUE, Radiation, Register, Registered, departement_of
from aiguilleur.fakes.sne.samples import attestation_pdf

PARIS = ZoneInfo("Europe/Paris")
_XS_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-](?:\d{2}):(?:\d{2}))?$"
)
_UPDATES = ("MOD", "REN", "RAD", "SUP", "DIS", "RET", "COP")
_ACTIVE_ONLY = ("MOD", "REN", "RAD")


@dataclass(frozen=True, slots=True)
class Guichet:
    """A registering desk allowed to call the SNE: its code, its département, its certificate's CN."""

    num_guichet: str
    departement: str
    certificate_cn: str | None  # None: any client certificate may use this guichet


def parse_xs_datetime(text: str) -> datetime | None:
    """An xs:dateTime as libsne sends it (``2017-01-13T14:55:43.5+02:00``); no offset means Paris time."""
    match = _XS_DATETIME.match(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    micro = int((match[7] or "0").ljust(6, "0")[:6])
    try:
        value = datetime(year, month, day, hour, minute, second, micro)
    except ValueError:
        return None
    zone = match[8]
    if zone is None:
        return value.replace(tzinfo=PARIS)
    if zone == "Z":
        return value.replace(tzinfo=UTC)
    sign = 1 if zone[0] == "+" else -1
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return value.replace(tzinfo=timezone(sign * offset))


def _bad_date(name: str, text: str) -> Refusal:
    return Refusal(
        "soap.params.datetime",
        f"Unmarshalling Error: <{name}> [{text}] is not a valid xs:dateTime",
        detail=f"Date invalide : {text}",
    )


class Operations:
    """Mixed into FakeSne: the attributes below are the world's."""

    register: Register
    faults: SneFaults
    guichets: dict[str, Guichet]
    now: Callable[[], datetime]

    def _stamp(self) -> str:
        return f"{self.now().astimezone(PARIS):%Y%m%d%H%M%S}"

    def _read(self, data: bytes) -> Demande:
        try:
            return read_demande(data)
        except DemandeUnreadable as exc:
            raise Refusal(
                "sne.demande.unreadable",
                f"Unmarshalling Error: {exc}",
                detail="Fichier de demande illisible.",
            ) from exc

    # --- getNumUnique -------------------------------------------------------------------------------

    def op_get_num_unique(self, decoded: Decoded, client_cn: str | None) -> list[Child]:
        name = decoded.texts["nomFichierDemande"]
        demande = self._read(decoded.binaries["fichierDemande"].data)
        anomalies = list(demande.anomalies) + self._guichet_anomalies(demande.num_guichet, client_cn)
        switch = self.faults.take("anomalies", "getNumUnique")
        if switch is not None:
            anomalies += switch.anomalies
        existing: Registered | None = None
        if demande.type_fichier in ("CRE", "CRS") and demande.num_unique:
            anomalies.append(Anomaly("DEM_0020", "Une création ne porte pas de numéro unique.", "numUnique"))
        elif demande.type_fichier in _UPDATES:
            existing, problem = self._existing(demande.num_unique, demande.type_fichier in _ACTIVE_ONLY)
            anomalies += problem
        if demande.type_fichier == "RAD" and not anomalies:
            anomalies += _radiation_anomalies(demande)
        if anomalies:
            return _demande_answer(name, jaxb_bytes(returned_demande(demande.root, anomalies=anomalies)))
        if existing is None:
            return self._create(name, demande)
        return self._update(name, demande, existing)

    def _guichet_anomalies(self, num_guichet: str, client_cn: str | None) -> list[Anomaly]:
        if not self.guichets or not num_guichet:
            return []
        guichet = self.guichets.get(num_guichet)
        path = "demande/demandeLogement/numGuichet"
        if guichet is None:
            return [Anomaly("DEM_0011", f"Le guichet [{num_guichet}] est inconnu.", path)]
        if client_cn is not None and guichet.certificate_cn not in (None, client_cn):
            return [
                Anomaly("DEM_0012", f"Le guichet [{num_guichet}] n'est pas rattaché au certificat.", path)
            ]
        return []

    def _existing(self, num_unique: str, active: bool) -> tuple[Registered | None, list[Anomaly]]:
        path = "demande/demandeLogement/numUnique"
        if not num_unique:
            return None, [Anomaly("DEM_0021", "Le numéro unique est obligatoire.", path)]
        found = self.register.get(num_unique)
        if found is None or found.deleted:
            return None, [Anomaly("DEM_0022", f"Le numéro unique [{num_unique}] est inconnu.", path)]
        if active and found.radiation is not None:
            return None, [Anomaly("DEM_0023", f"La demande [{num_unique}] est radiée.", path)]
        return found, []

    def _create(self, name: str, demande: Demande) -> list[Child]:
        forced = self.faults.take("duplicates", "getNumUnique") is not None
        if not demande.forcer_doublon:
            doublons = [
                doublon_element(d.num_unique, etree.fromstring(d.xml))
                for d in self.register.find_duplicates(demande.nom, demande.prenom, demande.date_naissance)
            ]
            if forced and not doublons:  # a synthetic match: the demande's own person under another number
                doublons = [doublon_element(f"{self._departement(demande)}0101999999G0000", demande.root)]
            if doublons:
                return _demande_answer(name, jaxb_bytes(returned_demande(demande.root, doublons=doublons)))
        now = self.now()
        created = demande.date_creation or now.astimezone(PARIS).date()
        number = self.register.next_num_unique(self._departement(demande), created, demande.num_guichet)
        xml = jaxb_bytes(returned_demande(demande.root, num_unique=number))
        registered = self.register.add(
            Registered(
                num_unique=number,
                num_guichet=demande.num_guichet,
                created_at=now,
                xml=xml,
                nom=demande.nom,
                prenom=demande.prenom,
                date_naissance=demande.date_naissance,
                communes=demande.communes,
                is_association=demande.is_association,
            )
        )
        if demande.statut_dalo:
            self.register.set_dalo(registered, demande.statut_dalo, demande.date_decision_dalo, now)
        return _demande_answer(name, xml, number, attestation_pdf(number, now))

    def _departement(self, demande: Demande) -> str:
        guichet = self.guichets.get(demande.num_guichet)
        if guichet is not None:
            return guichet.departement
        return departement_of(demande.communes[0]) if demande.communes else "000"

    def _update(self, name: str, demande: Demande, existing: Registered) -> list[Child]:
        now = self.now()
        kind = demande.type_fichier
        if kind in ("DIS", "RET", "COP"):  # meaning unknown (research §1.1): accepted, nothing changes
            return _demande_answer(name, existing.xml)
        existing.xml = jaxb_bytes(returned_demande(demande.root, num_unique=existing.num_unique))
        existing.updated_at = now
        if kind == "SUP":
            existing.deleted = True
        elif kind == "RAD":
            existing.radiation = _radiation(demande, existing, now)
        else:
            existing.nom, existing.prenom = demande.nom or existing.nom, demande.prenom or existing.prenom
            existing.date_naissance = demande.date_naissance or existing.date_naissance
            existing.communes = demande.communes or existing.communes
            if demande.statut_dalo:
                self.register.set_dalo(existing, demande.statut_dalo, demande.date_decision_dalo, now)
        if kind == "REN":
            existing.renewed_at.append(now)
            pdf = attestation_pdf(existing.num_unique, now)
            return _demande_answer(name, existing.xml, existing.num_unique, pdf)
        return _demande_answer(name, existing.xml)

    # --- reads ------------------------------------------------------------------------------------

    def op_get_demande_logement(self, decoded: Decoded, client_cn: str | None) -> list[Child]:
        number = decoded.texts["numUnique"].strip()
        path = "demande/demandeLogement/numUnique"
        if not NUM_UNIQUE.match(number):
            problem = Anomaly("DEM_0026", f"Le numéro unique [{number}] n'est pas au format attendu.", path)
        else:
            found = self.register.get(number)
            if found is not None and not found.deleted:
                return _demande_answer(f"DEM-{number}.xml", found.xml)
            problem = Anomaly("DEM_0022", f"Le numéro unique [{number}] est inconnu.", path)
        now_iso = self.now().astimezone(PARIS).replace(tzinfo=None).isoformat(timespec="seconds")
        return _demande_answer(
            f"DEM-{number}.xml", jaxb_bytes(anomaly_only_demande(number, [problem], now_iso))
        )

    def op_get_doublons(self, decoded: Decoded, client_cn: str | None) -> list[Child]:
        demande = self._read(decoded.binaries["fichierDemande"].data)
        if demande.is_association:
            # a known SNE bug (research §3): getDoublons on an association's demande
            raise Refusal(
                "sne.unexpected", wire.UNEXPECTED_ERROR, code="Receiver", detail=wire.UNEXPECTED_ERROR
            )
        matches = self.register.find_duplicates(demande.nom, demande.prenom, demande.date_naissance)
        if not matches:
            return []
        liste = el("listeDoublons")
        liste.extend(doublon_element(d.num_unique, etree.fromstring(d.xml)) for d in matches)
        return [("nomFichierDoublons", f"DOUBLONS-{self._stamp()}.xml"), ("listeDoublons", jaxb_bytes(liste))]

    def op_get_nouveaux_dalo(self, decoded: Decoded, client_cn: str | None) -> list[Child]:
        text = decoded.texts["dateNouveauDaloDepuisLe"]
        since = parse_xs_datetime(text)
        if since is None:
            raise _bad_date("dateNouveauDaloDepuisLe", text)
        found = self.register.nouveaux_dalo(since)
        if not found:
            return []
        # the file's format is unknown (research §1.1 [?]): this listing is the fake's own
        liste = el("listeNouveauxDalo", dateDepuisLe=text)
        for demande, event in found:
            item = etree.SubElement(liste, f"{N}nouveauDalo")
            item.append(el("numUnique", demande.num_unique))
            item.append(el("numGuichet", demande.num_guichet))
            item.append(el("statutDalo", code=event.statut))
            if event.date_decision:
                item.append(el("dateDecisionDalo", event.date_decision))
            item.append(el("dateEnregistrement", _iso(event.at)))
        return [
            ("nomFichierNouveauxDalo", f"NOUVEAUXDALO-{self._stamp()}.xml"),
            ("fichierNouveauxDalo", jaxb_bytes(liste)),
        ]

    def op_get_demandes_radiees(self, decoded: Decoded, client_cn: str | None) -> list[Child]:
        text = decoded.texts["dateRadiationDepuisLe"]
        since = parse_xs_datetime(text)
        if since is None:
            raise _bad_date("dateRadiationDepuisLe", text)
        lists = {
            "motifRadiation": wire.MOTIFS_RADIATION,
            "statutDalo": wire.STATUTS_DALO,
            "typeReservataire": wire.TYPES_RESERVATAIRE,
        }
        for param, allowed in lists.items():
            code = decoded.codes.get(param)
            if code is not None and code not in allowed:
                raise Refusal(
                    "sne.filter",
                    f"Le code [{code}] n'est pas une valeur de {param}.",
                    detail=f"{param} : {code}",
                )
        found = self.register.radiees(
            since,
            motif=decoded.codes.get("motifRadiation"),
            statut_dalo=decoded.codes.get("statutDalo"),
            type_reservataire=decoded.codes.get("typeReservataire"),
        )
        if not found:
            return []
        liste = el("listeDemandesRadiees", dateDepuisLe=text)  # the fake's own format, as above
        for demande in found:
            radiation = demande.radiation
            assert radiation is not None
            item = etree.SubElement(liste, f"{N}demandeRadiee")
            item.append(el("numUnique", demande.num_unique))
            item.append(el("numGuichet", demande.num_guichet))
            item.append(el("dateRadiation", radiation.date_radiation))
            item.append(el("motifRadiation", code=radiation.motif))
            item.append(el("statutDalo", code=radiation.statut_dalo))
            if radiation.type_reservataire:
                item.append(el("typeReservataire", code=radiation.type_reservataire))
            item.append(el("dateEnregistrement", _iso(radiation.at)))
        return [
            ("nomFichierDemandesRadiees", f"RADIEES-{self._stamp()}.xml"),
            ("fichierDemandesRadiees", jaxb_bytes(liste)),
        ]

    # --- getDeclarationNouveauDalo ----------------------------------------------------------------

    def op_get_declaration_nouveau_dalo(self, decoded: Decoded, client_cn: str | None) -> list[Child]:
        """The declaration is read as a demande file whose ``demande/informationDalo`` carries the
        decision (an assumption: research §1.1 leaves ``fichierDalo``'s format open)."""
        name = decoded.texts["nomFichierDalo"]
        demande = self._read(decoded.binaries["fichierDalo"].data)
        existing, anomalies = self._existing(demande.num_unique, active=True)
        if demande.statut_dalo not in wire.STATUTS_DALO:
            anomalies.append(
                Anomaly(
                    "DEM_0030", "Le statut DALO est absent ou inconnu.", "demande/informationDalo/statutDalo"
                )
            )
        if anomalies or existing is None or demande.statut_dalo is None:
            return [
                ("nomFichierDalo", name),
                ("fichierDalo", jaxb_bytes(returned_demande(demande.root, anomalies=anomalies))),
            ]
        self.register.set_dalo(existing, demande.statut_dalo, demande.date_decision_dalo, self.now())
        stored = etree.fromstring(existing.xml)
        information = demande.root.find(f"{N}demande/{N}informationDalo")
        target = stored.find(f"{N}demande")
        if information is not None and target is not None:
            for stale in target.findall(f"{N}informationDalo"):
                target.remove(stale)
            target.insert(0, information)
        existing.xml = jaxb_bytes(stored)
        return [("nomFichierDalo", name), ("fichierDalo", existing.xml)]


def _radiation_anomalies(demande: Demande) -> list[Anomaly]:
    path = "demande/demandeLogement/radiation"
    if not demande.radiation_date or demande.radiation_motif is None:
        return [Anomaly("DEM_0024", "La radiation doit porter sa date et son motif.", path)]
    if demande.radiation_motif not in wire.MOTIFS_RADIATION:
        return [
            Anomaly(
                "DEM_0025",
                f"Motif de radiation [{demande.radiation_motif}] inconnu.",
                f"{path}/motifRadiation",
            )
        ]
    if demande.type_reservataire is not None and demande.type_reservataire not in wire.TYPES_RESERVATAIRE:
        return [Anomaly("DEM_0027", f"Type de réservataire [{demande.type_reservataire}] inconnu.", path)]
    return []


def _demande_answer(
    name: str, xml: bytes, number: str | None = None, attestation: bytes | None = None
) -> list[Child]:
    children: list[Child] = [("nomFichierDemande", name), ("fichierDemande", xml)]
    if number is not None and attestation is not None:
        children += [("nomAttestation", f"ATT-{number}.pdf"), ("attestation", attestation)]
    return children


def _radiation(demande: Demande, existing: Registered, now: datetime) -> Radiation:
    return Radiation(
        at=now,
        date_radiation=demande.radiation_date or "",
        motif=demande.radiation_motif or "",
        statut_dalo=existing.statut_dalo,
        type_reservataire=demande.type_reservataire,
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(PARIS).isoformat(timespec="seconds")
