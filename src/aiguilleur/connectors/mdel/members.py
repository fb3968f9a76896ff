"""A demand zip's members as `stream_zip` hands them over: staged as blobs, or kept to be redacted.

``message.xml`` and the ``-ent.xml`` carry the citizen's password: they are read into memory (capped)
and stored only once redacted. Every other member streams into the blob batch as it is; the small XML
files among them are kept in memory too, so that the ``-doc`` files are parsed without reading them
back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from aiguilleur.store.blobs import BlobBatch, BlobRef
from aiguilleur.transport.archives import MemberSink

MESSAGE_NAME = "message.xml"
# What is read of an XML file to parse: one byte more than `parse_xml` accepts, so that it refuses it.
XML_READ_BYTES = 50 * 1024**2 + 1
# Staged XML files kept in memory too, in all, per demand (larger ones are read back when parsed).
XML_KEPT_BYTES = 4 * 1024**2


@dataclass
class Members:
    """What `sink` made of a demand zip's file members, in archive order (see the module docstring)."""

    entete_prefix: str
    order: list[str] = field(default_factory=list)
    staged: dict[str, BlobRef] = field(default_factory=dict)  # stored as they are
    kept: dict[str, bytes] = field(default_factory=dict)  # message.xml, -ent.xml: stored once redacted
    copies: dict[str, bytes] = field(default_factory=dict)  # small staged XML files, as they are
    roots: dict[str, etree._Element] = field(default_factory=dict)  # the kept files, parsed
    entete_name: str | None = None
    budget: int = XML_KEPT_BYTES

    def sink(self, batch: BlobBatch) -> MemberSink:
        def on_member(member: str, size: int, chunks: Iterator[bytes]) -> None:
            self.order.append(member)
            if member == MESSAGE_NAME:
                self.kept[member] = _read_capped(chunks)
            elif self.entete_name is None and _is_entete(member, self.entete_prefix):
                self.entete_name = member
                self.kept[member] = _read_capped(chunks)
            elif member.lower().endswith(".xml") and size <= self.budget:
                self.budget -= size  # the declared size: `chunks` refuses any byte beyond it
                copy = bytearray()
                self.staged[member] = batch.put_stream(_tee(chunks, copy))
                self.copies[member] = bytes(copy)
            else:
                self.staged[member] = batch.put_stream(chunks)

        return on_member

    def xml(self, member: str, batch: BlobBatch) -> bytes:
        """A member to parse: from memory, else read back from the batch (capped)."""
        data = self.kept.get(member, self.copies.get(member))
        return data if data is not None else batch.read(self.staged[member].sha256, XML_READ_BYTES)


def _tee(chunks: Iterator[bytes], copy: bytearray) -> Iterator[bytes]:
    for chunk in chunks:
        copy += chunk
        yield chunk


def _is_entete(member: str, prefix: str) -> bool:
    return member.startswith(prefix) and member.lower().endswith(".xml")


def _read_capped(chunks: Iterator[bytes]) -> bytes:
    """At most XML_READ_BYTES of a member; the rest is read (and checked) by `stream_zip`."""
    data = bytearray()
    for chunk in chunks:
        data += chunk[: XML_READ_BYTES - len(data)]
        if len(data) >= XML_READ_BYTES:
            break
    return bytes(data)
