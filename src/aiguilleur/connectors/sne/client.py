"""SneClient: the six operations of ``DemandeLogementImplService`` over HTTPS with mutual TLS.

One typed method per operation, returning values (`results.py`) and raising the `SneError` tree
(`errors.py`). One `httpx.Client` per SneClient: connections are reused (keep-alive), which is what
makes 500 calls cheap where libsne opened a TLS connection per call. Read operations are retried on
transient errors with doubling back-off; getNumUnique and getDeclarationNouveauDalo never are (not
idempotent: a retry after a lost answer could register a demande or a DALO twice, research §5.2).

File names follow libsne's observed pattern with our guichet (research §1.1): the demande
``DEM<guichet>-<yyyyMMddHHmm>-<seq>.xml``, the certificate ``CER<guichet>-<yyyyMMddHHmm>.pem``, a DALO
declaration ``DAL<guichet>-<yyyyMMddHHmm>-<seq>.xml``, in Paris time. The ``certificat`` attachment is
the client's public leaf certificate (research §2.4: an empty one is refused by the DALO operations).
"""

from __future__ import annotations

import itertools
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self
from zoneinfo import ZoneInfo

import httpx
from lxml import etree

from aiguilleur.connectors.sne import results, soap, validation
from aiguilleur.connectors.sne.config import SneConfig
from aiguilleur.connectors.sne.errors import (
    Problem,
    SneAuthRefused,
    SneError,
    SneProtocolError,
    SneRejected,
    SneTlsRefused,
    SneUnavailable,
    SneValidationError,
)
from aiguilleur.connectors.sne.tls import TlsMaterial, load_material

logger = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")
_SOAP_TYPES = ("multipart/related", "application/soap+xml", "text/xml", "application/xop+xml")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


def xs_datetime(moment: datetime) -> str:
    """An aware datetime as xs:dateTime in Paris time with its offset (``2024-01-01T00:00:00.000+01:00``)."""
    if moment.tzinfo is None:
        raise ValueError("date sans fuseau horaire : donner une date avec fuseau (UTC ou Europe/Paris)")
    return moment.astimezone(PARIS).isoformat(timespec="milliseconds")


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class SneClient:
    """Client of one SNE endpoint with one guichet's certificate; use as a context manager or `close()`."""

    def __init__(
        self,
        config: SneConfig,
        *,
        source: str = "sne",
        material: TlsMaterial | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.source = source
        self.material = material or load_material(config)
        self.sleep = sleep
        self.now = now
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()
        # TCP_NODELAY: httpcore writes the headers and the body separately; with Nagle's algorithm the
        # body would wait for the peer's delayed ACK (40 ms on Linux) on every kept-alive call.
        transport = transport or httpx.HTTPTransport(
            verify=self.material.context, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        )
        self._http = httpx.Client(
            verify=self.material.context,
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            transport=transport,
            headers={"User-Agent": "aiguilleur-sne"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the six operations ------------------------------------------------------------------------------

    def get_num_unique(self, demande_xml: bytes, *, complet: str | None = None) -> results.DemandeResult:
        """Register (or modify, renew, radiate: ``entete/typeFichier``) a demande; never retried.

        Returns the returned demande with its numéro unique, attestation, anomalies and probable
        duplicates. Raises SneValidationError before sending when the file fails the checks.
        """
        self._validate(soap.NUM_UNIQUE, demande_xml, partial=False)
        params: list[tuple[str, soap.Value]] = [
            ("nomFichierDemande", self._file_name("DEM")),
            ("fichierDemande", soap.Binary(demande_xml, "text/xml; charset=UTF-8")),
            *self._certificate(),
        ]
        if complet is not None:
            params.append(("complet", complet))
        response, raw = self._call(soap.NUM_UNIQUE, params)
        return self._demande_result(soap.NUM_UNIQUE, response, raw, attestation=True)

    def get_demande_logement(self, num_unique: str, *, complet: str | None = None) -> results.DemandeResult:
        """The demande registered under `num_unique` (18 characters at most)."""
        if not num_unique or len(num_unique) > 18:
            raise SneValidationError(
                [Problem("numUnique", "1 à 18 caractères attendus")],
                operation=soap.DEMANDE_LOGEMENT.name,
                source=self.source,
            )
        params: list[tuple[str, soap.Value]] = [("numUnique", num_unique), *self._certificate()]
        if complet is not None:
            params.append(("complet", complet))
        response, raw = self._call(soap.DEMANDE_LOGEMENT, params)
        return self._demande_result(soap.DEMANDE_LOGEMENT, response, raw, attestation=False)

    def get_doublons(self, demande_xml: bytes) -> results.DoublonsResult:
        """Probable duplicates of a (possibly partial) demande; an empty result when there are none."""
        self._validate(soap.DOUBLONS, demande_xml, partial=True)
        params: list[tuple[str, soap.Value]] = [
            ("nomFichierDemande", self._file_name("DEM")),
            ("fichierDemande", soap.Binary(demande_xml, "text/xml; charset=UTF-8")),
        ]
        response, raw = self._call(soap.DOUBLONS, params)
        op = soap.DOUBLONS.name
        liste = soap.binary_field(response, "listeDoublons", op)
        doublons = results.doublons_in(self._parse_file(liste, "listeDoublons", op)) if liste else ()
        return results.DoublonsResult(
            raw_request=raw[0],
            raw_response=raw[1],
            doublons=doublons,
            nom_fichier_doublons=soap.text_field(response, "nomFichierDoublons"),
            liste_doublons_xml=liste,
            nom_fichier_demande=soap.text_field(response, "nomFichierDemande"),
            demande_xml=soap.binary_field(response, "fichierDemande", op),
        )

    def get_nouveaux_dalo_depuis_le(self, since: datetime) -> results.FileResult:
        """The demandes that became DALO since `since` (aware datetime); empty when none."""
        params: list[tuple[str, soap.Value]] = [
            ("dateNouveauDaloDepuisLe", xs_datetime(since)),
            *self._certificate(),
        ]
        response, raw = self._call(soap.NOUVEAUX_DALO, params)
        return self._file_result(
            soap.NOUVEAUX_DALO, response, raw, "nomFichierNouveauxDalo", "fichierNouveauxDalo"
        )

    def get_demandes_radiees_depuis_le(
        self,
        since: datetime,
        *,
        motif_radiation: str | None = None,
        statut_dalo: str | None = None,
        type_reservataire: str | None = None,
    ) -> results.FileResult:
        """The demandes radiated since `since`, optionally filtered by codes (RADATT, ACTIF, COLTER…)."""
        params: list[tuple[str, soap.Value]] = [("dateRadiationDepuisLe", xs_datetime(since))]
        for name, code in (
            ("motifRadiation", motif_radiation),
            ("statutDalo", statut_dalo),
            ("typeReservataire", type_reservataire),
        ):
            if code is not None:
                if not code.isalnum() or not 1 <= len(code) <= 6:
                    raise SneValidationError(
                        [Problem(f"{name}/@code", f"{code!r} : 1 à 6 lettres ou chiffres")],
                        operation=soap.DEMANDES_RADIEES.name,
                        source=self.source,
                    )
                params.append((name, soap.Code(code)))
        params.extend(self._certificate())
        response, raw = self._call(soap.DEMANDES_RADIEES, params)
        return self._file_result(
            soap.DEMANDES_RADIEES, response, raw, "nomFichierDemandesRadiees", "fichierDemandesRadiees"
        )

    def get_declaration_nouveau_dalo(
        self, dalo_xml: bytes, *, nom_fichier: str | None = None
    ) -> results.FileResult:
        """Declare a new DALO decision (file format per the CdC, sent as given); never retried."""
        root, problems = validation.parse_demande(dalo_xml)
        if root is None:
            raise SneValidationError(
                problems, operation=soap.DECLARATION_NOUVEAU_DALO.name, source=self.source
            )
        params: list[tuple[str, soap.Value]] = [
            ("nomFichierDalo", nom_fichier or self._file_name("DAL")),
            ("fichierDalo", soap.Binary(dalo_xml, "text/xml; charset=UTF-8")),
            *self._certificate(),
        ]
        response, raw = self._call(soap.DECLARATION_NOUVEAU_DALO, params)
        return self._file_result(
            soap.DECLARATION_NOUVEAU_DALO, response, raw, "nomFichierDalo", "fichierDalo"
        )

    # -- plumbing ----------------------------------------------------------------------------------------

    def _stamp(self) -> str:
        return self.now().astimezone(PARIS).strftime("%Y%m%d%H%M")

    def _file_name(self, prefix: str) -> str:
        with self._lock:
            seq = next(self._sequence) % 1_000_000
        return f"{prefix}{self.config.num_guichet}-{self._stamp()}-{seq:06d}.xml"

    def _certificate(self) -> list[tuple[str, soap.Value]]:
        return [
            ("nomCertificat", f"CER{self.config.num_guichet}-{self._stamp()}.pem"),
            (
                "certificat",
                soap.Binary(self.material.certificate_pem, "application/octet-stream", soap.CERTIFICATE_TYPE),
            ),
        ]

    def _validate(self, op: soap.Operation, data: bytes, *, partial: bool) -> None:
        problems: list[Problem] = []
        if self.config.validate_before_sending:
            problems = validation.check_demande(data, partial=partial)
        else:
            problems = validation.parse_demande(data)[1]
        if not problems and self.config.xsd_dir is not None and not partial:
            problems = validation.check_xsd(data, Path(self.config.xsd_dir))
        if problems:
            raise SneValidationError(problems, operation=op.name, source=self.source)

    def _call(
        self, op: soap.Operation, params: Sequence[tuple[str, soap.Value]]
    ) -> tuple[soap.Response, tuple[bytes, bytes]]:
        attempts = self.config.retries if op.is_idempotent else 1
        for attempt in range(1, attempts + 1):
            try:
                return self._once(op, params)
            except SneUnavailable as exc:
                if attempt >= attempts:
                    raise
                delay = self.config.backoff_s * 2 ** (attempt - 1)
                logger.warning(
                    "%s: %s failed (%s), attempt %d/%d in %.1fs",
                    self.source,
                    op.name,
                    exc,
                    attempt + 1,
                    attempts,
                    delay,
                )
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(
        self, op: soap.Operation, params: Sequence[tuple[str, soap.Value]]
    ) -> tuple[soap.Response, tuple[bytes, bytes]]:
        request = soap.build_request(op, params)
        what = f"{self.source} : {op.name}"
        started = time.monotonic()
        try:
            answer = self._http.post(self.config.url, content=request.body, headers=request.headers)
        except httpx.TimeoutException as exc:
            raise SneUnavailable(
                f"{what} : délai dépassé ({type(exc).__name__})", operation=op.name, source=self.source
            ) from exc
        except httpx.TransportError as exc:
            tls = _ssl_error(exc)
            if tls is not None and not isinstance(tls, ssl.SSLZeroReturnError):
                raise SneTlsRefused(
                    f"{what} : connexion TLS refusée ({getattr(tls, 'reason', None) or type(tls).__name__})",
                    operation=op.name,
                    source=self.source,
                ) from exc
            raise SneUnavailable(
                f"{what} : {type(exc).__name__}: {exc}", operation=op.name, source=self.source
            ) from exc
        raw = (request.body, answer.content)
        status = answer.status_code
        content_type = answer.headers.get("content-type", "")
        logger.info("%s: %s -> %d in %.3fs", self.source, op.name, status, time.monotonic() - started)

        def fail(cls: type[SneError], message: str) -> SneError:
            return cls(message, operation=op.name, source=self.source, status=status, response=answer.content)

        response: soap.Response | None = None
        if content_type.lower().startswith(_SOAP_TYPES):
            try:
                response = soap.parse_response(content_type, answer.content, op.name)
            except SneProtocolError:
                if status == 200:
                    raise
        if response is not None:
            soap.raise_for_fault(
                response, operation=op.name, source=self.source, status=status, raw=answer.content
            )
        if status == 429 or status >= 500:
            raise fail(SneUnavailable, f"{what} : HTTP {status}")
        if status in (401, 403):
            raise fail(SneAuthRefused, f"{what} : HTTP {status}")
        if status != 200:
            raise fail(SneRejected, f"{what} : HTTP {status}")
        if response is None:
            raise fail(SneProtocolError, f"{what} : réponse {content_type or 'sans type'} au lieu de SOAP")
        if response.payload is None or response.payload.tag != f"{{{soap.WS}}}{op.response}":
            got = response.payload.tag if response.payload is not None else "rien"
            raise fail(SneProtocolError, f"{what} : {got} au lieu de {op.response}")
        return response, raw

    def _parse_file(self, data: bytes, name: str, operation: str) -> etree._Element:
        try:
            return etree.fromstring(data, parser=_PARSER)
        except etree.XMLSyntaxError as exc:
            raise SneProtocolError(
                f"{self.source} : {operation} : <{name}> illisible ({exc})", operation=operation
            ) from exc

    def _demande_result(
        self, op: soap.Operation, response: soap.Response, raw: tuple[bytes, bytes], *, attestation: bool
    ) -> results.DemandeResult:
        demande = soap.binary_field(response, "fichierDemande", op.name)
        if demande is None:
            raise SneProtocolError(
                f"{self.source} : {op.name} : réponse sans fichierDemande", operation=op.name
            )
        root = self._parse_file(demande, "fichierDemande", op.name)
        return results.DemandeResult(
            raw_request=raw[0],
            raw_response=raw[1],
            num_unique=results.num_unique_in(root),
            nom_fichier=soap.text_field(response, "nomFichierDemande"),
            demande_xml=demande,
            nom_attestation=soap.text_field(response, "nomAttestation") if attestation else None,
            attestation=soap.binary_field(response, "attestation", op.name) if attestation else None,
            anomalies=results.anomalies_in(root),
            doublons=results.doublons_in(root),
        )

    def _file_result(
        self, op: soap.Operation, response: soap.Response, raw: tuple[bytes, bytes], name: str, content: str
    ) -> results.FileResult:
        data = soap.binary_field(response, content, op.name)
        anomalies: tuple[results.Anomaly, ...] = ()
        if data:
            try:  # the formats are not public (research §1.1): anomalies when it is XML that has some
                anomalies = results.anomalies_in(etree.fromstring(data, parser=_PARSER))
            except etree.XMLSyntaxError:
                anomalies = ()
        return results.FileResult(
            raw_request=raw[0],
            raw_response=raw[1],
            nom_fichier=soap.text_field(response, name),
            content=data,
            anomalies=anomalies,
        )


__all__ = ["SneClient", "SneError", "xs_datetime"]
