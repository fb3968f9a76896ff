"""The import reads each zip once, streaming its members into the blob store: what that guarantees."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

import aiguilleur.connectors.mdel.members as members
from aiguilleur.store.dossiers import DossierFilter
from tests.connectors.mdel import test_connector
from tests.connectors.mdel.test_connector import AEC, DATA, demand_zip
from tests.connectors.mdel.world import World

world = test_connector.world  # the fixture: a channel over real directories


def blob_files(world: World) -> list[Path]:
    root = world.hub.blobs.root
    return [p for p in root.rglob("*") if p.is_file() and p.parent != root / "tmp"]


def corrupt_last_member(data: bytes) -> bytes:
    """Flip a byte inside the last member's data: its CRC no longer matches, found only when read."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        last = zf.infolist()[-1]
    header = last.header_offset
    name_len = int.from_bytes(data[header + 26 : header + 28], "little")
    extra_len = int.from_bytes(data[header + 28 : header + 30], "little")
    at = header + 30 + name_len + extra_len + last.compress_size // 2
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def test_a_zip_refused_while_streaming_stores_no_blob(world: World) -> None:
    bad = corrupt_last_member(demand_zip(AEC, extra={"zz-annexe.pdf": b"%PDF " + bytes(range(256)) * 40}))
    world.drop("A-1-K7EC2T4Q-AEC-LA-1.zip", bad)

    outcome = world.sync()

    assert outcome.counts["rejected"] == 1 and "imported" not in outcome.counts
    assert "corrompue" in outcome.errors[0]
    assert world.names("error") == ["A-1-K7EC2T4Q-AEC-LA-1.zip", "A-1-K7EC2T4Q-AEC-LA-1.zip.log"]
    assert blob_files(world) == []
    assert list((world.hub.blobs.root / "tmp").iterdir()) == []


def test_a_doc_xml_too_big_to_keep_in_memory_is_read_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(members, "XML_KEPT_BYTES", 10)  # no staged XML kept in memory
    world.drop("A-1-K7EC2T4Q-AEC-LA-1.zip", demand_zip(AEC))

    outcome = world.sync()

    assert (outcome.counts["imported"], outcome.counts["returns_sent"]) == (1, 1)
    (dossier,) = world.store.dossiers.search(DossierFilter(), None).items
    assert world.store.dossiers.get(dossier.id, None).data["fields"]  # the -doc XML was parsed


def test_an_oversized_message_xml_is_refused_without_reading_it_all(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(members, "XML_READ_BYTES", 100)
    message = (DATA / "AEC-LA" / "message.xml").read_bytes()
    world.drop("A-1-K7EC2T4Q-AEC-LA-1.zip", demand_zip(AEC, message=message))

    outcome = world.sync()

    assert outcome.counts["rejected"] == 1 and "imported" not in outcome.counts
    assert "message.xml" in outcome.errors[0]
