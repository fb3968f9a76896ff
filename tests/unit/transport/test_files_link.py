"""transport.files: moves made in two (link_into), moves that leave the source unsynced, filesystem syncs."""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

import pytest

import aiguilleur.transport.files as files
from aiguilleur.transport.files import atomic_move, link_into


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the directories fsynced, in order."""
    calls: list[str] = []
    real = files._fsync_dir

    def record(directory: Path) -> None:
        calls.append(directory.name)
        real(directory)

    monkeypatch.setattr(files, "_fsync_dir", record)
    return calls


def test_link_into_leaves_the_source_in_place_and_syncs_nothing(tmp_path: Path, synced: list[str]) -> None:
    src = tmp_path / "work" / "demande.zip"
    src.parent.mkdir()
    src.write_bytes(b"zip")

    final, linked = link_into(src, tmp_path / "done")

    assert (final, linked) == (tmp_path / "done" / "demande.zip", True)
    assert src.exists() and os.path.samefile(final, src)
    assert synced == []


def test_link_into_again_finds_the_link_already_made(tmp_path: Path) -> None:
    src = tmp_path / "demande.zip"
    src.write_bytes(b"zip")
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "demande.zip").write_bytes(b"another file of that name")

    first, _ = link_into(src, tmp_path / "done")
    second, linked = link_into(src, tmp_path / "done")

    assert first == second == tmp_path / "done" / "demande.1.zip"
    assert linked


def test_atomic_move_syncs_both_directories_by_default(tmp_path: Path, synced: list[str]) -> None:
    src = tmp_path / "in" / "demande.zip"
    src.parent.mkdir()
    src.write_bytes(b"zip")

    atomic_move(src, tmp_path / "work")

    assert synced == ["work", "in"]


def test_atomic_move_without_syncing_the_source(tmp_path: Path, synced: list[str]) -> None:
    src = tmp_path / "in" / "demande.zip"
    src.parent.mkdir()
    src.write_bytes(b"zip")

    final = atomic_move(src, tmp_path / "work", sync_source=False)

    assert synced == ["work"]  # the destination, always, before the source goes
    assert not src.exists() and final.read_bytes() == b"zip"


def test_a_copy_across_filesystems_always_syncs_its_source(tmp_path: Path, synced: list[str]) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the temporary directory")
    source_dir = Path(os.path.realpath(shm)) / f"link-test-{os.getpid()}"
    source_dir.mkdir()
    try:
        src = source_dir / "demande.zip"
        src.write_bytes(b"zip")
        atomic_move(src, tmp_path / "work", sync_source=False)
        assert synced == ["work", source_dir.name]
    finally:
        for p in source_dir.iterdir():
            p.unlink()
        source_dir.rmdir()


def test_sync_filesystem_syncs_through_syncfs_and_reports_its_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files.sync_filesystem(tmp_path)  # the real call, on a directory and on a file
    (tmp_path / "f").write_bytes(b"x")
    files.sync_filesystem(tmp_path / "f")

    calls: list[int] = []

    def failing_syncfs(fd: int) -> int:
        calls.append(fd)
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(files, "_syncfs", lambda: failing_syncfs)
    with pytest.raises(OSError, match="syncfs") as caught:
        files.sync_filesystem(tmp_path)
    assert caught.value.errno == errno.EIO and len(calls) == 1


def test_sync_filesystem_falls_back_to_sync_without_syncfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[bool] = []
    monkeypatch.setattr(files, "_syncfs", lambda: None)
    monkeypatch.setattr(files.os, "sync", lambda: synced.append(True))

    files.sync_filesystem(tmp_path)

    assert synced == [True]
