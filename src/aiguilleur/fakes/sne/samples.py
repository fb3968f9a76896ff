"""Sample material for the fake SNE: minimal valid demande files, the attestation PDF, a demo register.

`demande_xml` follows the required skeleton of research/sne.md §1.2 for a *personne physique* (elements in
schema order); the people are invented.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape

from aiguilleur.fakes.sne import wire

_NS = wire.NUU_NS


def demande_xml(
    *,
    nom: str = "MARTIN",
    prenom: str = "Claire",
    date_naissance: str = "1990-05-01",
    guichet: str = "G0000",
    commune: str = "59350",
    type_fichier: str = "CRE",
    num_unique: str | None = None,
    date_creation: str = "2026-11-02",
    date_fichier: str = "2026-11-24T09:00:00",
    forcer_doublon: bool | None = None,
    statut_dalo: str | None = None,
    date_decision_dalo: str = "2026-11-20",
    radiation: tuple[str, str] | None = None,
    type_reservataire: str | None = None,
    association: str | None = None,
    version: str = "02.01",
) -> bytes:
    """A demande file (prefix ``tns``, UTF-8, compact). `radiation` is (dateRadiation, motif code);
    `association` a name makes it an association's demande instead of a person's."""
    dalo = ""
    if statut_dalo is not None:
        dalo = (
            f'<tns:informationDalo><tns:statutDalo code="{statut_dalo}"/>'
            f"<tns:dateDecisionDalo>{date_decision_dalo}</tns:dateDecisionDalo></tns:informationDalo>"
        )
    numero = f"<tns:numUnique>{num_unique}</tns:numUnique>" if num_unique else ""
    forcer = (
        ""
        if forcer_doublon is None
        else f"<tns:forcerDoublon>{str(forcer_doublon).lower()}</tns:forcerDoublon>"
    )
    if association is not None:
        qui = f"<tns:association><tns:nom>{escape(association)}</tns:nom></tns:association>"
    else:
        qui = (
            "<tns:personnePhysique><tns:demandeur>"
            f'<tns:civilite code="2"/><tns:nom>{escape(nom)}</tns:nom>'
            f"<tns:prenom>{escape(prenom)}</tns:prenom>"
            f'<tns:dateNaissance>{date_naissance}</tns:dateNaissance><tns:nationalite code="1"/>'
            '<tns:situationFamiliale code="C"/>'
            "<tns:adressePostale><tns:etranger>false</tns:etranger><tns:voie>12 rue des Arts</tns:voie>"
            f'<tns:codePostal>59000</tns:codePostal><tns:commune code="{commune}"/></tns:adressePostale>'
            '<tns:situationProfessionnelle><tns:typeContratTravail code="CDI"/>'
            "</tns:situationProfessionnelle>"
            "<tns:revenuFiscal/><tns:listeRessourceRecue/><tns:listeRessourceVersee/>"
            "<tns:listeRessourceRecuePersACharge/><tns:listeRessourceVerseePersACharge/>"
            "</tns:demandeur><tns:logementActuel><tns:listeModeleLogement>"
            '<tns:modeleLogement code="LP"/></tns:listeModeleLogement>'
            "<tns:proprietaire>false</tns:proprietaire></tns:logementActuel></tns:personnePhysique>"
        )
    radie = ""
    if radiation is not None:
        attribution = ""
        if type_reservataire is not None:
            attribution = (
                f'<tns:attributionLogement><tns:typeReservataire code="{type_reservataire}"/>'
                "</tns:attributionLogement>"
            )
        radie = (
            f"<tns:radiation><tns:dateRadiation>{radiation[0]}</tns:dateRadiation>"
            f'<tns:motifRadiation code="{radiation[1]}"/>{attribution}</tns:radiation>'
        )
    return (
        f'<tns:interfaceNuu xmlns:tns="{_NS}" versionInterface="{version}">'
        f"<tns:entete><tns:typeFichier>{type_fichier}</tns:typeFichier>"
        f"<tns:dateFichier>{date_fichier}</tns:dateFichier></tns:entete>"
        f"<tns:demande>{dalo}<tns:demandeLogement><tns:numGuichet>{guichet}</tns:numGuichet>{numero}"
        f"<tns:dateCreationDemande>{date_creation}</tns:dateCreationDemande>{forcer}<tns:precision/>"
        "<tns:logementRecherche><tns:demandeElargie>false</tns:demandeElargie>"
        '<tns:listeTypeLogement><tns:typeLogement code="T3"/></tns:listeTypeLogement>'
        "<tns:listeLocalisationSouhaite><tns:localisationSouhaite>"
        f'<tns:commune code="{commune}"/></tns:localisationSouhaite></tns:listeLocalisationSouhaite>'
        f"</tns:logementRecherche>{qui}{radie}</tns:demandeLogement></tns:demande></tns:interfaceNuu>"
    ).encode()


def attestation_pdf(num_unique: str, when: datetime) -> bytes:
    """A one-page PDF saying the demande is registered (placeholder for the legal attestation)."""
    text = f"Attestation d'enregistrement - numero unique {num_unique} - {when.astimezone(UTC):%Y-%m-%d}"
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
