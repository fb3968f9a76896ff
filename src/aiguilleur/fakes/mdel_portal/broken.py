"""Broken demands: the files a hostile or buggy sender could drop, one defect each.

Every kind starts from a complete, valid demand and changes one thing, so a reader that rejects it
rejects it for that reason and no other.

========================  ======================================================================
kind                      what the file is
========================  ======================================================================
``corrupt``               the zip cut at 60 % (an interrupted transfer): no central directory
``empty``                 a zero-byte file with a well-formed name
``zip_slip``              the first attachment stored as ``../../../<name>`` (listed so in XML)
``zip_bomb``              the cerfa PDF replaced by 1 GiB of zeros deflated to about 1 MB
``symlink``               the first attachment is a Unix symlink to ``/etc/passwd``
``duplicate_member``      a second ``message.xml`` routing the demand to another commune
``missing_message``       no ``message.xml``
``missing_attachment``    the last listed attachment is absent from the zip
``xxe``                   message.xml declares ``<!ENTITY xxe SYSTEM "file:///etc/passwd">`` and uses it
``billion_laughs``        message.xml declares ten levels of nested entities (10^9 expansions)
``invalid_xml``           message.xml not well-formed: an unescaped ``&`` in an attachment title
``unknown_flow``          a flow this hub does not take (``DDPACS``), in the name and in message.xml
``unknown_insee``         routed (``CodeINSEE``) to a commune code no hub serves (``99999`` by default)
``bad_name``              the zip renamed the way a browser saves a second copy: ``…-1 (1).zip``
``non_utf8_name``         an attachment whose name is CP850 bytes without the UTF-8 flag (old Windows zip)
``flow_mismatch``         the name says AEC-LA, message.xml says RCO-LA
========================  ======================================================================
"""

from __future__ import annotations

import zlib

from aiguilleur.fakes.mdel_portal import envelope, zipraw
from aiguilleur.fakes.mdel_portal.demand import Demand, DemandParts

BROKEN_KINDS: tuple[str, ...] = (
    "corrupt", "empty", "zip_slip", "zip_bomb", "symlink", "duplicate_member", "missing_message",
    "missing_attachment", "xxe", "billion_laughs", "invalid_xml", "unknown_flow", "unknown_insee", "bad_name",
    "non_utf8_name", "flow_mismatch",
)  # fmt: skip

XXE_DOCTYPE = b'<!DOCTYPE ns2:Message [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n'
LAUGHS_DOCTYPE = (
    b'<!DOCTYPE ns2:Message [\n  <!ENTITY lol "lol">\n'
    + b"".join(
        b'  <!ENTITY lol%d "%s">\n'
        % (i, b"".join(b"&lol%s;" % (b"" if i == 1 else b"%d" % (i - 1)) for _ in range(10)))
        for i in range(1, 10)
    )
    + b"]>\n"
)
_PLATFORM = b"<IdentifiantPlateforme>" + envelope.PLATFORM_ID.encode() + b"</IdentifiantPlateforme>"


def _with_doctype(xml: bytes, doctype: bytes, entity: bytes) -> bytes:
    """Insert `doctype` after the XML declaration and reference `entity` in the Aller block."""
    declaration_end = xml.index(b"?>") + 3
    body = xml[declaration_end:].replace(
        _PLATFORM, b"<IdentifiantPlateforme>&" + entity + b";</IdentifiantPlateforme>"
    )
    return xml[:declaration_end] + doctype + body


def _rename_member(parts: DemandParts, old: str, new: str) -> None:
    """Rename a file and every reference to it in message.xml and the -ent file."""
    renamed: list[tuple[str, bytes]] = []
    for name, content in parts.files:
        if name == old:
            name = new
        elif name.endswith(".xml") and "-doc-" not in name:
            content = content.replace(
                f"<Fichier>{old}</Fichier>".encode(), f"<Fichier>{new}</Fichier>".encode()
            )
        renamed.append((name, content))
    parts.files = renamed


def _members(parts: DemandParts) -> list[zipraw.RawMember]:
    return [zipraw.member(m, c, deflate=not m.endswith(".pdf")) for m, c in parts.files]


def _pack_raw(parts: DemandParts, members: list[zipraw.RawMember], kind: str) -> Demand:
    h = parts.header
    data = zipraw.build_zip(members, when=envelope.paris_time(parts.when))
    names = tuple(m.name.decode("utf-8", errors="replace") for m in members)
    return Demand(envelope.zip_name(h.numero, h.flow, h.step), data, h, names, kind)


def bomb_member(name: str, size_bytes: int) -> zipraw.RawMember:
    """`size_bytes` (a multiple of 1 MiB) of zeros, deflated block by block without holding them."""
    chunk = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    # After a full flush the compressor forgets its window, so every further block comes out identical.
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    count = max(1, size_bytes >> 20)
    payload = first + block * (count - 1) + compressor.flush()
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    return zipraw.RawMember(name.encode(), payload, crc, count << 20, 8)


def break_demand(
    kind: str, parts: DemandParts, *, other_insee: str = "06029", bomb_bytes: int = 1 << 30
) -> Demand:
    """Apply `kind` to a valid demand's files (see the module docstring); raise ValueError if unknown.

    ``unknown_flow``, ``unknown_insee`` and ``flow_mismatch`` are made by composing the demand with
    other parameters (the caller does that); here they only need packing.
    """
    h = parts.header
    pieces = parts.pieces
    if kind in ("unknown_flow", "unknown_insee"):
        return parts.pack(broken=kind)
    if kind == "flow_mismatch":
        return parts.pack(
            name=envelope.zip_name(h.numero, "AEC-LA" if h.flow != "AEC-LA" else "RCO-LA", h.step),
            broken=kind,
        )
    if kind == "bad_name":
        return parts.pack(name=f"{h.numero}-{h.flow}-{h.step} (1).zip", broken=kind)
    if kind == "corrupt":
        whole = parts.pack().data
        return Demand(envelope.zip_name(h.numero, h.flow, h.step), whole[: len(whole) * 6 // 10], h, (), kind)
    if kind == "empty":
        return Demand(envelope.zip_name(h.numero, h.flow, h.step), b"", h, (), kind)
    if kind == "missing_message":
        parts.files = [(m, c) for m, c in parts.files if m != "message.xml"]
    elif kind == "missing_attachment":
        parts.files = [(m, c) for m, c in parts.files if m != pieces[-1].fichier]
    elif kind == "zip_slip":
        _rename_member(parts, pieces[0].fichier, "../../../" + pieces[0].fichier)
    elif kind == "xxe":
        parts.replace("message.xml", _with_doctype(parts.file("message.xml"), XXE_DOCTYPE, b"xxe"))
    elif kind == "billion_laughs":
        parts.replace("message.xml", _with_doctype(parts.file("message.xml"), LAUGHS_DOCTYPE, b"lol9"))
    elif kind == "invalid_xml":
        title = f"<Intitule>{pieces[0].intitule}</Intitule>".encode()
        unescaped = b"<Intitule>facture EDF & GDF.pdf</Intitule>"
        parts.replace("message.xml", parts.file("message.xml").replace(title, unescaped, 1))
    elif kind == "duplicate_member":
        rerouted = parts.file("message.xml").replace(
            f"<Valeur>{h.insee}</Valeur>".encode(), f"<Valeur>{other_insee}</Valeur>".encode()
        )
        members = _members(parts)
        members.append(zipraw.member("message.xml", rerouted))
        return _pack_raw(parts, members, kind)
    elif kind == "symlink":
        target = pieces[0].fichier
        members = [
            zipraw.member(m, b"/etc/passwd", deflate=False, mode=zipraw.S_IFLNK | 0o777)
            if m == target
            else zipraw.member(m, c, deflate=not m.endswith(".pdf"))
            for m, c in parts.files
        ]
        return _pack_raw(parts, members, kind)
    elif kind == "zip_bomb":
        cerfa = next(m for m, _ in parts.files if "-doc-" in m and m.endswith(".pdf"))
        members = [
            bomb_member(m, bomb_bytes) if m == cerfa else zipraw.member(m, c, deflate=not m.endswith(".pdf"))
            for m, c in parts.files
        ]
        return _pack_raw(parts, members, kind)
    elif kind == "non_utf8_name":
        windows_name = "Pièce d'identité.pdf"
        _rename_member(parts, pieces[0].fichier, windows_name)
        members = [
            zipraw.member(windows_name.encode("cp850"), c, deflate=False) if m == windows_name
            else zipraw.member(m, c, deflate=not m.endswith(".pdf"))
            for m, c in parts.files
        ]  # fmt: skip
        return _pack_raw(parts, members, kind)
    else:
        raise ValueError(f"unknown broken kind {kind!r}; known: {', '.join(BROKEN_KINDS)}")
    return parts.pack(broken=kind)
