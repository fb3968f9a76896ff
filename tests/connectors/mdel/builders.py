"""Building MDEL demand zips for tests and benches, good ones and hostile ones.

Good demands start from the vectors of ``tests/data/mdel/<flow>/`` (see its README) and can be given
another télédémarche number, so that many distinct demands can be made from three files. Hostile
zips need what `zipfile` refuses to write on its own (duplicate names, symlink members, names that
are not UTF-8): `pack` takes `zipfile.ZipInfo` entries and `with_raw_names` patches name bytes after
the fact. Nothing here touches the hub: these functions only return bytes.
"""

from __future__ import annotations

import io
import random
import stat
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiguilleur.transport.xml import parse_xml

DATA = Path(__file__).resolve().parents[2] / "data" / "mdel"
BROKEN = DATA / "broken"


@dataclass(frozen=True, slots=True)
class Flow:
    """One flow's vector in tests/data/mdel: its folder, its télédémarche number, its commune."""

    flow_type: str
    numero: str
    insee: str

    @property
    def folder(self) -> Path:
        return DATA / self.flow_type


AEC = Flow("AEC-LA", "A-1-K7EC2T4Q", "06088")  # Nice; 1 PieceJointe + XML and PDF Documents
RCO = Flow("RCO-LA", "A-2-RC8S4N1P", "06029")  # Cannes; 2 PieceJointe + XML and PDF Documents
ILE = Flow("ILE-LA", "A-3-EL5Q9W2D", "06088")  # Nice (padded CodeINSEE); 2 PieceJointe + XML Document
FLOWS = (AEC, RCO, ILE)

PDF_HEAD = b"%PDF-1.4\n% fictional test document\n"
PDF_TAIL = b"\n%%EOF\n"


def zip_name(flow: Flow, numero: str | None = None, index: int = 1) -> str:
    """``<Numero>-<Flux>-<n>.zip``."""
    return f"{numero or flow.numero}-{flow.flow_type}-{index}.zip"


def pdf(label: str, size_bytes: int = 0, rng: random.Random | None = None) -> bytes:
    """A fictional PDF: a header, `label`, then random filler up to about `size_bytes`.

    The filler is random so that it does not deflate, like the compressed streams of a real PDF.
    """
    body = PDF_HEAD + label.encode()
    filler = max(0, size_bytes - len(body) - len(PDF_TAIL))
    if filler:
        body += (rng or random.Random(label)).randbytes(filler)
    return body + PDF_TAIL


def listed_files(message: bytes) -> list[str]:
    """The member names a message.xml lists (PieceJointe/Fichier and Document/FichierDonnees)."""
    root = parse_xml(message, source="message.xml")
    return [
        (e.text or "").strip()
        for e in root.iter()
        if isinstance(e.tag, str) and e.tag.endswith(("}Fichier", "}FichierDonnees"))
    ]


def demand_members(
    flow: Flow,
    *,
    numero: str | None = None,
    message: bytes | None = None,
    message_id_suffix: str = "",
    pdf_bytes: int = 0,
    rng: random.Random | None = None,
) -> dict[str, bytes]:
    """The members of a good demand of `flow`, in zip order: message.xml, -ent, -doc XML, PDFs.

    `numero` replaces the vector's télédémarche number everywhere (contents and member names), which
    also makes the MessageId unique; `message` replaces message.xml (before that substitution);
    `message_id_suffix` is appended to the MessageId (a later version of the same demand needs its
    own MessageId). Each listed PDF is made by `pdf`, about `pdf_bytes` long.
    """
    msg = message if message is not None else (flow.folder / "message.xml").read_bytes()
    if message_id_suffix:
        msg = msg.replace(b"</ns2:MessageId>", message_id_suffix.encode() + b"</ns2:MessageId>", 1)
    members: dict[str, bytes] = {"message.xml": msg}
    for path in sorted(flow.folder.glob(f"{flow.numero}-*.xml")):
        members[path.name] = path.read_bytes()
    base_message = (flow.folder / "message.xml").read_bytes()
    for file_name in listed_files(base_message):
        if file_name.lower().endswith(".pdf"):
            members[file_name] = pdf(file_name, pdf_bytes, rng)
    if numero is None or numero == flow.numero:
        return members
    old, new = flow.numero.encode(), numero.encode()
    return {name.replace(flow.numero, numero): data.replace(old, new) for name, data in members.items()}


def demand_zip(
    flow: Flow,
    *,
    numero: str | None = None,
    message: bytes | None = None,
    message_id_suffix: str = "",
    pdf_bytes: int = 0,
    rng: random.Random | None = None,
    omit: Iterable[str] = (),
    replace: Mapping[str, bytes] | None = None,
    extra: Mapping[str, bytes] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
    compresslevel: int | None = None,
) -> bytes:
    """A demand zip of `flow` made by `demand_members` (same options), then altered.

    `omit` drops members, `replace` changes the bytes of existing members (a full name, or ``"-ent"``
    / ``"-doc"`` for the -ent or -doc XML file), `extra` adds members at the end.
    """
    members = demand_members(
        flow,
        numero=numero,
        message=message,
        message_id_suffix=message_id_suffix,
        pdf_bytes=pdf_bytes,
        rng=rng,
    )
    for key, data in (replace or {}).items():
        [name] = [m for m in members if m == key or (key[0] == "-" and f"{key}-" in m and m.endswith(".xml"))]
        members[name] = data
    for name in omit:
        del members[name]
    members.update(extra or {})
    return pack(members.items(), compression=compression, compresslevel=compresslevel)


def pack(
    members: Iterable[tuple[str | zipfile.ZipInfo, bytes]],
    *,
    compression: int = zipfile.ZIP_DEFLATED,
    compresslevel: int | None = None,
) -> bytes:
    """A zip of `members` in order; duplicate names are written as given (zipfile only warns)."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", compression, compresslevel=compresslevel) as zf,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": wanted here
        for name, data in members:
            zf.writestr(name, data)
    return buffer.getvalue()


def symlink_member(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    """A member that Info-ZIP would restore as a symbolic link `name` -> `target`."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: external_attr holds a mode
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def with_raw_names(data: bytes, names: Mapping[str, bytes]) -> bytes:
    """Replace the bytes of each placeholder member name by `raw` bytes of the same length.

    zipfile writes an ASCII name as is and flags any other as UTF-8, while archivers of the Windows
    world write the local code page (cp437, cp850, cp1252) without the flag: an ASCII placeholder
    patched to such bytes gives that, a non-ASCII one gives a name flagged UTF-8 that is not. The
    name appears in the local header and in the central directory; both are patched (no checksum
    covers names). The placeholder must not appear in any member's content.
    """
    for placeholder, raw in names.items():
        encoded = placeholder.encode()
        if len(raw) != len(encoded):
            raise ValueError("a raw name must have as many bytes as its placeholder")
        if data.count(encoded) != 2:
            raise ValueError(f"placeholder {placeholder!r} must appear exactly twice")
        data = data.replace(encoded, raw)
    return data
