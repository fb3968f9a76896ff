"""A byte-level zip writer for archives :mod:`zipfile` refuses to make.

It writes member names as given bytes (a CP850 name without the UTF-8 flag, ``../`` paths), duplicate
names, Unix symlinks, and members whose deflated data was prepared elsewhere (a zip bomb is built from a
repeated compressed block without ever holding the expanded content). Classic zip only (no zip64): every
size stays below 4 GiB.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

UTF8_FLAG = 0x800
S_IFLNK = 0o120000
S_IFREG = 0o100000


@dataclass(frozen=True, slots=True)
class RawMember:
    """One member as it is stored: `payload` is already compressed when `method` is 8 (deflate)."""

    name: bytes
    payload: bytes
    crc: int
    size: int
    method: int = 8
    flags: int = 0
    mode: int = S_IFREG | 0o644


def member(
    name: str | bytes, content: bytes, *, deflate: bool = True, mode: int = S_IFREG | 0o644
) -> RawMember:
    """A member from its content; a ``str`` name is stored in UTF-8 with the UTF-8 flag when needed."""
    flags = 0
    if isinstance(name, str):
        if not name.isascii():
            flags |= UTF8_FLAG
        name = name.encode("utf-8")
    if deflate:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        payload = compressor.compress(content) + compressor.flush()
    else:
        payload = content
    return RawMember(name, payload, zlib.crc32(content), len(content), 8 if deflate else 0, flags, mode)


def _dos_time(moment: datetime) -> tuple[int, int]:
    time = (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2)
    day = ((max(moment.year, 1980) - 1980) << 9) | (moment.month << 5) | moment.day
    return time, day


def build_zip(members: Sequence[RawMember], *, when: datetime) -> bytes:
    """The archive bytes: local headers and data, central directory, end record (made on Unix, v2.0)."""
    dos_time, dos_date = _dos_time(when)
    out = bytearray()
    central = bytearray()
    for m in members:
        offset = len(out)
        fixed = (20, m.flags, m.method, dos_time, dos_date, m.crc, len(m.payload), m.size, len(m.name))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, *fixed, 0) + m.name + m.payload
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            (3 << 8) | 20,  # made by Unix (3), so the external attributes carry a st_mode
            *fixed,
            0,
            0,
            0,
            0,
            (m.mode << 16) & 0xFFFFFFFF,
            offset,
        )
        central += m.name
    out_len = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), out_len, 0)
    return bytes(out)
