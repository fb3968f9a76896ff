"""One MDEL demand: its identity, its files, and the zip the portal drops for the commune.

A demand zip ``<Numero>-<FlowType>-<step>.zip`` holds, in this order:

- ``message.xml``: the PEC envelope (:func:`envelope.message_xml`);
- ``<Numero>-<Flow>-ent-<step>.xml``: the EnteteMetierEnveloppe;
- ``<Numero>-<Flow>-doc-<Code>-1-<step>.xml``: the business XML (:mod:`payloads`);
- ``<Numero>-<Flow>-doc-<PdfCode>-1-<step>.pdf``: the cerfa / recap PDF (unless left out);
- ``<Numero>-<Flow>-pj-<code>-<i>-<step>.pdf``: the attachments, codes ji/jd/jf, ``i`` counting per code.

XML members are deflated, PDFs stored (like Info-ZIP does for incompressible files).
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

from aiguilleur.fakes.mdel_portal import envelope, payloads, zipraw
from aiguilleur.fakes.mdel_portal.payloads import FLOW_SPECS, FlowSpec
from aiguilleur.fakes.mdel_portal.pdf import make_pdf
from aiguilleur.fakes.mdel_portal.people import Person, make_person, siret_for


@dataclass(frozen=True, slots=True)
class DemandHeader:
    """What a return must agree with: the demand's identity and its routing header."""

    numero: str
    flow: str
    step: int
    message_id: str
    sender_siret: str
    recipient_siret: str
    insee: str


@dataclass(frozen=True, slots=True)
class Demand:
    """A demand zip in memory. `broken` names the defect of a demand made by ``make_broken``."""

    name: str
    data: bytes
    header: DemandHeader
    members: tuple[str, ...]
    broken: str | None = None

    @property
    def numero(self) -> str:
        return self.header.numero

    @property
    def flow(self) -> str:
        return self.header.flow

    @property
    def step(self) -> int:
        return self.header.step

    def write(self, directory: Path) -> Path:
        """Write the zip into `directory` atomically (``<name>.part``, fsync, rename); return its path."""
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / self.name
        temp = directory / (self.name + ".part")
        with temp.open("wb") as f:
            f.write(self.data)
            f.flush()
            os.fsync(f.fileno())
        temp.replace(final)
        return final


@dataclass(frozen=True, slots=True)
class Parties:
    """The people of a dossier, kept so that a re-sent demand carries the same data."""

    person: Person
    titulaire: Person


@dataclass(slots=True)
class DemandParts:
    """A demand before packing: broken kinds edit these files, then pack them their own way."""

    header: DemandHeader
    when: datetime
    files: list[tuple[str, bytes]] = field(default_factory=list)
    pieces: list[envelope.Piece] = field(default_factory=list)

    def file(self, name: str) -> bytes:
        return next(content for member, content in self.files if member == name)

    def replace(self, name: str, content: bytes) -> None:
        self.files = [(m, content if m == name else c) for m, c in self.files]

    def pack(self, name: str | None = None, broken: str | None = None) -> Demand:
        members = [zipraw.member(m, c, deflate=not m.endswith(".pdf")) for m, c in self.files]
        data = zipraw.build_zip(members, when=envelope.paris_time(self.when))
        h = self.header
        return Demand(
            name or envelope.zip_name(h.numero, h.flow, h.step),
            data,
            h,
            tuple(m for m, _ in self.files),
            broken,
        )


def make_parties(rng: random.Random, flow: str, insee: str, today: date) -> Parties:
    """The applicant and, for AEC, the person the certificate is about (often the same)."""
    if flow == "RCO-LA":  # census at 16: born 16 years and up to 3 months ago
        born = (today - timedelta(days=16 * 365 + 90), today - timedelta(days=16 * 365 + 1))
    else:
        born = (today - timedelta(days=85 * 365), today - timedelta(days=18 * 365 + 1))
    person = make_person(rng, insee=insee, born_between=born)
    if flow != "AEC-LA":
        return Parties(person, person)
    # The acte is held where the event took place, which is the commune the demand is routed to.
    if rng.random() < 0.35:  # a relative asks for the certificate
        titulaire = make_person(rng, insee=insee, born_between=born, surname=person.surname)
        return Parties(person, dataclasses.replace(titulaire, birth_insee=insee))
    person = dataclasses.replace(person, birth_insee=insee)
    return Parties(person, person)


PACS_SPEC = FlowSpec("DDPACS", "DDPACS", "flux-pacs", "15725-02", "Cerfa n°15725 — Déclaration de PACS",
                     ("an", "anp", "cp"), "ETAT-CIVIL")  # fmt: skip


def business_xml(spec: FlowSpec, rng: random.Random, parties: Parties, insee: str, when: datetime) -> bytes:
    if spec.flow == "RCO-LA":
        return payloads.recensement(rng, parties.person, when)
    if spec.flow == "AEC-LA":
        return payloads.demande_acte(rng, parties.person, parties.titulaire, when)
    if spec.flow == "ILE-LA":
        return payloads.inscription_liste(rng, parties.person, insee, when)
    # A flow this hub does not handle (DDPACS is a real MDEL flow): a token payload is enough.
    p = parties.person
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<PACS><partenaire1><nomNaissance>'
        f"{escape(p.surname)}</nomNaissance><prenoms>{escape(' '.join(p.first_names))}</prenoms>"
        "</partenaire1></PACS>\n"
    ).encode()


def compose(
    rng: random.Random,
    *,
    numero: str,
    flow: str,
    step: int,
    insee: str,
    when: datetime,
    message_id: str,
    parties: Parties,
    attachments: int,
    pdf_bytes: int,
    with_cerfa: bool,
) -> DemandParts:
    """Build every file of a demand (see the module docstring for names and order)."""
    spec = FLOW_SPECS.get(flow, PACS_SPEC)
    filler: Callable[[int], bytes] = rng.randbytes
    local = envelope.paris_time(when)
    offset = local.utcoffset() or timedelta()
    stamp = local.strftime("D:%Y%m%d%H%M%S") + f"+{offset.seconds // 3600:02d}'00'"
    td = envelope.Teledemarche(
        numero=numero,
        demarche=spec.demarche,
        date=envelope.iso_paris(when),
        password="".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=8)),
        email=parties.person.email,
    )
    doc_xml = envelope.doc_name(numero, flow, spec.doc_code, step, "xml")
    documents = [envelope.DocEntry(spec.doc_code, spec.doc_code, doc_xml)]
    files: list[tuple[str, bytes]] = [(doc_xml, business_xml(spec, rng, parties, insee, when))]
    if with_cerfa:
        doc_pdf = envelope.doc_name(numero, flow, spec.pdf_code, step, "pdf")
        documents.append(envelope.DocEntry(spec.pdf_code, spec.pdf_code, doc_pdf))
        title = f"{spec.pdf_title} — {numero}"
        files.append((doc_pdf, make_pdf(title, size_bytes=pdf_bytes, filler=filler, creation_date=stamp)))
    pieces: list[envelope.Piece] = []
    per_code: dict[str, int] = {}
    for i in range(attachments):
        code = spec.pj_codes[i % len(spec.pj_codes)]
        per_code[code] = per_code.get(code, 0) + 1
        fichier = envelope.pj_name(numero, flow, code, per_code[code], step)
        pieces.append(envelope.Piece(rng.choice(payloads.PJ_LABELS.get(code, ("piece.pdf",))), code, fichier))
        title = f"Pièce justificative {code} n°{per_code[code]} — {numero}"
        files.append((fichier, make_pdf(title, size_bytes=pdf_bytes, filler=filler, creation_date=stamp)))
    header = DemandHeader(
        numero=numero,
        flow=flow,
        step=step,
        message_id=message_id,
        sender_siret=envelope.PORTAL_SIRET,
        recipient_siret=siret_for(insee),
        insee=insee,
    )
    message = envelope.message_xml(
        message_id=message_id,
        flow=flow,
        sender_siret=header.sender_siret,
        recipient_siret=header.recipient_siret,
        service=spec.service,
        td=td,
        insee=insee,
        pieces=pieces,
        documents=documents,
    )
    ent = (envelope.ent_name(numero, flow, step), envelope.ent_xml(td, insee, pieces, documents))
    return DemandParts(header, when, [("message.xml", message), ent, *files], pieces)
