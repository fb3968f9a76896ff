"""The fake HubEE: an in-memory platform answering ``httpx.Request`` objects like the real one.

    hubee = FakeHubee(now=clock)
    sub = hubee.add_subscription("EtatCivil")               # an SI credential pair for Nice
    hubee.load_samples()                                     # the DINUM sample télédossiers
    client = httpx.Client(transport=httpx.MockTransport(hubee), base_url="https://api.hubee.test")

Two roots, as on the platform: the token endpoint (``POST /oauth2/token``, also ``/token``) and the
Folder API 1.2.7 under ``/teledossiers/v1``. The same object is served over a real socket by
`aiguilleur.fakes.hubee.server`. Written from the OpenAPI and research/hubee.md, never from the hub's
HubEE connector.
"""

from __future__ import annotations

import gzip
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from aiguilleur.fakes.hubee import responses
from aiguilleur.fakes.hubee.auth import TokenIssuer
from aiguilleur.fakes.hubee.faults import HubeeFaults
from aiguilleur.fakes.hubee.model import (
    ATTACH_DEPOSIT,
    AWAITING_ALLOWED,
    Applicant,
    Blob,
    Case,
    Event,
    Notification,
    OrgId,
    PartnerInfo,
    Subscription,
    Token,
)
from aiguilleur.fakes.hubee.routes import API_ROOT, Call, dispatch, partner_info_of
from aiguilleur.fakes.hubee.samples import (
    SampleDemarche,
    demarche_of,
    find_samples_dir,
    sample_files,
    sample_folders,
)
from aiguilleur.fakes.hubee.state import HubState, NewAttachment, NewEvent

# Example organisations: Nice (the SIRET and INSEE code the tests use) and a DILA-like sender.
DEFAULT_SUBSCRIBER = OrgId("SI", "21060088800015", "06088")
DEFAULT_OSL = OrgId("OSL", "13000284400012", "DILA")
TOKEN_PATHS = ("/oauth2/token", "/token")
PARTNER_HEADERS = ("editorName", "applicationName", "softwareVersion")
_HEADER_MAX = 50


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One request as the platform logged it (no body, no token)."""

    method: str
    path: str
    client_id: str | None
    partner_info: PartnerInfo


@dataclass(frozen=True, slots=True)
class SeedFile:
    """A file of a télédossier seeded from Python: bytes, or a Path read by chunks when served."""

    file_name: str
    type: str
    mime_type: str
    content: bytes | Path


class FakeHubee:
    """In-memory HubEE: OAuth2 tokens, notification queue, folders and cases, attachments, events,
    injected faults (`faults`, and `fail_next` as a shortcut).

    - `now`: the clock (timezone-aware); tokens expire and dates are stamped from it.
    - `sleep`: called with the delay of a `faults.slow` answer (outside the lock).
    - `seed`: identifiers, tokens and shuffles are drawn from it, so runs repeat.
    - `strict_transitions`: refuse (400) the status changes the workflow forbids (research §6.2).
    - `queue_per_credential`: a credential sees only its démarches' notifications; by default it sees
      every notification addressed to its organisation for a démarche the organisation subscribed to
      (a shared queue: never delete what you do not handle, research §7).
    - `require_partner_headers`: answer 400 when ``editorName``/``applicationName``/``softwareVersion``
      are missing (the OpenAPI marks them optional; DINUM's script says "vous devez renseigner").
    """

    def __init__(
        self,
        *,
        now: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
        seed: int = 0,
        token_lifetime_s: int = 3600,
        strict_transitions: bool = True,
        queue_per_credential: bool = False,
        require_partner_headers: bool = False,
        awaiting_allowed: frozenset[str] = AWAITING_ALLOWED,
        osl: OrgId = DEFAULT_OSL,
        faults: HubeeFaults | None = None,
    ) -> None:
        self.now = now
        self.sleep = sleep
        self.faults = faults or HubeeFaults()
        self.queue_per_credential = queue_per_credential
        self.require_partner_headers = require_partner_headers
        self.osl = osl
        self.state = HubState(
            now,
            self.faults,
            seed=seed,
            strict_transitions=strict_transitions,
            awaiting_allowed=awaiting_allowed,
        )
        # Tokens and generated secrets come from their own generator: case ids do not depend on how
        # often a client asks for a token.
        self._secrets = random.Random(seed + 2)  # noqa: S311 - a fake's credentials
        self.auth = TokenIssuer(now, self.faults, self._new_secret, token_lifetime_s)
        self.subscriptions: dict[str, Subscription] = self.auth.subscriptions
        self.tokens: dict[str, Token] = self.auth.tokens
        self.requests: deque[SeenRequest] = deque(maxlen=10_000)
        self.samples_dir: Path | None = None
        self.shuffle_rng = random.Random(seed + 1)  # noqa: S311 - test data order, no secret
        self._lock = threading.RLock()
        self._numbers = 1_000_000_000_000

    # --- configuration -----------------------------------------------------------------------------

    def add_subscription(
        self,
        process_code: str,
        organisation: OrgId = DEFAULT_SUBSCRIBER,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> Subscription:
        """An SI credential pair for one démarche and one organisation (what the portal hands out)."""
        return self._register(
            Subscription(
                client_id or f"{process_code}-{organisation.company_register}-{organisation.branch_code}",
                client_secret or self._new_secret(),
                organisation,
                frozenset({process_code}),
                "SI",
            )
        )

    def add_osl_client(
        self,
        process_codes: Sequence[str] = (),
        organisation: OrgId | None = None,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> Subscription:
        """A sender's credential pair (scope OSL); no process code means every démarche."""
        org = organisation or self.osl
        return self._register(
            Subscription(
                client_id or f"osl-{org.branch_code.lower()}",
                client_secret or self._new_secret(),
                org,
                frozenset(process_codes),
                "OSL",
            )
        )

    def _new_secret(self) -> str:
        return f"{self._secrets.getrandbits(128):032x}"

    def _register(self, sub: Subscription) -> Subscription:
        with self._lock:
            if sub.client_id in self.subscriptions:
                raise ValueError(f"client_id {sub.client_id!r} is already registered")
            self.subscriptions[sub.client_id] = sub
            return sub

    def fail_next(
        self, path_prefix: str, status: int = 500, times: int = 1, *, retry_after_s: int | None = None
    ) -> None:
        """Shortcut for `faults.fail_next`."""
        self.faults.fail_next(path_prefix, status, times, retry_after_s=retry_after_s)

    # --- seeding, as the sender would (no HTTP, no faults) -----------------------------------------

    def _next_external_id(self, short_code: str) -> str:
        self._numbers += 1
        return f"DILA-{short_code}-{self._numbers:013d}"

    def create_teledossier(
        self,
        process_code: str,
        files: Sequence[SeedFile],
        *,
        recipient: OrgId = DEFAULT_SUBSCRIBER,
        applicant: Applicant | None = None,
        external_id: str | None = None,
        short_code: str | None = None,
        complete: bool = True,
    ) -> Case:
        """Create a one-case folder with its binaries and (unless `complete` is False) mark it
        HUBEE_COMPLETED, which notifies `recipient`. Returns the case."""
        with self._lock:
            folder_external = external_id or self._next_external_id(short_code or process_code[:6].upper())
            declared, blobs = [], []
            for f in files:
                blob = Blob.of(f.content)
                declared.append(NewAttachment(f.file_name, f.type, blob.size, f.mime_type))
                blobs.append(blob)
            folder = self.state.create_folder(
                self.osl,
                process_code,
                folder_external,
                applicant or Applicant("Camille", "MARTIN", "camille.martin@example.org"),
                [(f"{folder_external}-01", recipient, None)],
                declared,
            )
            for att, blob in zip(folder.attachments, blobs, strict=True):
                self.state.store_binary(att, blob)
            if complete:
                self.state.complete_folder(folder, "HUBEE_COMPLETED")
            return folder.cases[0]

    def seed_sample(
        self, democode: str, *, recipient: OrgId = DEFAULT_SUBSCRIBER, jdd_dir: Path | None = None
    ) -> Case:
        """One télédossier from the sample folder of `democode` (folder name such as ``ETATCIVIL``, or
        a processCode such as ``EtatCivil``), for `recipient`."""
        root = self._samples_root(jdd_dir)
        for folder, demarche in sample_folders(root):
            if demarche is demarche_of(democode):
                return self._seed_folder(folder, demarche, recipient)
        raise KeyError(f"no sample folder for {democode!r} under {root}")

    def load_samples(
        self, jdd_dir: Path | None = None, *, recipient: OrgId = DEFAULT_SUBSCRIBER
    ) -> list[Case]:
        """One télédossier per démarche folder found under `jdd_dir` (default: `find_samples_dir`)."""
        root = self._samples_root(jdd_dir)
        return [self._seed_folder(folder, demarche, recipient) for folder, demarche in sample_folders(root)]

    def seed_one(self, *, recipient: OrgId | None = None) -> Case:
        """A small synthetic EtatCivil télédossier (XML + PDF), for the first SI subscription's
        organisation by default; needs no sample folder."""
        if recipient is None:
            subs = [s for s in self.subscriptions.values() if s.role == "SI"]
            recipient = subs[0].organisation if subs else DEFAULT_SUBSCRIBER
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<EnveloppeMetierType canal_utilise="0"><DemandeActe>'
            f"<TypeActe><Code>NAISSANCE</Code></TypeActe><NombreExemplaires>1</NombreExemplaires>"
            f"<LieuActe><CodeINSEE>{recipient.branch_code}</CodeINSEE></LieuActe></DemandeActe>"
            "</EnveloppeMetierType>\n"
        ).encode()
        pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
        files = [
            SeedFile("ActeEtatCivil-XML.xml", "ActeEtatCivil-XML", "application/xml", xml),
            SeedFile("ActeEtatCivil-PDF.pdf", "ActeEtatCivil-PDF", "application/pdf", pdf),
        ]
        return self.create_teledossier("EtatCivil", files, recipient=recipient, short_code="AEC")

    def _samples_root(self, jdd_dir: Path | None) -> Path:
        root = jdd_dir or self.samples_dir or find_samples_dir()
        if root is None or not root.is_dir():
            raise FileNotFoundError("no HubEE sample folder: pass jdd_dir or set AIGUILLEUR_HUBEE_JDD")
        return root

    def _seed_folder(self, folder: Path, demarche: SampleDemarche, recipient: OrgId) -> Case:
        files = [
            SeedFile(f.file_name, f.type, f.mime_type, f.path.read_bytes()) for f in sample_files(folder)
        ]
        return self.create_teledossier(
            demarche.process_code,
            files,
            recipient=recipient,
            applicant=demarche.applicant,
            short_code=demarche.short_code,
        )

    # --- the sender's reactions, from Python -------------------------------------------------------

    def osl_event(
        self,
        case_id: str,
        action_type: str,
        *,
        message: str | None = None,
        case_new_status: str | None = None,
        files: Sequence[SeedFile] = (),
        author: str = "DILA",
    ) -> Event:
        """The sender posts an event on a case (SENDING_MESSAGE, STATUS_UPDATE such as CLOSED or a reopen
        to HUBEE_NOTIFIED, ATTACH_DEPOSIT with `files`, uploaded and released at once)."""
        with self._lock:
            case = self.state.cases[case_id]
            folder = self.state.folders[case.folder_id]
            blobs = [Blob.of(f.content) for f in files]
            new = NewEvent(
                action_type,
                True,
                message=message,
                author=author,
                case_new_status=case_new_status,
                attachments=tuple(
                    NewAttachment(f.file_name, f.type, b.size, f.mime_type)
                    for f, b in zip(files, blobs, strict=True)
                ),
            )
            event = self.state.add_event(case, folder.transmitter, "OSL", new, None)
            if action_type == ATTACH_DEPOSIT:
                for att, blob in zip(event.attachments, blobs, strict=True):
                    self.state.store_binary(att, blob)
                self.state.update_event(case, event, "SENT", folder.transmitter)
            return event

    def osl_acknowledge(self, case_id: str | None = None) -> list[Event]:
        """The sender acknowledges (RECEIVED) every SENT event of the subscribers, on one case or all;
        each acknowledgement notifies the event's author back."""
        with self._lock:
            done = []
            for case in list(self.state.cases.values()):
                if case_id not in (None, case.id):
                    continue
                for event in case.events:
                    if event.transmitter == case.recipient and event.status == "SENT":
                        self.state.update_event(
                            case, event, "RECEIVED", self.state.folders[case.folder_id].transmitter
                        )
                        done.append(event)
            return done

    def notification_visible(self, sub: Subscription, notification: Notification) -> bool:
        """Whether `sub` may list or delete `notification` (research §7: filtered on the caller's
        organisation and subscribed démarches; see `queue_per_credential`)."""
        if notification.recipient != sub.organisation:
            return False
        if sub.role == "ADMIN":
            return True
        if self.queue_per_credential:
            return sub.covers(notification.process_code)
        return any(
            s.organisation == sub.organisation and s.role == sub.role and s.covers(notification.process_code)
            for s in self.subscriptions.values()
        )

    # --- inspection ----------------------------------------------------------------------------------

    def case(self, case_id: str) -> Case:
        return self.state.cases[case_id]

    def queue(self, organisation: OrgId = DEFAULT_SUBSCRIBER) -> list[str]:
        """Ids of the notifications waiting for `organisation`, oldest first."""
        with self._lock:
            return [n.id for n in self.state.notifications.values() if n.recipient == organisation]

    # --- HTTP ----------------------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer one request; routes on method and path (any host), like ``httpx.MockTransport``.

        The body of a PUT (a binary upload) is left in the request's stream for its handler to read
        by chunks; every other body is read first."""
        if request.method != "PUT":
            request.read()
        path = request.url.path
        with self._lock:
            delay = self.faults.take_delay(path)
        if delay > 0:
            self.sleep(delay)  # outside the lock: a slow answer holds back only its own request
        with self._lock:
            response = self._answer(request, path)
            gzipped = self.faults.gzip_responses
        if gzipped and response.headers.get("Content-Type", "").startswith("application/json"):
            body = gzip.compress(response.content)
            headers = httpx.Headers(response.headers)
            headers["Content-Encoding"] = "gzip"
            headers["Content-Length"] = str(len(body))
            # A stream, not content=: httpx would decode the body at once and lose the raw bytes.
            response = httpx.Response(response.status_code, headers=headers, stream=httpx.ByteStream(body))
        return response

    def _answer(self, request: httpx.Request, path: str) -> httpx.Response:
        failure = self.faults.take_failure(request.method, path)
        if failure is not None:
            return responses.injected_failure(*failure)
        if path in TOKEN_PATHS:
            self.requests.append(SeenRequest(request.method, path, None, partner_info_of(request)))
            return self.auth.token_endpoint(request)
        if not path.startswith(API_ROOT + "/"):
            return responses.gateway_fault(
                404, 404, "Runtime Error", "No matching resource found for given API Request"
            )
        token = self.auth.authenticate(request)
        if isinstance(token, httpx.Response):
            self.requests.append(SeenRequest(request.method, path, None, partner_info_of(request)))
            return token
        self.requests.append(
            SeenRequest(request.method, path, token.subscription.client_id, partner_info_of(request))
        )
        checked = self._check_partner_headers(request, path)
        if checked is not None:
            return checked
        return dispatch(self, Call(request, path, token.subscription, token.scope))

    def _check_partner_headers(self, request: httpx.Request, path: str) -> httpx.Response | None:
        for name in PARTNER_HEADERS:
            value = request.headers.get(name)
            if value is None and self.require_partner_headers:
                where = path.removeprefix(API_ROOT)
                detail = f"Header parameter '{name}' is required on path '{where}' but not found in request."
                return responses.validation_error(request.method, path, f"header.{name}", detail)
            if value is not None and len(value) > _HEADER_MAX:
                return responses.validation_error(
                    request.method, path, f"header.{name}",
                    f'String "{value}" is too long (length: {len(value)}, maximum allowed: {_HEADER_MAX})',
                )  # fmt: skip
        return None
