import hashlib
import io
import os
import stat
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiguilleur.errors import NotFound, RejectedItemError
from aiguilleur.store.blobs import BlobRef, BlobStore


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def blob_files(store: BlobStore) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file() and p.parent != store.root / "tmp"]


def tmp_files(store: BlobStore) -> list[Path]:
    return list((store.root / "tmp").iterdir())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_bytes_round_trip(store: BlobStore) -> None:
    ref = store.put_bytes(b"hello")

    assert ref == BlobRef(sha256=sha(b"hello"), size_bytes=5)
    assert store.exists(ref.sha256)
    assert store.size(ref.sha256) == 5
    with store.open(ref.sha256) as f:
        assert f.read() == b"hello"
    assert b"".join(store.iter_chunks(ref.sha256, chunk_size=2)) == b"hello"
    assert store.path(ref.sha256) == store.root / ref.sha256[:2] / ref.sha256[2:4] / ref.sha256


def test_put_bytes_makes_blob_read_only(store: BlobStore) -> None:
    ref = store.put_bytes(b"x")

    assert stat.S_IMODE(store.path(ref.sha256).stat().st_mode) == 0o444


def test_put_bytes_same_content_twice_keeps_one_file(store: BlobStore) -> None:
    first = store.put_bytes(b"same")
    second = store.put_stream(iter([b"sa", b"me"]))

    assert first == second
    assert blob_files(store) == [store.path(first.sha256)]
    assert tmp_files(store) == []


def test_put_file_and_file_object(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "doc.pdf"
    source.write_bytes(b"%PDF-1.7")

    assert store.put_file(source) == store.put_stream(io.BytesIO(b"%PDF-1.7"))


def test_put_empty_content(store: BlobStore) -> None:
    ref = store.put_stream([])

    assert ref == BlobRef(sha256=sha(b""), size_bytes=0)
    assert b"".join(store.iter_chunks(ref.sha256)) == b""


def test_put_stream_large_generator_uses_constant_memory(store: BlobStore) -> None:
    mib = 1024 * 1024
    expected = hashlib.sha256()

    def fifty_mib() -> Iterator[bytes]:
        for i in range(50):
            chunk = bytes([i]) * mib
            expected.update(chunk)
            yield chunk

    tracemalloc.start()
    try:
        ref = store.put_stream(fifty_mib())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 8 * mib
    assert ref == BlobRef(sha256=expected.hexdigest(), size_bytes=50 * mib)
    assert store.size(ref.sha256) == 50 * mib


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"expected_sha256": sha(b"other")}, "sha256", id="sha256"),
        pytest.param({"expected_size": 3}, "3 bytes", id="size-larger"),
        pytest.param({"expected_size": 30}, "30 expected", id="size-smaller"),
        pytest.param({"max_bytes": 4}, "4 bytes", id="max-bytes"),
    ],
)
def test_put_stream_mismatch_rejects_and_leaves_nothing(
    store: BlobStore, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(RejectedItemError, match=message):
        store.put_stream([b"conte", b"nt"], **kwargs)  # type: ignore[arg-type]

    assert blob_files(store) == []
    assert tmp_files(store) == []
    assert not store.exists(sha(b"content"))


def test_put_stream_accepts_matching_expectations(store: BlobStore) -> None:
    ref = store.put_stream(
        [b"content"], expected_sha256=sha(b"content").upper(), expected_size=7, max_bytes=7
    )

    assert ref == BlobRef(sha256=sha(b"content"), size_bytes=7)


def test_put_stream_max_bytes_stops_reading(store: BlobStore) -> None:
    pulled = 0

    def endless() -> Iterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"x" * 1024

    with pytest.raises(RejectedItemError, match="limit"):
        store.put_stream(endless(), max_bytes=10 * 1024)

    assert pulled == 11
    assert tmp_files(store) == []


def test_put_stream_source_error_leaves_nothing(store: BlobStore) -> None:
    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError):
        store.put_stream(broken())

    assert blob_files(store) == []
    assert tmp_files(store) == []


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("../../etc/passwd", id="traversal"),
        pytest.param("A" * 64, id="uppercase"),
        pytest.param("0" * 63, id="short"),
        pytest.param("0" * 64 + "\n", id="trailing-newline"),
        pytest.param("", id="empty"),
    ],
)
def test_invalid_id_is_not_found(store: BlobStore, bad: str) -> None:
    assert not store.exists(bad)
    for operation in (store.path, store.open, store.iter_chunks, store.size):
        with pytest.raises(NotFound):
            operation(bad)


def test_unknown_id_is_not_found(store: BlobStore) -> None:
    unknown = sha(b"never stored")

    assert not store.exists(unknown)
    for operation in (store.path, store.open, store.iter_chunks, store.size):
        with pytest.raises(NotFound):
            operation(unknown)


def test_cleanup_tmp_removes_only_stale_leftovers(store: BlobStore) -> None:
    stale = store.root / "tmp" / "put-crashed"
    stale.write_bytes(b"half a blob")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    fresh = store.root / "tmp" / "put-in-progress"
    fresh.write_bytes(b"being written")
    kept = store.put_bytes(b"kept")

    assert store.cleanup_tmp() == 1

    assert tmp_files(store) == [fresh]
    assert store.exists(kept.sha256)


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4096))
def test_put_bytes_addresses_by_sha256(store: BlobStore, data: bytes) -> None:
    ref = store.put_bytes(data)

    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert ref.size_bytes == len(data)
    assert b"".join(store.iter_chunks(ref.sha256)) == data
