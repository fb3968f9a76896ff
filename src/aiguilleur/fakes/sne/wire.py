"""What the SNE web service is on the wire: namespaces, actions, the six operations and their parameters.

Everything here comes from research/sne.md §0–§1 (tags there: [L] seen in libsne's WSDL/XSD, [I] inferred).
The fake's WSDL (``wsdl/DemandeLogementImplService.wsdl``) says the same things; a test checks they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

SERVICE_NS = "http://ws.metier.nuu.application.i2/"  # WSDL target namespace: the SOAP payload [L]
NUU_NS = "http://nuu.application.i2/"  # business files: demande, listeDoublons [L]
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XOP_NS = "http://www.w3.org/2004/08/xop/include"
XML_NS = "http://www.w3.org/XML/1998/namespace"

SERVICE_NAME = "DemandeLogementImplService"
# The école host answers POST /services/DemandeLogementImplService/ [L]; CXF serves the same endpoint with
# or without the trailing slash.
SERVICE_PATH = "/services/DemandeLogementImplService/"
SERVICE_PATHS = frozenset({SERVICE_PATH, SERVICE_PATH.rstrip("/")})

# CXF names attachment Content-IDs <uuid>-<n>@<host of the service namespace> (CXF-2669) [I].
CID_DOMAIN = "ws.metier.nuu.application.i2"
CXF_ROOT_CID = "root.message@cxf.apache.org"


class SoapVersion(StrEnum):
    """SOAP 1.2 is the service's binding [L]; 1.1 is only ever accepted in lenient mode."""

    V12 = "1.2"
    V11 = "1.1"

    @property
    def envelope_ns(self) -> str:
        return SOAP12_NS if self is SoapVersion.V12 else SOAP11_NS

    @property
    def media_type(self) -> str:
        return "application/soap+xml" if self is SoapVersion.V12 else "text/xml"


ParamKind = Literal["string", "binary", "datetime", "code"]


@dataclass(frozen=True, slots=True)
class Param:
    """One child of a request wrapper element: unqualified, in sequence order [L]."""

    name: str
    kind: ParamKind
    required: bool = True


@dataclass(frozen=True, slots=True)
class Operation:
    name: str  # getNumUnique…; the action is SERVICE_NS + name [L]
    request: str  # wrapper element of the request, in SERVICE_NS
    response: str  # wrapper element of the response
    message: str  # WSDL message stem: <message>Request / <message>Response [L]
    params: tuple[Param, ...]
    is_read: bool  # a read is idempotent; getNumUnique and getDeclarationNouveauDalo are not

    @property
    def action(self) -> str:
        return SERVICE_NS + self.name


_CERT = (Param("nomCertificat", "string"), Param("certificat", "binary"))

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "getNumUnique",
        "numUniqueParametres",
        "numUniqueReponse",
        "numUnique",
        (
            Param("nomFichierDemande", "string"),
            Param("fichierDemande", "binary"),
            *_CERT,
            Param("complet", "string", required=False),
        ),
        is_read=False,
    ),
    Operation(
        "getDemandeLogement",
        "demandeLogementParametres",
        "demandeLogementReponse",
        "demandeLogement",
        (Param("numUnique", "string"), *_CERT, Param("complet", "string", required=False)),
        is_read=True,
    ),
    Operation(
        "getDoublons",
        "rechercheDoublonsParametres",
        "rechercheDoublonsReponse",
        "rechercheDoublons",
        (Param("nomFichierDemande", "string"), Param("fichierDemande", "binary")),  # no certificate [L]
        is_read=True,
    ),
    Operation(
        "getNouveauxDaloDepuisLe",
        "nouveauxDaloDepuisLeParametres",
        "nouveauxDaloDepuisLeReponse",
        "nouveauxDaloDepuisLe",
        (Param("dateNouveauDaloDepuisLe", "datetime"), *_CERT),
        is_read=True,
    ),
    Operation(
        "getDemandesRadieesDepuisLe",
        "demandesRadieesDepuisLeParametres",
        "demandesRadieesDepuisLeReponse",
        "demandesRadieesDepuisLe",
        (
            Param("dateRadiationDepuisLe", "datetime"),
            Param("motifRadiation", "code", required=False),
            Param("statutDalo", "code", required=False),
            Param("typeReservataire", "code", required=False),
            *_CERT,
        ),
        is_read=True,
    ),
    Operation(
        "getDeclarationNouveauDalo",
        "declarationNouveauDaloParametres",
        "declarationNouveauDaloReponse",
        "declarationNouveauDalo",
        (Param("nomFichierDalo", "string"), Param("fichierDalo", "binary"), *_CERT),
        is_read=False,
    ),
)

BY_NAME = {op.name: op for op in OPERATIONS}
BY_REQUEST_ELEMENT = {op.request: op for op in OPERATIONS}

# Children of each response wrapper, in sequence order; all optional but where noted in research §1.1.
RESPONSE_CHILDREN: dict[str, tuple[str, ...]] = {
    "getNumUnique": ("nomFichierDemande", "fichierDemande", "nomAttestation", "attestation"),
    "getDemandeLogement": ("nomFichierDemande", "fichierDemande"),
    "getDoublons": ("nomFichierDoublons", "listeDoublons", "nomFichierDemande", "fichierDemande"),
    "getNouveauxDaloDepuisLe": ("nomFichierNouveauxDalo", "fichierNouveauxDalo"),
    "getDemandesRadieesDepuisLe": ("nomFichierDemandesRadiees", "fichierDemandesRadiees"),
    "getDeclarationNouveauDalo": ("nomFichierDalo", "fichierDalo"),
}

# Code lists for the getDemandesRadieesDepuisLe filters (libsne's constants, so the CdC's) [L].
MOTIFS_RADIATION = frozenset({"RADABA", "RADATT", "RADIRR", "RADCON", "RADREN"})
STATUTS_DALO = frozenset({"NON", "ACTIF", "CADUC", "ACTREL"})
TYPES_RESERVATAIRE = frozenset({"COLTER", "COLACT", "PPRIOR", "PFONCT", "AUTRES", "AUCUN"})
TYPES_FICHIER = frozenset({"CRE", "CRS", "MOD", "RAD", "REN", "SUP", "DIS", "RET", "COP"})
TYPES_LOGEMENT = frozenset({"C", "T1", "T2", "T3", "T4", "T5", "T6P"})
VERSIONS_INTERFACE = frozenset({"02.00", "02.01"})

# The two French fault texts known from libsne [L].
UNEXPECTED_ERROR = "Une erreur inattendue est survenue lors du traitement de la demande."
CERTIFICATE_NAME_ERROR = "Le nom du certificat associé [{name}] n'est pas conforme."
