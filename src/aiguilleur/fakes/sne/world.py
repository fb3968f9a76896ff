"""The fake SNE: a register of demandes de logement social behind the ``DemandeLogementImplService``
SOAP 1.2 + XOP/MTOM endpoint (research/sne.md), answering like Apache CXF.

    sne = FakeSne(mode=Mode.STRICT, now=clock)
    sne.add_guichet("G0000", departement="059", certificate_cn="G0000")
    reply = sne.handle(body, {"Content-Type": 'multipart/related; type="application/xop+xml"; …'})
    reply.status, reply.headers, reply.body

`handle` takes one HTTP request (method, path, headers, body, and the TLS client certificate's CN when
the server knows it) and returns a `Reply`. `handle_http` does the same from the raw request bytes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources

from cryptography import x509
from cryptography.x509.oid import NameOID
from lxml import etree

from aiguilleur.fakes.sne import outbound, wire
from aiguilleur.fakes.sne.demande import N
from aiguilleur.fakes.sne.faults import SneFaults
from aiguilleur.fakes.sne.inbound import Binary, Decoded, decode_request
from aiguilleur.fakes.sne.operations import Guichet, Operations
from aiguilleur.fakes.sne.outbound import Child, CidStyle, CxfIds, Reply
from aiguilleur.fakes.sne.refusal import Mode, Refusal
from aiguilleur.fakes.sne.register import Radiation, Register, Registered

logger = logging.getLogger(__name__)

# What lenient mode accepts on top of strict mode: older clients' habits, libsne's first (research §2.1,
# §5.5). Strict mode refuses each with the check named in brackets.
LENIENT_QUIRKS: tuple[str, ...] = (
    'start="soaproot": a start parameter without angle brackets (libsne) [mime.start.brackets]',
    "no start parameter: the first part is the root (RFC 2387 default) [mime.start.missing]",
    "no start-info parameter [mime.start-info]",
    'action="getNumUnique": the bare operation name in the root part (libsne) [soap.action]',
    "no action parameter anywhere [mime.action.missing, http.action.missing]",
    "Content-Transfer-Encoding: BASE64 (or quoted-printable) on a part, decoded (libsne's certificate) "
    "[mime.cte.encoded]",
    "a part without Content-Transfer-Encoding, read as binary [mime.cte.missing]",
    "bare LF line ends in the MIME framing [mime.crlf]",
    "a Content-ID without angle brackets, or a part without Content-ID [mime.content-id.*]",
    "cid: hrefs in angle brackets or not percent-decoded [xop.href]",
    "whitespace (only) beside xop:Include [xop.whitespace]",
    "attachment parts no xop:Include references [mime.unreferenced]",
    "request parameters out of sequence order [soap.params.order]",
    "unquoted parameter values with special characters in Content-Type [http.content-type.syntax]",
    "a root part typed application/soap+xml or text/xml instead of application/xop+xml [mime.root.type]",
    "SOAP 1.1 (text/xml, SOAPAction header, 1.1 envelope): answered in SOAP 1.1 [soap.version]",
)

# The école server took an empty certificate attachment for these two, not for the others (research §2.4).
_EMPTY_CERTIFICATE_OK = frozenset({"getNumUnique", "getDemandeLogement"})


@dataclass(slots=True)
class SeenRequest:
    """One request as the fake saw it, for tests and client authors to inspect."""

    at: datetime
    method: str
    path: str
    client_cn: str | None
    operation: str | None = None
    framing: str | None = None
    action: str | None = None
    texts: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    binaries: dict[str, bytes] = field(default_factory=dict)
    status: int = 0
    check: str | None = None  # the Refusal's check when the request was refused
    reason: str | None = None


def certificate_cn(data: bytes) -> str | None:
    """The subject CN of the first certificate in `data` (PEM or DER); "" without a CN; None when `data`
    holds no certificate."""
    if not data.strip():
        return None
    try:
        cert = (
            x509.load_pem_x509_certificate(data)
            if b"-----BEGIN" in data
            else x509.load_der_x509_certificate(data)
        )
    except ValueError:
        return None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


class FakeSne(Operations):
    """In-memory SNE with its six operations, wire checks (`mode`), fault switches (`faults`).

    `now` is the clock (timezone-aware), `sleep` the hook slow answers call. `mtom_responses=False`
    answers plain SOAP with inline base64; `cid_style="plain"` writes hrefs without percent-encoding.
    When guichets are registered (`add_guichet`), a demande's numGuichet must be one of them; a guichet
    given a `certificate_cn` is reserved to the TLS client certificate of that CN (the server reports it),
    and a client whose CN no guichet accepts is refused.
    """

    def __init__(
        self,
        *,
        mode: Mode = Mode.STRICT,
        now: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
        seed: int | None = 0,
        mtom_responses: bool = True,
        cid_style: CidStyle = "encoded",
    ) -> None:
        self.mode = mode
        self.now = now or (lambda: datetime.now(UTC))
        self.sleep = sleep or time.sleep
        self.mtom_responses = mtom_responses
        self.cid_style: CidStyle = cid_style
        self.ids = CxfIds(seed)
        self.register = Register()
        self.faults = SneFaults()
        self.guichets: dict[str, Guichet] = {}
        self.requests: list[SeenRequest] = []

    def add_guichet(
        self, num_guichet: str, *, departement: str = "059", certificate_cn: str | None = None
    ) -> Guichet:
        guichet = Guichet(num_guichet, departement, certificate_cn)
        self.guichets[num_guichet] = guichet
        return guichet

    # --- HTTP -------------------------------------------------------------------------------------

    def handle(
        self,
        body: bytes,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        *,
        method: str = "POST",
        path: str = wire.SERVICE_PATH,
        query: str = "",
        client_cn: str | None = None,
        base_url: str | None = None,
    ) -> Reply:
        """Answer one HTTP request. Raises ConnectionResetError when the `reset` switch fires."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        lower = {name.lower(): value for name, value in items}
        seen = SeenRequest(self.now(), method, path, client_cn)
        self.requests.append(seen)
        reply = self._answer(seen, body, lower, method, path, query, base_url)
        seen.status = reply.status
        return reply

    def handle_http(self, raw: bytes, *, client_cn: str | None = None) -> Reply:
        """Answer a raw HTTP/1.1 request (request line, headers, CRLF, body by Content-Length)."""
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
        length = next((int(v) for k, v in headers if k.lower() == "content-length"), len(body))
        path, _, query = target.partition("?")
        return self.handle(body[:length], headers, method=method, path=path, query=query, client_cn=client_cn)

    def _answer(
        self,
        seen: SeenRequest,
        body: bytes,
        headers: dict[str, str],
        method: str,
        path: str,
        query: str,
        base_url: str | None,
    ) -> Reply:
        if path not in wire.SERVICE_PATHS:
            return outbound.html_error(404, "No service was found.")
        if method == "GET":
            return self._get(query, headers, base_url)
        if method != "POST":
            return outbound.html_error(405, "Method Not Allowed")
        refusal: Refusal | None = None
        decoded: Decoded | None = None
        try:
            decoded = decode_request(headers, body, self.mode)
        except Refusal as exc:
            refusal = exc
        operation = decoded.operation.name if decoded else None
        if decoded is not None:
            self._record(seen, decoded)
        if (switch := self.faults.take("slow", operation)) is not None:
            self.sleep(switch.delay_s)
        if self.faults.take("reset", operation) is not None:
            raise ConnectionResetError("fake SNE: connection reset (fault switch)")
        if (switch := self.faults.take("http_error", operation)) is not None:
            reply = outbound.html_error(
                switch.status, "Service Unavailable" if switch.status == 503 else "Error"
            )
            if switch.retry_after_s is not None:
                reply.headers.append(("Retry-After", str(switch.retry_after_s)))
            return reply
        version = decoded.version if decoded else wire.SoapVersion.V12
        try:
            if refusal is not None:
                raise refusal
            assert decoded is not None
            if (switch := self.faults.take("soap_fault", operation)) is not None:
                raise Refusal("fault-switch", switch.reason, code=switch.code, detail=switch.detail)
            children = self._dispatch(decoded, seen.client_cn)
        except Refusal as exc:
            seen.check, seen.reason = exc.check, exc.reason
            logger.info("fake SNE refused %s: %s", operation or "a request", exc.check)
            if exc.plain_body is not None:
                return Reply(exc.http_status, [("Content-Type", "text/plain")], exc.plain_body)
            return outbound.fault(version, exc.code, exc.reason, exc.detail, status=exc.http_status)
        reply = outbound.success(
            decoded.operation, version, children, self.ids, mtom=self.mtom_responses, cid_style=self.cid_style
        )
        if self.faults.take("truncate", operation) is not None:
            reply = reply._replace(body=reply.body[: len(reply.body) // 2])
        return reply

    def _record(self, seen: SeenRequest, decoded: Decoded) -> None:
        seen.operation, seen.framing, seen.action = decoded.operation.name, decoded.framing, decoded.action
        seen.texts, seen.codes = dict(decoded.texts), dict(decoded.codes)
        seen.binaries = {name: b.data for name, b in decoded.binaries.items()}

    def _dispatch(self, decoded: Decoded, client_cn: str | None) -> list[Child]:
        self._check_client(client_cn)
        self._check_certificate(decoded, client_cn)
        handlers = {
            "getNumUnique": self.op_get_num_unique,
            "getDemandeLogement": self.op_get_demande_logement,
            "getDoublons": self.op_get_doublons,
            "getNouveauxDaloDepuisLe": self.op_get_nouveaux_dalo,
            "getDemandesRadieesDepuisLe": self.op_get_demandes_radiees,
            "getDeclarationNouveauDalo": self.op_get_declaration_nouveau_dalo,
        }
        return handlers[decoded.operation.name](decoded, client_cn)

    def _check_client(self, client_cn: str | None) -> None:
        if client_cn is None or not self.guichets:
            return
        if not any(g.certificate_cn in (None, client_cn) for g in self.guichets.values()):
            raise Refusal(
                "sne.auth",
                "Authentification refusée : le certificat client n'est rattaché à aucun guichet.",
                detail=f"Certificat [{client_cn}] inconnu.",
            )

    def _check_certificate(self, decoded: Decoded, client_cn: str | None) -> None:
        """The ``certificat`` attachment (research §2.4): empty was accepted by getNumUnique and
        getDemandeLogement only; otherwise its CN names it, and must be the TLS client's when known."""
        if not any(p.name == "certificat" for p in decoded.operation.params):
            return
        attached = decoded.binaries.get("certificat")
        name = certificate_cn(attached.data) if attached is not None else None
        if name is None and decoded.operation.name in _EMPTY_CERTIFICATE_OK:
            return
        if name is None or not name or (client_cn is not None and name != client_cn):
            message = wire.CERTIFICATE_NAME_ERROR.format(name=name or "")
            raise Refusal("sne.certificate", message, detail=message)

    def _get(self, query: str, headers: dict[str, str], base_url: str | None) -> Reply:
        address = (base_url or f"https://{headers.get('host', 'localhost')}") + wire.SERVICE_PATH.rstrip("/")
        if query.lower() == "wsdl":
            text = wsdl_text().replace(_ECOLE_ADDRESS, address + "/")
            text = text.replace('schemaLocation="xmlmime.xsd"', f'schemaLocation="{address}?xsd=xmlmime.xsd"')
            return Reply(200, [("Content-Type", "text/xml;charset=UTF-8")], text.encode())
        if query == "xsd=xmlmime.xsd":
            return Reply(200, [("Content-Type", "text/xml;charset=UTF-8")], _resource("xmlmime.xsd").encode())
        return outbound.fault(
            wire.SoapVersion.V12, "Sender", f"No such operation: (HTTP GET PATH_INFO: {wire.SERVICE_PATH})"
        )

    # --- seeding (tests, demo) --------------------------------------------------------------------

    def seed(self, demande: bytes, *, at: datetime | None = None) -> Registered:
        """Register a demande file as a successful getNumUnique would (no wire, no faults); returns it."""
        clock = self.now
        if at is not None:
            self.now = lambda: at
        try:
            decoded = Decoded(wire.BY_NAME["getNumUnique"], wire.SoapVersion.V12, "plain", None)
            decoded.texts["nomFichierDemande"] = "seed.xml"
            decoded.binaries["fichierDemande"] = Binary(demande)
            children = dict(self.op_get_num_unique(decoded, None))
        finally:
            self.now = clock
        if "attestation" not in children:
            raise ValueError(f"the seed demande was not registered: {children['fichierDemande']!r}")
        number = etree.fromstring(children["fichierDemande"]).findtext(f".//{N}numUnique") or ""
        registered = self.register.get(number)
        assert registered is not None
        return registered

    def declare_dalo(
        self,
        num_unique: str,
        statut: str = "ACTIF",
        *,
        date_decision: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Record a DALO decision on a registered demande (its timeline gets an event at `at`)."""
        demande = self.register.demandes[num_unique]
        self.register.set_dalo(demande, statut, date_decision, at or self.now())

    def radiate(
        self,
        num_unique: str,
        motif: str,
        *,
        date_radiation: str | None = None,
        type_reservataire: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Radiate a registered demande as a RAD file would."""
        demande = self.register.demandes[num_unique]
        moment = at or self.now()
        demande.radiation = Radiation(
            moment, date_radiation or f"{moment:%Y-%m-%d}", motif, demande.statut_dalo, type_reservataire
        )


_ECOLE_ADDRESS = (
    "https://nuu-ws.ecole.application.developpement-durable.gouv.fr/services/DemandeLogementImplService/"
)


def _resource(name: str) -> str:
    return resources.files("aiguilleur.fakes.sne").joinpath("wsdl", name).read_text(encoding="utf-8")


def wsdl_text() -> str:
    """The WSDL the fake serves, before its address is set to the server's."""
    return _resource("DemandeLogementImplService.wsdl")
