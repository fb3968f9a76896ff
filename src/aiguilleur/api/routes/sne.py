"""The SNE for back-office software that cannot speak SOAP + MTOM with mutual TLS: the hub does it.

``/api/v1/sne/{connector}/…``, one route per operation, operator tokens and above (each call is a
request to a national register, made with the collectivité's certificate). Demande and DALO files are
sent as the raw body (``application/xml``); answers are JSON with the returned files in base64, the
anomalies and probable duplicates structured. A SOAP fault is a 502 problem carrying ``fault_code``,
``fault_reason`` and ``fault_detail``; a file refused before sending, a 422 listing each element path.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from aiguilleur.api.deps import HubDep, OperatorDep
from aiguilleur.api.problems import PayloadTooLarge, problem, problem_responses
from aiguilleur.connectors.sne import results
from aiguilleur.connectors.sne.client import SneClient
from aiguilleur.connectors.sne.errors import SneFault, SneValidationError
from aiguilleur.connectors.sne.service import SneService
from aiguilleur.engine.hub import Hub
from aiguilleur.errors import NotFound

router = APIRouter(prefix="/sne", tags=["sne"], responses=problem_responses(401, 403, 404, 422, 502, 503))
R = TypeVar("R")


class AnomalyView(BaseModel):
    code: str
    message: str
    propriete: str | None
    complements: dict[str, str]


class DoublonView(BaseModel):
    num_unique: str
    nom: str | None
    prenom: str | None
    date_naissance: str | None


class DemandeView(BaseModel):
    """getNumUnique / getDemandeLogement; `demande_xml` and `attestation` in base64."""

    num_unique: str | None
    nom_fichier: str | None
    demande_xml: str
    nom_attestation: str | None
    attestation: str | None
    anomalies: list[AnomalyView]
    doublons: list[DoublonView]
    hint: str | None


class DoublonsView(BaseModel):
    doublons: list[DoublonView]
    nom_fichier_doublons: str | None
    liste_doublons_xml: str | None


class FileView(BaseModel):
    """A file answer in base64; both null when the SNE has nothing."""

    nom_fichier: str | None
    content: str | None
    anomalies: list[AnomalyView]


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode("ascii") if data is not None else None


def _anomalies(found: tuple[results.Anomaly, ...]) -> list[AnomalyView]:
    return [
        AnomalyView(code=a.code, message=a.message, propriete=a.propriete, complements=dict(a.complements))
        for a in found
    ]


def _doublons(found: tuple[results.Doublon, ...]) -> list[DoublonView]:
    return [
        DoublonView(num_unique=d.num_unique, nom=d.nom, prenom=d.prenom, date_naissance=d.date_naissance)
        for d in found
    ]


def _demande(result: results.DemandeResult) -> DemandeView:
    return DemandeView(
        num_unique=result.num_unique,
        nom_fichier=result.nom_fichier,
        demande_xml=_b64(result.demande_xml) or "",
        nom_attestation=result.nom_attestation,
        attestation=_b64(result.attestation),
        anomalies=_anomalies(result.anomalies),
        doublons=_doublons(result.doublons),
        hint=result.hint,
    )


def _file(result: results.FileResult) -> FileView:
    return FileView(
        nom_fichier=result.nom_fichier, content=_b64(result.content), anomalies=_anomalies(result.anomalies)
    )


def _client(hub: Hub, connector: str) -> SneClient:
    service = hub.connector(connector)
    if not isinstance(service, SneService):
        raise NotFound(f"« {connector} » n'est pas un connecteur sne")
    return service.client()


async def _call(call: Callable[[], R]) -> R | JSONResponse:
    try:
        return await run_in_threadpool(call)
    except SneFault as exc:
        return problem(
            502,
            type(exc).__name__,
            str(exc),
            fault_code=exc.code,
            fault_reason=exc.reason,
            fault_detail=exc.detail,
        )
    except SneValidationError as exc:
        return problem(
            422,
            type(exc).__name__,
            str(exc),
            errors=[{"path": p.path, "message": p.message} for p in exc.problems],
        )


async def _xml_body(request: Request) -> bytes:
    limit: int = request.app.state.max_upload_bytes
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge(f"fichier de {len(body)} octets, {limit} au plus")
    return body


@router.post("/{connector}/num-unique", response_model=DemandeView)
async def num_unique(
    connector: str, request: Request, hub: HubDep, principal: OperatorDep
) -> DemandeView | JSONResponse:
    """getNumUnique: register (or modify, renew, radiate) the demande file sent as the body."""
    body, client = await _xml_body(request), _client(hub, connector)
    answer = await _call(lambda: client.get_num_unique(body))
    return answer if isinstance(answer, JSONResponse) else _demande(answer)


@router.get("/{connector}/demandes/{num_unique}", response_model=DemandeView)
async def demande_logement(
    connector: str, num_unique: str, hub: HubDep, principal: OperatorDep
) -> DemandeView | JSONResponse:
    """getDemandeLogement: the demande registered under `num_unique`."""
    client = _client(hub, connector)
    answer = await _call(lambda: client.get_demande_logement(num_unique))
    return answer if isinstance(answer, JSONResponse) else _demande(answer)


@router.post("/{connector}/doublons", response_model=DoublonsView)
async def doublons(
    connector: str, request: Request, hub: HubDep, principal: OperatorDep
) -> DoublonsView | JSONResponse:
    """getDoublons: probable duplicates of the (partial) demande file sent as the body."""
    body, client = await _xml_body(request), _client(hub, connector)
    answer = await _call(lambda: client.get_doublons(body))
    if isinstance(answer, JSONResponse):
        return answer
    return DoublonsView(
        doublons=_doublons(answer.doublons),
        nom_fichier_doublons=answer.nom_fichier_doublons,
        liste_doublons_xml=_b64(answer.liste_doublons_xml),
    )


Since = Annotated[
    datetime, Query(description="date et heure avec fuseau, par exemple 2026-11-01T00:00:00+01:00")
]


@router.get("/{connector}/nouveaux-dalo", response_model=FileView)
async def nouveaux_dalo(
    connector: str, depuis: Since, hub: HubDep, principal: OperatorDep
) -> FileView | JSONResponse:
    """getNouveauxDaloDepuisLe."""
    client = _client(hub, connector)
    answer = await _call(lambda: client.get_nouveaux_dalo_depuis_le(depuis))
    return answer if isinstance(answer, JSONResponse) else _file(answer)


@router.get("/{connector}/radiees", response_model=FileView)
async def radiees(
    connector: str,
    depuis: Since,
    hub: HubDep,
    principal: OperatorDep,
    motif_radiation: str | None = None,
    statut_dalo: str | None = None,
    type_reservataire: str | None = None,
) -> FileView | JSONResponse:
    """getDemandesRadieesDepuisLe with its optional filters."""
    client = _client(hub, connector)
    answer = await _call(
        lambda: client.get_demandes_radiees_depuis_le(
            depuis,
            motif_radiation=motif_radiation,
            statut_dalo=statut_dalo,
            type_reservataire=type_reservataire,
        )
    )
    return answer if isinstance(answer, JSONResponse) else _file(answer)


@router.post("/{connector}/declarations-dalo", response_model=FileView)
async def declaration_dalo(
    connector: str, request: Request, hub: HubDep, principal: OperatorDep
) -> FileView | JSONResponse:
    """getDeclarationNouveauDalo: the DALO file sent as the body."""
    body, client = await _xml_body(request), _client(hub, connector)
    answer = await _call(lambda: client.get_declaration_nouveau_dalo(body))
    return answer if isinstance(answer, JSONResponse) else _file(answer)
