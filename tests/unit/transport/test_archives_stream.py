"""stream_zip: the checks of extract_zip, each member's bytes handed over instead of written."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiguilleur.errors import RejectedItemError
from aiguilleur.transport.archives import ArchiveLimits, _Extraction, _Member, stream_zip
from tests.unit.transport.test_files import (
    ZIP_REFUSALS,
    Builder,
    make_bomb_zip,
    make_zip,
    patch_sizes,
    tree,
)


class Collect:
    """A sink keeping what it is handed: path -> (declared size, bytes)."""

    def __init__(self, read: bool = True) -> None:
        self.read = read
        self.members: dict[str, tuple[int, bytes]] = {}

    def __call__(self, path: str, size: int, chunks: Iterator[bytes]) -> None:
        self.members[path] = (size, b"".join(chunks) if self.read else b"")


def test_members_are_handed_in_order_with_their_bytes_and_nothing_is_written(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "ok.zip",
        [("docs/", b""), ("docs/pièce jointe.pdf", b"%PDF"), ("acte.xml", b"<a/>"), ("./vide/", b"")],
    )
    sink = Collect()

    assert stream_zip(archive, sink) == ["docs/pièce jointe.pdf", "acte.xml"]

    assert sink.members == {"docs/pièce jointe.pdf": (4, b"%PDF"), "acte.xml": (4, b"<a/>")}
    assert tree(tmp_path) == {"ok.zip"}


def test_paths_are_those_extract_zip_would_write(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "ok.zip", [("./a/./b.txt", b"1"), ("c\\d.txt", b"2")])
    assert stream_zip(archive, Collect()) == ["a/b.txt", "c/d.txt"]


@pytest.mark.parametrize(("build", "reason"), ZIP_REFUSALS)
def test_every_refusal_of_extract_zip_applies(tmp_path: Path, build: Builder, reason: str) -> None:
    archive = build(tmp_path / "in.zip")

    with pytest.raises(RejectedItemError, match=reason) as caught:
        stream_zip(archive, Collect())

    assert str(caught.value).startswith("in.zip : ")
    assert tree(tmp_path) == {"in.zip"}


@pytest.mark.parametrize("read", [True, False], ids=["sink-reads", "sink-reads-nothing"])
def test_a_lying_header_is_refused_even_when_the_sink_reads_nothing(tmp_path: Path, read: bool) -> None:
    # 50 MB of zeros declared as 1000 bytes: the declared ratio looks harmless
    archive = patch_sizes(make_bomb_zip(tmp_path / "in.zip"), 1000)

    with pytest.raises(RejectedItemError, match="corrompue"):
        stream_zip(archive, Collect(read=read))


def test_a_member_shorter_than_declared_is_refused(tmp_path: Path) -> None:
    archive = patch_sizes(make_zip(tmp_path / "in.zip", [("a.txt", b"hello " * 20_000)]), 200_000)
    with pytest.raises(RejectedItemError, match=r"corrompue|octets lus"):
        stream_zip(archive, Collect())


def test_no_member_is_handed_when_a_later_one_is_refused_on_its_metadata(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in.zip", [("ok.txt", b"1"), ("../../evil.txt", b"x")])
    sink = Collect()

    with pytest.raises(RejectedItemError, match="chemin dangereux"):
        stream_zip(archive, sink)
    assert sink.members == {}


def test_limits_apply(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in.zip", [(f"f{i}.txt", os.urandom(1000)) for i in range(4)])
    assert len(stream_zip(archive, Collect())) == 4
    with pytest.raises(RejectedItemError, match="trop de membres"):
        stream_zip(archive, Collect(), ArchiveLimits(max_members=3))
    with pytest.raises(RejectedItemError, match="taille décompressée totale"):
        stream_zip(archive, Collect(), ArchiveLimits(max_total_bytes=3999))


def test_chunks_stop_when_a_member_outgrows_its_declared_size(tmp_path: Path) -> None:
    # zipfile never hands out more than the declared size: feed a lying reader to the checks directly
    archive = tmp_path / "in.zip"
    archive.write_bytes(b"x" * 100)
    job = _Extraction(archive, tmp_path, ArchiveLimits())
    member = _Member("a.bin", False, 10, 10, lambda: io.BytesIO(bytes(200_000)))

    with pytest.raises(RejectedItemError, match="dépasse sa taille annoncée"):
        b"".join(job.chunks(member))


def test_an_error_of_the_sink_propagates_as_it_is(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in.zip", [("a.txt", b"1")])

    def failing(path: str, size: int, chunks: Iterator[bytes]) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        stream_zip(archive, failing)


def test_corrupt_data_is_refused_while_streaming(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in.zip", [("a.bin", os.urandom(50_000))], zipfile.ZIP_STORED)
    data = bytearray(archive.read_bytes())
    data[1000] ^= 0xFF  # inside the stored member: its CRC no longer matches
    archive.write_bytes(bytes(data))

    with pytest.raises(RejectedItemError, match="corrompue"):
        stream_zip(archive, Collect())
