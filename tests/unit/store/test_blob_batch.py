"""BlobStore.batch and stage/publish_all: blobs staged under tmp/, published together, synced by group."""

from __future__ import annotations

import hashlib
import os
import stat
from collections import Counter
from pathlib import Path

import pytest

import aiguilleur.transport.files as files_module
from aiguilleur.errors import NotFound, RejectedItemError
from aiguilleur.store.blobs import BlobRef, BlobStore
from aiguilleur.transport.files import GroupSync


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


@pytest.fixture
def per_file(tmp_path: Path) -> BlobStore:
    """A store whose groups are synced file by file and directory by directory (``group_sync = files``)."""
    return BlobStore(tmp_path / "blobs", sync=GroupSync(per_file=True))


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> Counter[Path]:
    """The directories fsynced, with how many times each."""
    calls: Counter[Path] = Counter()
    real = files_module._fsync_dir

    def record(directory: Path) -> None:
        calls[directory] += 1
        real(directory)

    monkeypatch.setattr(files_module, "_fsync_dir", record)
    return calls


def blob_files(store: BlobStore) -> list[Path]:
    return sorted(p for p in store.root.rglob("*") if p.is_file() and p.parent != store.root / "tmp")


def tmp_files(store: BlobStore) -> list[Path]:
    return list((store.root / "tmp").iterdir())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_batch_publishes_on_leaving_the_block_and_not_before(store: BlobStore) -> None:
    with store.batch() as batch:
        first = batch.put_bytes(b"first")
        second = batch.put_stream(iter([b"sec", b"ond"]))
        assert not store.exists(first.sha256) and not store.exists(second.sha256)
        assert len(tmp_files(store)) == 2

    assert (first, second) == (BlobRef(sha(b"first"), 5), BlobRef(sha(b"second"), 6))
    assert store.path(first.sha256).read_bytes() == b"first"
    assert store.path(second.sha256).read_bytes() == b"second"
    assert stat.S_IMODE(store.path(second.sha256).stat().st_mode) == 0o444
    assert tmp_files(store) == []


def test_an_error_in_the_block_publishes_nothing(store: BlobStore) -> None:
    with pytest.raises(RuntimeError), store.batch() as batch:
        batch.put_bytes(b"staged")
        raise RuntimeError("a later check failed")

    assert blob_files(store) == []
    assert tmp_files(store) == []


def test_a_refused_put_leaves_the_others_staged(store: BlobStore) -> None:
    with store.batch() as batch:
        kept = batch.put_bytes(b"kept")
        with pytest.raises(RejectedItemError):
            batch.put_stream([b"too long"], max_bytes=3)

    assert blob_files(store) == [store.path(kept.sha256)]
    assert tmp_files(store) == []


def test_same_content_twice_or_already_stored_keeps_one_file(store: BlobStore) -> None:
    before = store.put_bytes(b"already there")
    with store.batch() as batch:
        assert batch.put_bytes(b"twice") == batch.put_bytes(b"twice")
        assert batch.put_bytes(b"already there") == before

    assert blob_files(store) == sorted([store.path(before.sha256), store.path(sha(b"twice"))])
    assert tmp_files(store) == []


def test_read_gives_a_staged_blob_back(store: BlobStore) -> None:
    with store.batch() as batch:
        ref = batch.put_bytes(b"<xml/>")
        assert batch.read(ref.sha256, 100) == b"<xml/>"
        assert batch.read(ref.sha256, 3) == b"<xm"
        with pytest.raises(NotFound):
            batch.read(sha(b"never staged"), 100)


def test_staged_blobs_keep_no_file_open(store: BlobStore) -> None:
    with store.batch() as batch:
        refs = [batch.put_bytes(b"blob %d" % i) for i in range(10)]
        open_files = [s for s in batch._staged.values() if s.fd is not None]
        assert open_files == []

    assert all(store.exists(r.sha256) for r in refs)


def test_publishing_syncs_each_directory_touched_once(per_file: BlobStore, synced: Counter[Path]) -> None:
    store = per_file
    contents = [b"blob %d" % i for i in range(20)]
    with store.batch() as batch:
        for data in contents:
            batch.put_bytes(data)

    leaves = {store.path(sha(d)).parent for d in contents}
    parents = {leaf.parent for leaf in leaves}
    assert set(synced) == leaves | parents | {store.root}
    assert set(synced.values()) == {1}


def test_fan_out_directories_are_remembered_once_synced(per_file: BlobStore, synced: Counter[Path]) -> None:
    store = per_file
    store.put_bytes(b"first")
    leaf = store.path(sha(b"first")).parent
    synced.clear()

    with store.batch() as batch:  # same fan-out directory: its parents are known durable
        batch.put_bytes(b"first")

    assert set(synced) == {leaf}


def test_a_directory_not_synced_is_not_remembered(
    per_file: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = per_file

    def failing(directory: Path) -> None:
        raise OSError("EIO")

    monkeypatch.setattr(files_module, "_fsync_dir", failing)
    with pytest.raises(OSError, match="EIO"), store.batch() as batch:
        batch.put_bytes(b"lost?")

    assert store._dirs == set()  # the next put syncs their parents again


# -- staged batches published together -------------------------------------------------------------------


@pytest.fixture
def fs_syncs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The filesystem syncs of `publish_all`, in order (each still made)."""
    calls: list[Path] = []
    real = files_module.sync_filesystem

    def record(path: Path) -> None:
        calls.append(path)
        real(path)

    monkeypatch.setattr(files_module, "sync_filesystem", record)
    return calls


def test_staged_batches_are_published_together_with_two_filesystem_syncs(
    store: BlobStore, fs_syncs: list[Path], synced: Counter[Path]
) -> None:
    batches = [store.stage() for _ in range(5)]
    refs = [batch.put_bytes(f"blob {i}-{j}".encode()) for i, batch in enumerate(batches) for j in range(4)]
    shared = [batch.put_bytes(b"the same scan in every demand") for batch in batches]
    assert blob_files(store) == [] and len(tmp_files(store)) == 25

    store.publish_all(batches)

    assert fs_syncs == [store.root, store.root]  # contents, then names: whatever the number of blobs
    assert not synced  # no fsync per file or directory
    assert all(
        store.path(r.sha256).read_bytes() == f"blob {n // 4}-{n % 4}".encode() for n, r in enumerate(refs)
    )
    assert len(set(shared)) == 1 and store.exists(shared[0].sha256)
    assert len(blob_files(store)) == 21 and tmp_files(store) == []


def test_contents_are_synced_before_any_blob_gets_its_name(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = store.stage()
    ref = batch.put_bytes(b"content")
    seen: list[bool] = []
    monkeypatch.setattr(files_module, "sync_filesystem", lambda path: seen.append(store.exists(ref.sha256)))

    store.publish_all([batch])

    assert seen == [False, True]


def test_a_failed_sync_publishes_nothing_and_leaves_no_temporary_file(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = [store.stage(), store.stage()]
    for batch in batches:
        batch.put_bytes(b"x" * 10)
        batch.put_bytes(b"y" * 20)

    def fail(path: Path) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(files_module, "sync_filesystem", fail)
    with pytest.raises(OSError, match="Input/output"):
        store.publish_all(batches)

    assert blob_files(store) == [] and tmp_files(store) == []


def test_a_staged_batch_published_alone_is_durable_like_a_put(store: BlobStore, fs_syncs: list[Path]) -> None:
    batch = store.stage()
    ref = batch.put_bytes(b"alone")
    batch.publish()

    assert store.path(ref.sha256).read_bytes() == b"alone"
    assert len(fs_syncs) == 2


def test_publishing_no_blob_syncs_nothing(store: BlobStore, fs_syncs: list[Path]) -> None:
    store.publish_all([store.stage(), store.stage()])
    assert fs_syncs == []


def test_per_file_sync_fsyncs_each_blob_and_directory_instead_of_the_filesystem(
    tmp_path: Path, fs_syncs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = BlobStore(tmp_path / "blobs", sync=GroupSync(per_file=True))
    fsynced: list[str] = []
    real_fsync = files_module.os.fsync

    def record(fd: int) -> None:
        fsynced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(files_module.os, "fsync", record)
    batches = [store.stage(), store.stage()]
    refs = [batch.put_bytes(f"blob {i}".encode()) for i, batch in enumerate(batches)]

    store.publish_all(batches)

    assert fs_syncs == []
    assert all(store.path(r.sha256).read_bytes() == f"blob {i}".encode() for i, r in enumerate(refs))
    staged = [p for p in fsynced if "/tmp/put-" in p]  # each content, under its temporary name
    leaves = {str(store.path(r.sha256).parent) for r in refs}
    assert len(staged) == 2 and leaves <= set(fsynced)
