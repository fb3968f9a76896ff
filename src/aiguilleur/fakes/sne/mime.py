"""MIME for the fake SNE: header parameters, a checking multipart/related reader and a CXF-like writer.

The reader is written for bytes as they arrive, so that it can say *what* is wrong with a request's
framing (research/sne.md §2: CRLF line ends, delimiters, Content-ID, Content-Transfer-Encoding) instead of
silently repairing it as a general-purpose parser would. The writer reproduces Apache CXF's
AttachmentSerializer: a CRLF before the first delimiter, ``Content-Type`` / ``Content-Transfer-Encoding:
binary`` / ``Content-ID`` headers, and a closing ``--boundary--`` with no line end after it.
"""

from __future__ import annotations

import base64
import binascii
import quopri
from dataclasses import dataclass, field

from aiguilleur.fakes.sne.refusal import Mode, Refusal

_TSPECIALS = frozenset('()<>@,;:\\"/[]?=')


@dataclass(frozen=True, slots=True)
class HeaderValue:
    """A parsed ``type/subtype; name=value…`` header: lower-cased main value and parameter names;
    `problems` lists what RFC 2045 would not accept (unquoted special characters, duplicates…)."""

    value: str
    params: dict[str, str]
    problems: tuple[str, ...] = ()


def parse_header(raw: str) -> HeaderValue:
    """Split a MIME header value into its main value and parameters, honouring quoted strings."""
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in raw.replace("\r\n", "").replace("\n", ""):
        if escaped:
            current.append(char)
            escaped = False
        elif quoted and char == "\\":
            current.append(char)
            escaped = True
        elif char == '"':
            current.append(char)
            quoted = not quoted
        elif char == ";" and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    problems: list[str] = ["unterminated quoted string"] if quoted else []
    params: dict[str, str] = {}
    for item in items[1:]:
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name, value = name.strip().lower(), value.strip()
        if not sep or not name:
            problems.append(f"parameter without a value: {item!r}")
            continue
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        elif any(c in _TSPECIALS or c.isspace() for c in value):
            problems.append(f"parameter {name} must be quoted: {value!r}")
        if name in params:
            problems.append(f"parameter {name} given twice")
        params[name] = value
    return HeaderValue(items[0].strip().lower(), params, tuple(problems))


def strip_brackets(content_id: str) -> str:
    content_id = content_id.strip()
    if content_id.startswith("<") and content_id.endswith(">"):
        return content_id[1:-1]
    return content_id


@dataclass(slots=True)
class Part:
    """One body part: its headers (names lower-cased, in order), its raw and decoded bytes."""

    headers: dict[str, str]
    raw: bytes
    body: bytes = b""
    transfer_encoding: str = ""
    content_id: str | None = None  # without the angle brackets
    referenced: bool = field(default=False)

    @property
    def content_type(self) -> HeaderValue:
        return parse_header(self.headers.get("content-type", "text/plain"))


def _line_end(data: bytes, pos: int, mode: Mode, what: str) -> int:
    """The index after the line end at `pos` (CRLF, or a bare LF in lenient mode)."""
    if data.startswith(b"\r\n", pos):
        return pos + 2
    if data.startswith(b"\n", pos):
        if mode is Mode.STRICT:
            raise Refusal("mime.crlf", f"bare LF instead of CRLF after {what}")
        return pos + 1
    raise Refusal("mime.delimiter", f"unexpected bytes after {what}")


def _next_delimiter(data: bytes, delimiter: bytes, start: int, mode: Mode) -> tuple[int, int]:
    """(end of the previous part's content, index just after the delimiter) of the next delimiter line."""
    pos = start
    while True:
        found = data.find(b"\n" + delimiter, pos)
        if found < 0:
            raise Refusal("mime.truncated", "the multipart body ends before its closing delimiter")
        after = found + 1 + len(delimiter)
        tail = data[after : after + 2]
        if tail in (b"--", b"\r\n") or tail[:1] in (b"\n", b" ", b"\t", b""):
            if found > 0 and data[found - 1 : found] == b"\r":
                return found - 1, after
            if mode is Mode.STRICT:
                raise Refusal("mime.crlf", "bare LF before a boundary delimiter")
            return found, after
        pos = found + 1  # the boundary string followed by more characters: part of the content


def _read_headers(data: bytes, pos: int, mode: Mode) -> tuple[dict[str, str], int]:
    headers: dict[str, str] = {}
    last: str | None = None
    while True:
        eol = data.find(b"\n", pos)
        if eol < 0:
            raise Refusal("mime.headers", "a body part has no blank line after its headers")
        line = data[pos:eol]
        if line.endswith(b"\r"):
            line = line[:-1]
        elif mode is Mode.STRICT:
            raise Refusal("mime.crlf", "bare LF in a body part's headers")
        pos = eol + 1
        if not line:
            return headers, pos
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError as exc:
            if mode is Mode.STRICT:
                raise Refusal("mime.headers", "non-ASCII bytes in a body part's headers") from exc
            text = line.decode("latin-1")
        if text[:1] in (" ", "\t") and last is not None:
            headers[last] += " " + text.strip()
            continue
        name, sep, value = text.partition(":")
        if not sep or not name.strip() or name != name.strip():
            raise Refusal("mime.headers", f"malformed body part header line {text[:60]!r}")
        last = name.lower()
        if last in headers and mode is Mode.STRICT:
            raise Refusal("mime.headers", f"header {name} given twice in one body part")
        headers[last] = value.strip()


def decode_part(part: Part, mode: Mode, *, default_encoding: str) -> None:
    """Fill `part.body` from `part.raw` according to its Content-Transfer-Encoding."""
    cte_raw = part.headers.get("content-transfer-encoding")
    if cte_raw is None:
        if mode is Mode.STRICT:
            raise Refusal("mime.cte.missing", "a body part has no Content-Transfer-Encoding header")
        cte_raw = default_encoding
    cte = cte_raw.strip().lower()
    part.transfer_encoding = cte
    if cte in ("binary", "8bit"):
        part.body = part.raw
    elif cte == "7bit":
        if mode is Mode.STRICT and any(b > 0x7F for b in part.raw):
            raise Refusal("mime.cte.7bit", "a 7bit body part holds bytes above 0x7F")
        part.body = part.raw
    elif cte in ("base64", "quoted-printable"):
        if mode is Mode.STRICT:
            raise Refusal(
                "mime.cte.encoded",
                f"Content-Transfer-Encoding {cte_raw} on an XOP part: MTOM carries binary, 8bit or 7bit",
            )
        if cte == "quoted-printable":
            part.body = quopri.decodestring(part.raw)
        else:
            try:
                part.body = base64.b64decode(b"".join(part.raw.split()), validate=True)
            except binascii.Error as exc:
                raise Refusal("mime.cte.base64", "a base64 body part does not decode") from exc
    else:
        raise Refusal("mime.cte.unknown", f"unknown Content-Transfer-Encoding {cte_raw!r}")


def split_multipart(data: bytes, boundary: str, mode: Mode) -> list[Part]:
    """Split a multipart body into raw parts (headers read, content not decoded), checking its framing.

    Raises Refusal on a missing first or closing delimiter, bare LFs in the framing (strict), malformed
    header lines, or no part at all.
    """
    try:
        delimiter = b"--" + boundary.encode("ascii")
    except UnicodeEncodeError as exc:
        raise Refusal("mime.boundary", "the boundary is not ASCII") from exc
    if data.startswith(delimiter):
        pos = len(delimiter)
    else:
        # a preamble (CXF writes a CRLF there) ends with the line end before the first delimiter
        _, pos = _next_delimiter(data, delimiter, 0, mode)
    parts: list[Part] = []
    while True:
        if data.startswith(b"--", pos):
            break
        while data[pos : pos + 1] in (b" ", b"\t"):  # transport padding (RFC 2046 §5.1.1)
            pos += 1
        pos = _line_end(data, pos, mode, "a boundary delimiter")
        headers, body_start = _read_headers(data, pos, mode)
        # from the blank line's LF: a part whose blank line doubles as the delimiter's line end is empty
        end, pos = _next_delimiter(data, delimiter, body_start - 1, mode)
        parts.append(Part(headers=headers, raw=data[body_start : max(end, body_start)]))
    if not parts:
        raise Refusal("mime.empty", "the multipart body has no body part")
    return parts


def cxf_multipart(parts: list[tuple[list[tuple[str, str]], bytes]], boundary: str) -> bytes:
    """Serialize parts as CXF's AttachmentSerializer does (see the module docstring)."""
    out = bytearray()
    for headers, body in parts:
        out += b"\r\n--" + boundary.encode("ascii") + b"\r\n"
        for name, value in headers:
            out += f"{name}: {value}\r\n".encode("ascii")
        out += b"\r\n" + body
    out += b"\r\n--" + boundary.encode("ascii") + b"--"
    return bytes(out)
