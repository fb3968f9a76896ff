"""transport.files: atomic moves and writes, readiness, safe names, hostile archives."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import tempfile
import tracemalloc
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiguilleur.errors import RejectedItemError
from aiguilleur.transport.archives import ArchiveLimits, extract_tar, extract_zip
from aiguilleur.transport.files import (
    Readiness,
    ReadinessTracker,
    atomic_move,
    atomic_write,
    atomic_write_stream,
    safe_filename,
)

NOW = 1_800_000_000.0  # fixed clock for readiness tests


def tree(root: Path) -> set[str]:
    """Every path under `root`, relative, directories with a trailing slash."""
    return {
        str(p.relative_to(root)) + ("/" if p.is_dir() and not p.is_symlink() else "") for p in root.rglob("*")
    }


# -- atomic moves and writes ---------------------------------------------------------------------------


def test_atomic_move_moves_into_directory(tmp_path: Path) -> None:
    src = tmp_path / "in" / "acte.xml"
    src.parent.mkdir()
    src.write_bytes(b"<acte/>")

    final = atomic_move(src, tmp_path / "out")

    assert final == tmp_path / "out" / "acte.xml"
    assert final.read_bytes() == b"<acte/>"
    assert not src.exists()


def test_atomic_move_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "acte.xml").write_bytes(b"first")
    (out / "acte.1.xml").write_bytes(b"second")
    src = tmp_path / "acte.xml"
    src.write_bytes(b"third")

    final = atomic_move(src, out)

    assert final == out / "acte.2.xml"
    assert final.read_bytes() == b"third"
    assert (out / "acte.xml").read_bytes() == b"first"
    assert (out / "acte.1.xml").read_bytes() == b"second"


def test_atomic_move_uses_given_name(tmp_path: Path) -> None:
    src = tmp_path / "tmp123"
    src.write_bytes(b"data")

    final = atomic_move(src, tmp_path / "out", name="rapport.pdf")

    assert final.name == "rapport.pdf"
    assert final.read_bytes() == b"data"


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", ""])
def test_atomic_move_refuses_a_name_with_a_path(tmp_path: Path, name: str) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"x")
    with pytest.raises(ValueError, match="plain file name"):
        atomic_move(src, tmp_path / "out", name=name)
    assert src.exists()


@pytest.fixture
def other_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A directory on another filesystem than tmp_path (tmpfs /dev/shm), to exercise the copy path."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the temporary directory")
    with tempfile.TemporaryDirectory(dir=shm) as directory:
        yield Path(directory)


def test_atomic_move_across_filesystems_copies_and_leaves_no_temp(
    tmp_path: Path, other_filesystem: Path
) -> None:
    src = other_filesystem / "gros.bin"
    content = os.urandom(300_000)
    src.write_bytes(content)
    (tmp_path / "gros.bin").write_bytes(b"already here")

    final = atomic_move(src, tmp_path)

    assert final == tmp_path / "gros.1.bin"
    assert final.read_bytes() == content
    assert (tmp_path / "gros.bin").read_bytes() == b"already here"
    assert not src.exists()
    assert tree(tmp_path) == {"gros.bin", "gros.1.bin"}  # no .part left over


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "retour.zip"
    target.write_bytes(b"old")

    atomic_write(target, b"new")

    assert target.read_bytes() == b"new"
    assert tree(tmp_path) == {"retour.zip"}


def test_atomic_write_stream_returns_size(tmp_path: Path) -> None:
    target = tmp_path / "depot.bin"
    assert atomic_write_stream(target, iter([b"abc", b"", b"defg"])) == 7
    assert target.read_bytes() == b"abcdefg"


def test_atomic_write_stream_failure_keeps_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "depot.bin"
    target.write_bytes(b"old")

    def chunks() -> Iterator[bytes]:
        yield b"partial"
        raise ConnectionResetError("source went away")

    with pytest.raises(ConnectionResetError):
        atomic_write_stream(target, chunks())
    assert target.read_bytes() == b"old"
    assert tree(tmp_path) == {"depot.bin"}


# -- readiness -----------------------------------------------------------------------------------------


def put(path: Path, data: bytes, age_s: float) -> Path:
    """Write `data` to `path` with an mtime `age_s` seconds before NOW."""
    path.write_bytes(data)
    os.utime(path, (NOW - age_s, NOW - age_s))
    return path


def test_readiness_old_file_is_ready_at_first_scan(tmp_path: Path) -> None:
    put(tmp_path / "a.xml", b"x", age_s=60)
    assert ReadinessTracker().ready_files(tmp_path, now=NOW) == [tmp_path / "a.xml"]


def test_readiness_young_file_waits_for_min_age(tmp_path: Path) -> None:
    tracker = ReadinessTracker(Readiness(min_age_s=10))
    put(tmp_path / "a.xml", b"x", age_s=2)

    assert tracker.ready_files(tmp_path, now=NOW) == []
    assert tracker.ready_files(tmp_path, now=NOW + 5) == []
    assert tracker.ready_files(tmp_path, now=NOW + 8) == [tmp_path / "a.xml"]


def test_readiness_growing_file_is_not_ready(tmp_path: Path) -> None:
    tracker = ReadinessTracker(Readiness(min_age_s=10))
    path = put(tmp_path / "a.xml", b"first", age_s=60)
    assert tracker.ready_files(tmp_path, now=NOW) == [path]

    put(path, b"first and more", age_s=60)  # grew, yet the writer keeps an old mtime
    assert tracker.ready_files(tmp_path, now=NOW + 1) == []
    assert tracker.ready_files(tmp_path, now=NOW + 2) == [path]


def test_readiness_future_mtime_becomes_ready_after_stability(tmp_path: Path) -> None:
    tracker = ReadinessTracker(Readiness(min_age_s=10))
    put(tmp_path / "a.xml", b"x", age_s=-3600)  # the peer's clock runs an hour ahead

    assert tracker.ready_files(tmp_path, now=NOW) == []
    assert tracker.ready_files(tmp_path, now=NOW + 9) == []
    assert tracker.ready_files(tmp_path, now=NOW + 10) == [tmp_path / "a.xml"]


def test_readiness_skips_temporary_hidden_dirs_and_symlinks(tmp_path: Path) -> None:
    good = put(tmp_path / "b.pdf", b"x", age_s=60)
    for name in ("a.pdf.part", "c.TMP", "d.filepart", "e.crdownload", ".hidden"):
        put(tmp_path / name, b"x", age_s=60)
    (tmp_path / "dir").mkdir()
    (tmp_path / "link.pdf").symlink_to(good)

    assert ReadinessTracker().ready_files(tmp_path, now=NOW) == [good]


def test_readiness_marker_required_when_configured(tmp_path: Path) -> None:
    tracker = ReadinessTracker(Readiness(min_age_s=0, marker_suffix=".done"))
    path = put(tmp_path / "a.zip", b"x", age_s=60)
    assert tracker.ready_files(tmp_path, now=NOW) == []

    put(tmp_path / "a.zip.done", b"", age_s=0)
    assert tracker.ready_files(tmp_path, now=NOW) == [path]


def test_readiness_sorted_by_name(tmp_path: Path) -> None:
    for name in ("c", "a", "b"):
        put(tmp_path / name, b"x", age_s=60)
    assert [p.name for p in ReadinessTracker().ready_files(tmp_path, now=NOW)] == ["a", "b", "c"]


# -- safe_filename -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("../../etc/passwd", "passwd", id="traversal"),
        pytest.param("C:\\Users\\agent\\rapport.pdf", "rapport.pdf", id="windows-path"),
        pytest.param("..\\..\\boot.ini", "boot.ini", id="backslash-traversal"),
        pytest.param("CON", "_CON", id="con"),
        pytest.param("con.txt", "_con.txt", id="con-with-extension"),
        pytest.param("LPT9.log", "_LPT9.log", id="lpt9"),
        pytest.param("com1 .txt", "_com1 .txt", id="com1-space"),
        pytest.param("CONSOLE.txt", "CONSOLE.txt", id="not-reserved"),
        pytest.param("a\x00b\x1fc\x7f\n.txt", "abc.txt", id="control-chars"),
        pytest.param('<a>:"|?*.txt', "a.txt", id="windows-forbidden"),
        pytest.param("  ..caché. . ", "caché", id="dots-and-spaces"),
        pytest.param("Acte été n°1.pdf", "Acte été n°1.pdf", id="accents-kept"),
        pytest.param("e\u0301te\u0301.txt", "été.txt", id="nfc"),
        pytest.param("facture\u202efdp.exe", "facturefdp.exe", id="bidi-override"),
        pytest.param("", "fichier", id="empty"),
        pytest.param("...", "fichier", id="dots-only"),
        pytest.param("dossier/", "fichier", id="directory-only"),
    ],
)
def test_safe_filename_cleans(raw: str, expected: str) -> None:
    assert safe_filename(raw) == expected


def test_safe_filename_caps_length_keeping_extension() -> None:
    assert safe_filename("a" * 300 + ".pdf") == "a" * 176 + ".pdf"


def test_safe_filename_caps_utf8_bytes() -> None:
    name = safe_filename("é" * 300 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name.encode()) <= 255
    assert set(name.removesuffix(".pdf")) == {"é"}


@given(st.text(), st.integers(min_value=8, max_value=300))
def test_safe_filename_properties(raw: str, max_length: int) -> None:
    name = safe_filename(raw, max_length)
    assert name
    assert not any(c in name for c in "/\\\0")
    assert not name.startswith((".", " "))
    assert not name.endswith((".", " "))
    assert len(name) <= max_length
    assert len(name.encode()) <= 255
    assert unicodedata.is_normalized("NFC", name)
    assert safe_filename(name, max_length) == name


# -- archives: helpers ---------------------------------------------------------------------------------

Entry = tuple[str | zipfile.ZipInfo, bytes]


def make_zip(path: Path, entries: list[Entry], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": that is the point
        with zipfile.ZipFile(path, "w", method) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return path


def zip_info(name: str, *, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.external_attr = mode << 16
    return info


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def patch(path: Path, old: bytes, new: bytes) -> Path:
    """Replace raw bytes in an archive (names are stored twice: local and central headers)."""
    data = path.read_bytes()
    assert old in data and len(old) == len(new)
    path.write_bytes(data.replace(old, new))
    return path


def patch_header(path: Path, local_at: int, central_at: int, value: int, width: int) -> Path:
    """Set a field in both headers of the first member (offsets from APPNOTE 4.3.7 and 4.3.12)."""
    data = bytearray(path.read_bytes())
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    data[local + local_at : local + local_at + width] = value.to_bytes(width, "little")
    data[central + central_at : central + central_at + width] = value.to_bytes(width, "little")
    path.write_bytes(bytes(data))
    return path


def patch_sizes(path: Path, size: int) -> Path:
    """Make the first member declare `size` uncompressed bytes."""
    return patch_header(path, 22, 24, size, 4)


def patch_method(path: Path, method: int) -> Path:
    return patch_header(path, 8, 10, method, 2)


def patch_flags(path: Path, flags: int) -> Path:
    """zipfile resets flag_bits when writing: set them afterwards."""
    return patch_header(path, 6, 8, flags, 2)


def make_bomb_zip(path: Path, size: int = 50 * 1024**2) -> Path:
    """`size` zeros deflated (about 1000:1), written in chunks."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("zeros.bin", "w") as out:
        for _ in range(size // 2**20):
            out.write(bytes(2**20))
    return path


def make_tar(path: Path, entries: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode, format=tarfile.GNU_FORMAT, encoding="utf-8") as tf:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tf.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                tf.addfile(info, io.BytesIO(entry[1]))
    return path


def tar_info(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


# -- archives: what is accepted ------------------------------------------------------------------------


def test_extract_zip_writes_files_and_directories(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "ok.zip",
        [("docs/", b""), ("docs/pièce jointe.pdf", b"%PDF"), ("acte.xml", b"<a/>"), ("./vide/", b"")],
    )
    dest = tmp_path / "out" / "deep"

    files = extract_zip(archive, dest)

    assert files == [dest / "docs" / "pièce jointe.pdf", dest / "acte.xml"]
    assert (dest / "docs" / "pièce jointe.pdf").read_bytes() == b"%PDF"
    assert (dest / "acte.xml").read_bytes() == b"<a/>"
    assert tree(dest) == {"docs/", "docs/pièce jointe.pdf", "acte.xml", "vide/"}


def test_extract_zip_tolerates_a_high_ratio_on_a_small_member(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "spaces.zip", [("blank.txt", b" " * 500_000)])
    assert extract_zip(archive, tmp_path / "out") == [tmp_path / "out" / "blank.txt"]


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_extract_tar_writes_files_and_directories(tmp_path: Path, mode: str) -> None:
    archive = make_tar(
        tmp_path / "ok.tar",
        [tar_info("./", tarfile.DIRTYPE), tar_info("./docs", tarfile.DIRTYPE), ("./docs/été.txt", b"x")],
        mode,
    )
    assert extract_tar(archive, tmp_path / "out") == [tmp_path / "out" / "docs" / "été.txt"]
    assert tree(tmp_path / "out") == {"docs/", "docs/été.txt"}


# -- archives: what is refused -------------------------------------------------------------------------

Builder = Callable[[Path], Path]

ZIP_REFUSALS = [
    pytest.param(lambda p: make_zip(p, [("../../evil.txt", b"x")]), "chemin dangereux", id="zip-slip"),
    pytest.param(lambda p: make_zip(p, [("/etc/x", b"x")]), "chemin dangereux", id="absolute"),
    pytest.param(lambda p: make_zip(p, [("C:/x.txt", b"x")]), "chemin dangereux", id="drive-letter"),
    pytest.param(lambda p: make_zip(p, [("..\\..\\evil", b"x")]), "chemin dangereux", id="backslash-slip"),
    pytest.param(lambda p: make_zip(p, [("\\srv\\x", b"x")]), "chemin dangereux", id="backslash-absolute"),
    pytest.param(
        lambda p: make_zip(p, [("ok.txt", b"x"), (zip_info("lien", mode=0o120777), b"/etc/passwd")]),
        "lien symbolique refusé",
        id="symlink",
    ),
    pytest.param(
        lambda p: make_zip(p, [(zip_info("fifo", mode=stat.S_IFIFO | 0o644), b"")]),
        "fichier spécial",
        id="fifo",
    ),
    pytest.param(lambda p: make_zip(p, [("a.txt", b"1"), ("a.txt", b"2")]), "en double", id="duplicate"),
    pytest.param(
        lambda p: make_zip(p, [("Rapport.PDF", b"1"), ("rapport.pdf", b"2")]), "en double", id="dup-case"
    ),
    pytest.param(
        lambda p: make_zip(p, [("\u00e9.txt", b"1"), ("e\u0301.txt", b"2")]), "en double", id="dup-nfc-nfd"
    ),
    pytest.param(lambda p: make_zip(p, [("a/b", b"1"), ("a/./b", b"2")]), "en double", id="dup-dot"),
    pytest.param(lambda p: make_zip(p, [("a", b"1"), ("a/b", b"2")]), "même nom", id="file-then-dir"),
    pytest.param(
        lambda p: make_zip(p, [("d/", b""), ("x.txt", b"1"), ("D", b"2")]), "en double", id="dir-then-file"
    ),
    pytest.param(lambda p: patch_flags(make_zip(p, [("s.txt", b"x")]), 0x1), "chiffré", id="encrypted"),
    pytest.param(
        lambda p: patch(make_zip(p, [("cafX.txt", b"x")]), b"cafX.txt", b"caf\x82.txt"),
        "non UTF-8",
        id="cp437-name",
    ),
    pytest.param(
        lambda p: patch_method(make_zip(p, [("a.txt", b"x")], zipfile.ZIP_STORED), 99),
        "méthode de compression",
        id="aes-method",
    ),
    pytest.param(lambda p: make_zip(p, [("a" * 300, b"x")]), "trop long", id="long-name"),
    pytest.param(lambda p: make_zip(p, [("a\x01b", b"x")]), "contrôle", id="control-char"),
    pytest.param(lambda p: make_zip(p, []), "archive vide", id="empty"),
    pytest.param(lambda p: write(p, b"PK\x03\x04 not a zip at all"), "corrompue", id="garbage"),
    pytest.param(
        lambda p: write(p, make_zip(p, [("a", os.urandom(5000))]).read_bytes()[:3000]),
        "corrompue",
        id="truncated",
    ),
    pytest.param(make_bomb_zip, "taux de compression", id="bomb-declared"),
    pytest.param(
        lambda p: patch_sizes(make_zip(p, [("a.txt", b"hello " * 20_000)]), 100),
        "corrompue",
        id="header-says-smaller",
    ),
    pytest.param(
        lambda p: patch_sizes(make_zip(p, [("a.txt", b"hello " * 20_000)]), 200_000),
        "corrompue|octets lus",
        id="header-says-larger",
    ),
]


@pytest.mark.parametrize(("build", "reason"), ZIP_REFUSALS)
def test_extract_zip_refuses_and_leaves_nothing(tmp_path: Path, build: Builder, reason: str) -> None:
    archive = build(tmp_path / "in.zip")
    dest = tmp_path / "out" / "x"

    with pytest.raises(RejectedItemError, match=reason) as caught:
        extract_zip(archive, dest)

    assert str(caught.value).startswith("in.zip : ")
    assert tree(tmp_path) == {"in.zip"}


def test_extract_zip_bomb_with_lying_header_writes_nothing(tmp_path: Path) -> None:
    # 50 MB of zeros declared as 1000 bytes: the declared ratio looks harmless.
    archive = patch_sizes(make_bomb_zip(tmp_path / "in.zip"), 1000)
    with pytest.raises(RejectedItemError, match="corrompue"):
        extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        pytest.param(ArchiveLimits(max_members=3), "trop de membres", id="members"),
        pytest.param(ArchiveLimits(max_member_bytes=999), "trop volumineux", id="member-bytes"),
        pytest.param(ArchiveLimits(max_total_bytes=3999), "taille décompressée totale", id="total-bytes"),
        pytest.param(ArchiveLimits(max_name_length=4), "trop long", id="name-length"),
    ],
)
def test_extract_zip_enforces_limits(tmp_path: Path, limits: ArchiveLimits, reason: str) -> None:
    archive = make_zip(tmp_path / "in.zip", [(f"f{i}.txt", os.urandom(1000)) for i in range(4)])
    assert len(extract_zip(archive, tmp_path / "ok")) == 4  # the defaults accept it
    with pytest.raises(RejectedItemError, match=reason):
        extract_zip(archive, tmp_path / "out", limits)
    assert not (tmp_path / "out").exists()


def test_extract_zip_ratio_limit_applies(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "in.zip", [("text.txt", os.urandom(1_000_000).hex().encode())])
    assert extract_zip(archive, tmp_path / "ok")  # hex text deflates about 2:1
    with pytest.raises(RejectedItemError, match="taux de compression"):
        extract_zip(archive, tmp_path / "out", ArchiveLimits(max_ratio=1.2))


def test_extract_zip_refusal_keeps_existing_dest_content(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "before.txt").write_bytes(b"kept")
    archive = make_zip(tmp_path / "in.zip", [("new/a.txt", b"1"), ("a" * 300, b"x")])

    with pytest.raises(RejectedItemError):
        extract_zip(archive, dest)
    assert tree(dest) == {"before.txt"}
    assert (dest / "before.txt").read_bytes() == b"kept"


def test_extract_zip_never_follows_a_symlink_in_dest(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "docs").symlink_to(outside)
    archive = make_zip(tmp_path / "in.zip", [("first.txt", b"1"), ("docs/a.txt", b"x")])

    with pytest.raises(FileExistsError):
        extract_zip(archive, dest)
    assert tree(outside) == set()
    assert tree(dest) == {"docs"}  # the symlink, left as it was; first.txt removed


def test_extraction_stops_when_a_member_outgrows_its_declared_size(tmp_path: Path) -> None:
    # zipfile and tarfile never hand out more than the declared size, so feed a lying reader directly.
    from aiguilleur.transport.archives import _Extraction, _Member

    archive = tmp_path / "in.zip"
    archive.write_bytes(b"x" * 100)
    job = _Extraction(archive, tmp_path / "out", ArchiveLimits())
    member = _Member("a.bin", False, 10, 10, lambda: io.BytesIO(bytes(200_000)))

    with pytest.raises(RejectedItemError, match="dépasse sa taille annoncée"):
        job.run([(member, job.admit(member))])
    assert not (tmp_path / "out").exists()


TAR_REFUSALS = [
    pytest.param(
        [("ok.txt", b"1"), tar_info("l", tarfile.SYMTYPE, "/etc/passwd")], "lien symbolique", id="symlink"
    ),
    pytest.param(
        [("ok.txt", b"1"), tar_info("h", tarfile.LNKTYPE, "ok.txt")], "lien physique", id="hardlink"
    ),
    pytest.param([tar_info("tty", tarfile.CHRTYPE)], "fichier spécial", id="chardev"),
    pytest.param([tar_info("sda", tarfile.BLKTYPE)], "fichier spécial", id="blockdev"),
    pytest.param([tar_info("p", tarfile.FIFOTYPE)], "fichier spécial", id="fifo"),
    pytest.param([("ok.txt", b"1"), ("../../evil", b"x")], "chemin dangereux", id="slip-after-a-file"),
    pytest.param([("/etc/cron.d/x", b"x")], "chemin dangereux", id="absolute"),
    pytest.param([("a.txt", b"1"), ("./A.TXT", b"2")], "en double", id="duplicate"),
    pytest.param([("caf\udc82.txt", b"1")], r"non UTF-8 refusé : b'caf\\x82.txt'", id="non-utf8"),
    pytest.param([], "archive vide", id="empty"),
]


@pytest.mark.parametrize(("entries", "reason"), TAR_REFUSALS)
def test_extract_tar_refuses_and_leaves_nothing(
    tmp_path: Path, entries: list[tarfile.TarInfo | tuple[str, bytes]], reason: str
) -> None:
    archive = make_tar(tmp_path / "in.tar.gz", entries)
    with pytest.raises(RejectedItemError, match=reason):
        extract_tar(archive, tmp_path / "out")
    assert tree(tmp_path) == {"in.tar.gz"}


def test_extract_tar_refuses_a_gzip_bomb_before_writing(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        info = tarfile.TarInfo("zeros.bin")
        info.size = 50 * 1024**2
        tf.addfile(info, io.BytesIO(bytes(info.size)))
    with pytest.raises(RejectedItemError, match="taux de compression"):
        extract_tar(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", [tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE], ids=["gnu-longname", "pax"])
def test_extract_tar_refuses_a_huge_header_without_loading_it(tmp_path: Path, kind: bytes) -> None:
    # tarfile reads these headers whole: 64 MB of "a" gzip into 64 KB.
    archive = tmp_path / "in.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        header = tarfile.TarInfo("././@LongLink")
        header.type, header.size = kind, 64 * 1024**2
        tf.addfile(header, io.BytesIO(b"a" * header.size))
        tf.addfile(tarfile.TarInfo("x"), io.BytesIO(b""))

    tracemalloc.start()
    try:
        with pytest.raises(RejectedItemError, match="corrompue"):
            extract_tar(archive, tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024**2
    assert not (tmp_path / "out").exists()


def test_extract_tar_truncated_after_a_member_removes_it(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "in.tar", [("a.txt", b"first"), ("b.bin", os.urandom(100_000))], mode="w")
    archive.write_bytes(archive.read_bytes()[:50_000])
    with pytest.raises(RejectedItemError, match=r"corrompue|octets lus"):
        extract_tar(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "content",
    [pytest.param(b"", id="empty-file"), pytest.param(b"not a tar" * 100, id="garbage")],
)
def test_extract_tar_refuses_corrupt_input(tmp_path: Path, content: bytes) -> None:
    archive = tmp_path / "in.tar"
    archive.write_bytes(content)
    with pytest.raises(RejectedItemError, match="corrompue ou illisible"):
        extract_tar(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_extract_tar_enforces_member_count(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "in.tar", [(f"{i}.txt", b"x") for i in range(5)], mode="w")
    with pytest.raises(RejectedItemError, match="trop de membres"):
        extract_tar(archive, tmp_path / "out", ArchiveLimits(max_members=4))
    assert not (tmp_path / "out").exists()
