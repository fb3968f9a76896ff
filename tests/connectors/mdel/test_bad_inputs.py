"""Every bad input of issue 3, each beside a good demand: quarantined with a French log, the run goes on.

One synchronisation (`run_connector`) over real directories, on SQLite and PostgreSQL. For each case
the bad file must end in the error directory (4) with ``<name>.log`` beside it naming the problem,
create no dossier and leave nothing in the work directory, while the good demand is imported as
usual and the run stays "ok": a rejected file is the sender's problem, not a failed run.
"""

from __future__ import annotations

import functools
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from aiguilleur.engine.runner import run_connector
from aiguilleur.store.blobs import BlobStore
from aiguilleur.store.dossiers import DossierFilter
from aiguilleur.store.repository import Store
from tests.conftest import Clock
from tests.connectors.mdel import world as world_module
from tests.connectors.mdel.builders import (
    AEC,
    BROKEN,
    RCO,
    demand_members,
    demand_zip,
    pack,
    symlink_member,
    with_raw_names,
    zip_name,
)
from tests.connectors.mdel.world import NAME, World

GOOD = zip_name(RCO)  # A-2-RC8S4N1P-RCO-LA-1.zip, routed to Cannes
BAD = zip_name(AEC)  # A-1-K7EC2T4Q-AEC-LA-1.zip, routed to Nice when it is readable
PJ = "A-1-K7EC2T4Q-AEC-LA-pj-ji-1-1.pdf"  # the attachment AEC's message.xml lists
PDF_JD = "A-1-K7EC2T4Q-AEC-LA-pj-jd-1-1.pdf"  # not listed: an extra member
MIB = 1024**2


@dataclass(frozen=True)
class Case:
    """A bad file: its name, how to make it, what its log must say, connector settings to apply."""

    make: Callable[[], bytes]
    says: tuple[str, ...]
    name: str = BAD
    settings: dict[str, Any] = field(default_factory=dict)


def _aec(**options: Any) -> bytes:
    return demand_zip(AEC, **options)


def _broken(vector: str) -> Callable[[], bytes]:
    """A demand whose message.xml is one of tests/data/mdel/broken/ (see its README)."""
    return lambda: _aec(message=(BROKEN / vector).read_bytes())


def _truncated() -> bytes:
    data = _aec()
    return data[: len(data) // 2]


def _bad_crc() -> bytes:
    """A stored member whose bytes were altered after the CRC was written (a transmission error)."""
    data = demand_zip(AEC, compression=zipfile.ZIP_STORED)
    marker = b"fictional test document"
    at = data.index(marker)
    return data[:at] + b"F" + data[at + 1 :]


def _with_member(name: str, content: bytes) -> bytes:
    return _aec(extra={name: content})


def _duplicate(second: str) -> bytes:
    """A second member named like message.xml (exactly or in another case) after the first one."""
    members = list(demand_members(AEC).items())
    return pack([*members, (second, members[0][1])])


def _duplicate_nfc_nfd() -> bytes:
    members = list(demand_members(AEC).items())
    nfc, nfd = "pj-pi\u00e8ce.pdf", "pj-pie\u0300ce.pdf"  # "pièce" composed, then decomposed
    return pack([*members, (nfc, b"%PDF-1.4 a"), (nfd, b"%PDF-1.4 b")])


def _symlink(target: str) -> bytes:
    members = list(demand_members(AEC).items())
    return pack([*members, symlink_member(PDF_JD, target)])


def _non_utf8_name() -> bytes:
    """A member named in Windows-1252 (``pièce-d'identité.pdf``) without the UTF-8 flag."""
    raw = "pi\u00e8ce-d'identit\u00e9.pdf".encode("cp1252")
    data = _with_member("X" * len(raw), b"%PDF-1.4 scanned")
    return with_raw_names(data, {"X" * len(raw): raw})


def _flagged_utf8_but_not() -> bytes:
    """A member flagged UTF-8 whose name bytes are Latin-1: no decoder can trust it."""
    good = "pi\u00e8ce.pdf"  # UTF-8: 10 bytes; the same length in Latin-1 with one more letter
    raw = "pi\u00e8cee.pdf".encode("latin-1")
    return with_raw_names(_with_member(good, b"%PDF-1.4 scanned"), {good: raw})


def _unknown_insee() -> bytes:
    ent = next(AEC.folder.glob("*-ent-*.xml")).read_bytes()
    message = (AEC.folder / "message.xml").read_bytes()
    paris = {"-ent": ent.replace(b"06088", b"75056")}  # Paris: not configured; -ent agrees
    return _aec(message=message.replace(b"06088", b"75056"), replace=paris)


def _hostile_doc(xml: bytes) -> bytes:
    return _aec(replace={"-doc": xml})


def _doctype_in(path: Path) -> bytes:
    """The DOCTYPE block of a broken vector, to put in front of another file."""
    text = path.read_bytes()
    return text[text.index(b"<!DOCTYPE") : text.index(b"]>") + 2]


def _xxe_doc() -> bytes:
    doc = next(AEC.folder.glob("*-doc-*.xml")).read_bytes()
    head, _, rest = doc.partition(b"?>")
    doctype = _doctype_in(BROKEN / "message-external-entity.xml")
    return _hostile_doc(head + b"?>\n" + doctype + rest.replace(b"NAISSANCE", b"&secret;", 1))


def _xxe_ent() -> bytes:
    ent = next(AEC.folder.glob("*-ent-*.xml")).read_bytes()
    head, _, rest = ent.partition(b"?>")
    doctype = _doctype_in(BROKEN / "message-external-entity.xml")
    return _aec(replace={"-ent": head + b"?>\n" + doctype + rest})


def _many_small_bombs() -> bytes:
    """40 members of 1 MiB of zeros: each under the per-member grace, 40 MiB from ~40 KB in all."""
    members = list(demand_members(AEC).items())
    zeros = bytes(MIB)
    return pack([*members, *((f"remplissage-{i}.pdf", zeros) for i in range(40))])


def _too_many_members() -> bytes:
    members = list(demand_members(AEC).items())
    return pack([*members, *((f"p{i}.pdf", b"") for i in range(1001))])


def case(case_id: str, make: Callable[[], bytes], *says: str, name: str = BAD, **settings: Any) -> Any:
    """One row of the table: `says` are substrings the file's log must contain."""
    return pytest.param(Case(make, says, name, settings), id=case_id)


DTD_REFUSED = "les DTD et entités XML sont refusées"

CASES = [
    # corrupt or empty
    case("corrupt-truncated", _truncated, "archive corrompue ou illisible"),
    case("corrupt-crc", _bad_crc, "archive corrompue ou illisible", "CRC"),
    case("corrupt-garbage", lambda: b"PK\x03\x04 ceci n'est pas un zip", "archive corrompue"),
    case("empty-file", lambda: b"", "archive corrompue"),
    case("empty-zip", lambda: pack([]), "archive vide"),
    # paths leaving the extraction folder
    case(
        "zip-slip-dotdot",
        lambda: _with_member("../../evil.sh", b"#!/bin/sh\n"),
        "chemin dangereux",
        "../../evil.sh",
    ),
    case(
        "zip-slip-absolute",
        lambda: _with_member("/tmp/evil.sh", b"#!/bin/sh\n"),
        "chemin dangereux",
        "/tmp/evil",
    ),
    case("zip-slip-backslash", lambda: _with_member("..\\..\\evil.bat", b"@echo off\n"), "chemin dangereux"),
    case(
        "zip-slip-listed-in-message",
        _broken("message-path-traversal.xml"),
        "nom de fichier dangereux ou invalide",
        "../../../etc/cron.d/evil",
    ),
    # zip bombs: one member, many members, the configured total, the member count
    case("zip-bomb-ratio", lambda: _with_member(PDF_JD, bytes(24 * MIB)), "taux de compression suspect"),
    case("zip-bomb-many-members", _many_small_bombs, "taux de compression suspect", "pour l'archive"),
    case(
        "zip-bomb-total-size",
        lambda: _with_member(PDF_JD, os.urandom(600 * 1024)),
        "taille décompressée totale supérieure à 524288 octets",
        max_total_bytes=512 * 1024,
    ),
    case("zip-bomb-member-count", _too_many_members, "trop de membres (limite 1000)"),
    # members that are not plain files, or not unique
    case("symlink-absolute", lambda: _symlink("/etc/passwd"), "lien symbolique refusé", PDF_JD),
    case("symlink-relative", lambda: _symlink("../../../in"), "lien symbolique refusé", PDF_JD),
    case("duplicate-exact", lambda: _duplicate("message.xml"), "nom en double", "'message.xml'"),
    case("duplicate-case", lambda: _duplicate("MESSAGE.XML"), "nom en double", "'MESSAGE.XML'"),
    case("duplicate-unicode-normalisation", _duplicate_nfc_nfd, "nom en double", "pj-pi"),
    # missing members
    case("no-message", lambda: _aec(omit=("message.xml",)), "message.xml absent de l'archive"),
    case("missing-attachment", lambda: _aec(omit=(PJ,)), "annoncé(s) mais absent(s) de l'archive", PJ),
    # hostile or invalid XML
    case(
        "xxe-message",
        _broken("message-external-entity.xml"),
        f"message.xml : {DTD_REFUSED}",
    ),
    case("xxe-ent", _xxe_ent, f"-ent-1.xml : {DTD_REFUSED}"),
    case("xxe-doc", _xxe_doc, f"-doc-ActeEtatCivil-XML-1-1.xml : {DTD_REFUSED}"),
    case(
        "billion-laughs",
        _broken("message-billion-laughs.xml"),
        f"message.xml : {DTD_REFUSED}",
    ),
    case(
        "invalid-xml-message",
        lambda: _aec(message=(AEC.folder / "message.xml").read_bytes()[:1500]),
        "message.xml : XML invalide, ligne",
    ),
    case(
        "invalid-xml-doc",
        lambda: _hostile_doc(b"<DemandeActe><Acte>sans fin"),
        "-doc-ActeEtatCivil-XML-1-1.xml : XML invalide, ligne 1",
    ),
    # not ours, or not for us
    case(
        "unknown-flow-in-message",
        _broken("message-unknown-flow.xml"),
        "flux « DAUA » inconnu dans message.xml",
        "flux acceptés : RCO-LA, AEC-LA, ILE-LA",
    ),
    case("unknown-flow-in-name", _aec, "flux « DAUA-LA » inconnu", name="A-1-K7EC2T4Q-DAUA-LA-1.zip"),
    case(
        "flow-differs-from-name",
        _broken("message-wrong-flow.xml"),
        "le flux de message.xml (RCO-LA) ne correspond pas au nom du fichier (AEC-LA)",
    ),
    case("unknown-insee", _unknown_insee, "code INSEE 75056 n'est pas une collectivité configurée"),
    case("name-free-text", _aec, "nom de fichier non conforme", name="demande-urgente.zip"),
    case("name-without-index", _aec, "le numéro de fichier <n> manque", name="A-1-K7EC2T4Q-AEC-LA.zip"),
    case(
        "name-not-a-zip", lambda: b"hello", "ce n'est pas un zip de demande", name="A-1-K7EC2T4Q-AEC-LA-1.txt"
    ),
    # member names that are not UTF-8
    case("non-utf8-name-cp1252", _non_utf8_name, "nom de membre non UTF-8 refusé", "pi\\xe8ce"),
    case("non-utf8-name-flagged-utf8", _flagged_utf8_but_not, "archive corrompue ou illisible", "utf-8"),
]


@pytest.fixture
def make_world(store: Store, blobs: BlobStore, clock: Clock, tmp_path: Path) -> Callable[..., World]:
    return functools.partial(world_module.make_world, store, blobs, clock, tmp_path, min_age=0)


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_quarantined_and_the_run_goes_on(make_world: Callable[..., World], case: Case) -> None:
    world = make_world(**case.settings)
    (world.root / "in").mkdir(parents=True)
    (world.root / "in" / case.name).write_bytes(case.make())
    (world.root / "in" / GOOD).write_bytes(demand_zip(RCO))

    outcome = run_connector(world.hub, NAME)

    assert outcome.outcome == "ok", outcome
    assert outcome.counts == {"imported": 1, "rejected": 1, "errors": 1, "returns_sent": 1}
    assert [e for e in outcome.errors if case.name in e] == outcome.errors != []
    # the bad file: in error, with a log an agent can read
    assert world.names("error") == sorted([case.name, f"{case.name}.log"])
    log = (world.root / "error" / f"{case.name}.log").read_text(encoding="utf-8")
    assert log.startswith(f"Fichier « {case.name} » refusé.\nMotif : ")
    assert "aucun dossier n'a été créé" in log
    for words in case.says:
        assert words in log, log
    assert "root:" not in log  # nothing of /etc/passwd was read into the message
    # the good one: imported and answered
    assert world.names("done") == [GOOD]
    dossiers = world.store.dossiers.search(DossierFilter(), None).items
    assert [(d.external_id, d.status) for d in dossiers] == [(RCO.numero, 14)]
    assert world.names("out") == [GOOD]
    # nothing left behind, nothing written outside the extraction folder
    assert world.names("in") == []
    assert world.names("work") == []
    leaked = [p for p in world.root.parent.rglob("*") if p.is_symlink() or p.name.startswith("evil")]
    assert leaked == []
