"""The business ("-doc") XML of each flow, the part of a demand the back-office software reads.

- AEC-LA: ``EnveloppeMetierType/DemandeActe``, shaped like the HubEE/MDEL sample
  ``shared/data/hubee/jdd/ETATCIVIL/ActeEtatCivil-XML.xml`` (no namespace).
- RCO-LA: ``RecensementCitoyen``, shaped like ``shared/data/hubee/jdd/RECENSEMENTCITOYEN/10870-XML.xml``
  (dates dd/mm/yyyy, repeated LieuNaissance, empty elements kept).
- ILE-LA: no sample of the real payload is available (ILE-LA has gone through the INSEE REU since 2019).
  ``InscriptionListeElectorale`` is **our own design**, built from the same vocabulary as the RCO payload
  (Formalite, person fields, AdresseDomicile, MethodeContact) plus what cerfa 12669 asks for: the list,
  the reason for registering and the previous registration. Treat it as plausible, not official.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from lxml import etree

from aiguilleur.fakes.mdel_portal.people import Person, commune, make_person


@dataclass(frozen=True, slots=True)
class FlowSpec:
    """What differs between the three flows."""

    flow: str
    demarche: str  # NumeroDemarche in message.xml (value not documented in our sources)
    doc_code: str  # Code of the business XML document
    pdf_code: str  # Code of the cerfa / recap PDF
    pdf_title: str
    pj_codes: tuple[str, ...]  # attachment codes, in the order they are used
    service: str  # recipient service in the PEC routing header


FLOW_SPECS: dict[str, FlowSpec] = {
    "RCO-LA": FlowSpec(
        "RCO-LA", "RCO", "10870-XML", "10870-PDF", "Cerfa n°10870 — Recensement citoyen obligatoire",
        ("ji", "jf", "jd"), "RECENSEMENT",
    ),
    "AEC-LA": FlowSpec(
        "AEC-LA", "AEC", "ActeEtatCivil-XML", "ActeEtatCivil-PDF", "Demande d'acte d'état civil",
        ("ji", "jf", "jd"), "ETAT-CIVIL",
    ),
    "ILE-LA": FlowSpec(
        "ILE-LA", "ILE", "12669-XML", "12669-PDF",
        "Cerfa n°12669 — Demande d'inscription sur les listes électorales", ("ji", "jd", "jf"), "ELECTIONS",
    ),
}  # fmt: skip
FLOWS: tuple[str, ...] = tuple(FLOW_SPECS)

PJ_LABELS = {
    "ji": ("CNI recto verso.pdf", "passeport.pdf", "Pièce d'identité.pdf", "scan_cni.pdf"),
    "jd": ("facture EDF.pdf", "justificatif_domicile.pdf", "quittance loyer octobre.pdf", "avis taxe.pdf"),
    "jf": ("livret de famille.pdf", "livret_famille_p1-p4.pdf", "acte naissance parent.pdf"),
}


XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _tostring(root: etree._Element) -> bytes:
    etree.indent(root, space="\t")
    return XML_DECLARATION + etree.tostring(root, xml_declaration=False, encoding="UTF-8") + b"\n"


def _fr(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def _dept(insee: str) -> str:
    return insee[:2]


def _address(parent: etree._Element, tag: str, person: Person) -> None:
    a = person.address
    block = _sub(parent, tag)
    for name, value in (
        ("PointDeRemise", ""), ("Complement", ""), ("NumeroVoie", a.number), ("Extension", ""),
        ("TypeVoie", a.street_type), ("NomVoie", a.street_name), ("LieuDit", ""),
        ("CodePostal", a.postal_code), ("Localite", a.city), ("CodeINSEE", a.insee),
    ):  # fmt: skip
        _sub(block, name, value)


def _birth(parent: etree._Element, person: Person | None) -> None:
    _sub(parent, "DateNaissance", _fr(person.birth_date) if person else "")
    _sub(parent, "PaysNaissance", "FRA" if person else "")
    _sub(parent, "Nationalite", "FRA" if person else "")
    _sub(parent, "CodeINSEENaissance", person.birth_insee if person else "")
    for code, name in (
        ("COMMUNE", person.birth_city if person else ""),
        ("AUTRE", commune(person.birth_insee)[1] if person else ""),
    ):
        place = _sub(parent, "LieuNaissance")
        _sub(place, "Code", code)
        _sub(place, "Nom", name)


def _contacts(parent: etree._Element, person: Person) -> None:
    for uri, canal in ((person.email, "EMAIL"), (person.phone, "TEL")):
        contact = _sub(parent, "MethodeContact")
        _sub(contact, "URI", uri)
        _sub(contact, "CanalCode", canal)


def _formalite(parent: etree._Element, submitted: datetime, motif: str) -> None:
    formalite = _sub(parent, "Formalite")
    _sub(formalite, "Identifiant")
    _sub(formalite, "FormaliteType", "DECL")
    _sub(formalite, "DateSoumission", submitted.strftime("%Y-%m-%dT%H:%M:%S"))
    _sub(formalite, "FormaliteMotifCode", motif)
    _sub(formalite, "FormaliteModeCode", "AJOUT")


def recensement(rng: random.Random, person: Person, submitted: datetime) -> bytes:
    """RCO-LA payload: a 16-year-old's census declaration (cerfa 10870)."""
    root = etree.Element("RecensementCitoyen")
    _sub(root, "Convention", "")
    _formalite(root, submitted, "RECENSEMENT")
    personne = _sub(root, "Personne")
    _sub(personne, "Civilite", "MME" if person.is_female else "M")
    _sub(personne, "Sexe", "2" if person.is_female else "1")
    _sub(personne, "NomFamille", person.surname)
    _sub(personne, "NomUsage", "")
    _sub(personne, "PrenomUsuel", person.first_name.upper())
    _sub(personne, "Prenom", " ".join(person.first_names[1:]).upper())
    _birth(personne, person)
    _address(personne, "AdresseDomicile", person)
    residence = _sub(personne, "AdresseResidence")
    for name in ("PointDeRemise", "Complement", "NumeroVoie", "Extension", "TypeVoie", "NomVoie", "LieuDit",
                 "CodePostal", "Localite"):  # fmt: skip
        _sub(residence, name, "")
    situation = _sub(personne, "SituationFamille")
    _sub(situation, "SituationMatrimoniale", "Célibataire")
    _sub(situation, "NombreEnfants", "0")
    _sub(situation, "Pupille", "")
    _sub(situation, "NombreFrereSoeur", str(rng.randint(0, 4)))
    _contacts(personne, person)
    adult = (person.birth_date - timedelta(days=365 * 45), person.birth_date - timedelta(days=365 * 20))
    insee = person.address.insee
    for tag, parent in (
        (
            "FiliationPere",
            make_person(rng, insee=insee, born_between=adult, surname=person.surname, is_female=False),
        ),
        ("FiliationMere", make_person(rng, insee=insee, born_between=adult, is_female=True)),
    ):
        block = _sub(root, tag)
        _sub(block, "NomFamille", parent.surname)
        _sub(block, "PrenomUsuel", parent.first_name.upper())
        _sub(block, "Prenom", "")
        _birth(block, parent)
    return _tostring(root)


ACTE_TYPES = (("NAISSANCE", "Acte de naissance"), ("MARIAGE", "Acte de mariage"), ("DECES", "Acte de décès"))
ACTE_NATURES = (
    ("COPIE-INTEGRALE", "Copie intégrale"), ("EXTRAIT-AVEC-FILIATION", "Extrait avec filiation"),
    ("EXTRAIT-SANS-FILIATION", "Extrait sans filiation"), ("EXTRAIT-PLURILINGUE", "Extrait plurilingue"),
)  # fmt: skip
MOTIFS = ("Passeport", "Mariage", "Pacs", "Succession", "Retraite", "Autre")
QUALITES = {
    "PersonneConcernee": "La personne concernée par l'acte",
    "Conjoint": "Son époux ou son épouse",
    "Enfant": "Son fils ou sa fille",
    "Parent": "Son père ou sa mère",
}


def demande_acte(rng: random.Random, person: Person, titulaire: Person, submitted: datetime) -> bytes:
    """AEC-LA payload: a request for a civil-status certificate held by the routing commune."""
    type_code, type_label = rng.choices(ACTE_TYPES, weights=(6, 3, 1))[0]
    nature_code, nature_label = rng.choice(ACTE_NATURES)
    insee = titulaire.birth_insee  # the acte is held where the event took place: the routing commune
    city, postal = commune(insee)
    if type_code == "NAISSANCE":
        acte_date = titulaire.birth_date
    else:
        earliest = titulaire.birth_date + timedelta(days=18 * 365)
        span = (submitted.date() - timedelta(days=30) - earliest).days
        acte_date = earliest + timedelta(days=rng.randint(0, max(0, span)))
    if person is titulaire:
        qualite = "PersonneConcernee"
    else:
        qualite = rng.choice(("Enfant", "Conjoint") if type_code == "DECES" else ("Parent", "Conjoint"))
    root = etree.Element("EnveloppeMetierType", canal_utilise="0")
    demande = _sub(root, "DemandeActe")
    for tag, code, label in (("TypeActe", type_code, type_label), ("NatureActe", nature_code, nature_label)):
        block = _sub(demande, tag)
        _sub(block, "Code", code)
        _sub(block, "Libelle", label)
    _sub(demande, "DateActe", acte_date.isoformat())
    lieu = _sub(demande, "LieuActe")
    _sub(lieu, "CodePostal", postal)
    _sub(lieu, "Ville", city)
    _sub(lieu, "CodeINSEE", insee)
    _sub(demande, "NombreExemplaires", str(rng.choice((1, 1, 1, 2))))
    motif = rng.choice(MOTIFS)
    motif_block = _sub(demande, "MotifDemande")
    _sub(motif_block, "Libelle", motif)
    _sub(motif_block, "Commentaire", motif)
    demandeur = _sub(demande, "Demandeur")
    qualite_block = _sub(demandeur, "QualiteDemandeur")
    _sub(qualite_block, "Code", qualite)
    _sub(qualite_block, "Libelle", QUALITES[qualite])
    _sub(demandeur, "Civilite", "MADAME" if person.is_female else "MONSIEUR")
    _sub(demandeur, "Nom", person.surname)
    _sub(demandeur, "Prenom", " ".join(person.first_names))
    adresse = _sub(demandeur, "AdresseFrancaise")
    _sub(adresse, "Voie", person.address.line)
    _sub(adresse, "CodePostal", person.address.postal_code)
    _sub(adresse, "Ville", person.address.city)
    _sub(demandeur, "Courriel", person.email)
    block = _sub(demande, "Titulaire")
    _sub(block, "Civilite", "MADAME" if titulaire.is_female else "MONSIEUR")
    _sub(block, "NomNaissance", titulaire.surname)
    _sub(block, "Prenoms", " ".join(titulaire.first_names))
    _sub(block, "DateDeNaissance", titulaire.birth_date.isoformat())
    _sub(block, "LieuDeNaissance", titulaire.birth_city)
    _sub(block, "DepartementDeNaissance", _dept(titulaire.birth_insee))
    return _tostring(root)


LISTES = (("LG", "Liste générale"), ("LCM", "Liste complémentaire municipale"),
          ("LCE", "Liste complémentaire européenne"))  # fmt: skip
MOTIFS_ILE = (
    ("DOMICILE", "Domicile dans la commune"),
    ("RESIDENCE", "Résidence de plus de 6 mois dans la commune"),
    ("CONTRIBUABLE", "Contribuable de la commune depuis 2 ans"),
    ("GERANT", "Gérant d'une société de la commune"),
)  # fmt: skip


def inscription_liste(rng: random.Random, person: Person, insee: str, submitted: datetime) -> bytes:
    """ILE-LA payload of our own design (see the module docstring)."""
    root = etree.Element("InscriptionListeElectorale")
    _formalite(root, submitted, "INSCRIPTION")
    liste_code, liste_label = rng.choices(LISTES, weights=(18, 1, 1))[0]
    liste = _sub(root, "Liste")
    _sub(liste, "Code", liste_code)
    _sub(liste, "Libelle", liste_label)
    motif_code, motif_label = rng.choices(MOTIFS_ILE, weights=(16, 2, 1, 1))[0]
    motif = _sub(root, "MotifInscription")
    _sub(motif, "Code", motif_code)
    _sub(motif, "Libelle", motif_label)
    electeur = _sub(root, "Electeur")
    _sub(electeur, "Civilite", "MME" if person.is_female else "M")
    _sub(electeur, "Sexe", "2" if person.is_female else "1")
    _sub(electeur, "NomFamille", person.surname)
    _sub(electeur, "NomUsage", "")
    _sub(electeur, "Prenoms", " ".join(person.first_names).upper())
    _birth(electeur, person)
    _address(electeur, "AdresseDomicile", person)
    _contacts(electeur, person)
    city, _ = commune(insee)
    inscription = _sub(root, "CommuneInscription")
    _sub(inscription, "CodeINSEE", insee)
    _sub(inscription, "Nom", city)
    previous = _sub(root, "InscriptionPrecedente")
    moved = rng.random() < 0.7
    previous_insee = rng.choice(sorted(set(("75056", "69123", "13055", "33063")) - {insee})) if moved else ""
    _sub(previous, "CodeINSEE", previous_insee)
    _sub(previous, "Commune", commune(previous_insee)[0] if moved else "")
    _sub(previous, "Pays", "FRA" if moved else "")
    return _tostring(root)
