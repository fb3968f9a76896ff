"""Why the fake SNE refuses a request: a named check, the fault it answers, and the checking mode."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

FaultCode = Literal["Sender", "Receiver", "VersionMismatch"]


class Mode(StrEnum):
    """How exactly the fake checks the wire format (research/sne.md §2).

    - `STRICT`: the canonical form of research §2.2 (what a conforming SOAP 1.2 + MTOM client sends).
    - `LENIENT`: also what older clients sent and CXF still took, libsne first (research §2.1, §5.5);
      `aiguilleur.fakes.sne.LENIENT_QUIRKS` lists them.
    """

    STRICT = "strict"
    LENIENT = "lenient"


class Refusal(Exception):
    """A request the fake answers with a SOAP fault (HTTP 500, as CXF does for every fault) or, when
    `http_status` says so with `plain_body`, with a bare HTTP error.

    `check` is a stable identifier of the rule that failed (e.g. ``"mime.start.missing"``): tests and
    client authors match on it (it is also in ``FakeSne.requests[-1].check``); `reason` is what the
    fault's Reason text says.
    """

    def __init__(
        self,
        check: str,
        reason: str,
        *,
        code: FaultCode = "Sender",
        detail: str | None = None,
        http_status: int = 500,
        plain_body: bytes | None = None,
    ) -> None:
        super().__init__(f"{check}: {reason}")
        self.check = check
        self.reason = reason
        self.code: FaultCode = code
        self.detail = detail
        self.http_status = http_status
        self.plain_body = plain_body
