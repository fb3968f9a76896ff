"""The fake MDEL portal: demands, broken demands, PDFs, the return checker, the SFTP server."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import re
import stat
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from lxml import etree

from aiguilleur.fakes.mdel_portal import (
    BROKEN_KINDS,
    FLOWS,
    METIER_NS,
    PEC_NS,
    Demand,
    MdelPortal,
    ReturnRejected,
    SftpPortalServer,
    check_return,
    make_pdf,
    serve_forever,
)

NS = {"ns2": PEC_NS, "m": METIER_NS}
SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
DOC_ROOTS = {
    "RCO-LA": "RecensementCitoyen",
    "AEC-LA": "EnveloppeMetierType",
    "ILE-LA": "InscriptionListeElectorale",
}
ZIP_NAME = re.compile(r"(?P<numero>A-\d-[A-Z0-9]{8})-(?P<flow>[A-Z]{3}-LA)-(?P<step>\d+)\.zip")


def open_zip(demand: Demand) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(demand.data))


def message_of(demand: Demand) -> etree._Element:
    with open_zip(demand) as z:
        return etree.fromstring(z.read("message.xml"), SAFE)


def texts(root: etree._Element, path: str) -> list[str]:
    return [e.text or "" for e in root.iterfind(path, NS)]


# --- demands ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flow", FLOWS)
def test_demand_is_a_zip_whose_message_lists_files_that_exist(flow: str) -> None:
    demand = MdelPortal(seed=1).make_demand(flow, "06088", attachments=3)
    match = ZIP_NAME.fullmatch(demand.name)
    assert match and (match["numero"], match["flow"], match["step"]) == (demand.numero, flow, "1")
    with open_zip(demand) as z:
        assert z.testzip() is None
        names = set(z.namelist())
        pdfs = [z.read(n) for n in names if n.endswith(".pdf")]
    root = message_of(demand)
    aller = "ns2:Body/ns2:Content/ns2:Aller"
    assert root.tag == f"{{{PEC_NS}}}Message"
    assert texts(root, "ns2:Header/ns2:Routing/ns2:FlowType") == [flow]
    assert texts(root, "ns2:Header/ns2:Routing/ns2:MessageId") == [demand.header.message_id]
    assert texts(root, "ns2:Header/ns2:Routing/ns2:Recipients/ns2:Recipient/ns2:Location/ns2:Siret") == [
        "21060088800015"
    ]
    assert texts(root, f"{aller}/m:Teledemarche/m:NumeroTeledemarche") == [demand.numero]
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0[12]:00", texts(root, f"{aller}/m:Teledemarche/m:Date")[0]
    )
    assert texts(root, f"{aller}/m:Routage/m:Donnee/m:Valeur") == ["06088"]
    listed = texts(root, f"{aller}/m:PieceJointe/m:Fichier") + texts(
        root, f"{aller}/m:Document/m:FichierFormulaire/m:FichierDonnees"
    )
    assert len(texts(root, f"{aller}/m:PieceJointe/m:Fichier")) == 3
    assert set(listed) | {"message.xml", f"{demand.numero}-{flow}-ent-1.xml"} == names
    for pj in texts(root, f"{aller}/m:PieceJointe/m:Fichier"):
        assert re.fullmatch(rf"{demand.numero}-{flow}-pj-(ji|jd|jf)-\d-1\.pdf", pj)
    assert all(p.startswith(b"%PDF-1.4") and len(p) == 20_000 for p in pdfs)


@pytest.mark.parametrize("flow", FLOWS)
def test_demand_ent_and_doc_files_parse(flow: str) -> None:
    demand = MdelPortal(seed=2).make_demand(flow, "06029")
    with open_zip(demand) as z:
        ent = etree.fromstring(z.read(f"{demand.numero}-{flow}-ent-1.xml"), SAFE)
        doc_name = next(n for n in z.namelist() if "-doc-" in n and n.endswith(".xml"))
        doc = etree.fromstring(z.read(doc_name), SAFE)
    assert ent.tag == f"{{{METIER_NS}}}EnteteMetierEnveloppe"
    assert texts(ent, "m:Teledemarche/m:NumeroTeledemarche") == [demand.numero]
    assert doc.tag == DOC_ROOTS[flow]
    assert re.fullmatch(rf"{demand.numero}-{flow}-doc-[\w-]+-XML-1-1\.xml", doc_name)


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not() -> None:
    def run(seed: int) -> list[bytes]:
        portal = MdelPortal(seed=seed)
        return [portal.make_demand(flow, "06088").data for flow in FLOWS]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_write_demands_writes_unique_complete_zips(tmp_path: Path) -> None:
    portal = MdelPortal(seed=3)
    paths = portal.write_demands(tmp_path, 30, insee=["06088", "06029"], pdf_bytes=2_000)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)  # no .part left
    assert len({p.name for p in paths}) == 30
    ids = [h.message_id for sent in portal.demands.values() for h in sent]
    assert len(set(ids)) == 30
    assert {h.flow for sent in portal.demands.values() for h in sent} == set(FLOWS)
    for path in paths:
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None


def test_resend_is_step_two_of_the_same_dossier_with_the_same_person() -> None:
    portal = MdelPortal(seed=4)
    first = portal.make_demand("RCO-LA", "06088")
    second = portal.resend(first.numero)
    assert second.name == f"{first.numero}-RCO-LA-2.zip"
    assert all(m == "message.xml" or re.search(r"-2\.(xml|pdf)$", m) for m in second.members)
    assert second.header.message_id != first.header.message_id

    def surname(demand: Demand) -> list[str]:
        with open_zip(demand) as z:
            doc = etree.fromstring(z.read(f"{demand.numero}-RCO-LA-doc-10870-XML-1-{demand.step}.xml"), SAFE)
        return texts(doc, "Personne/NomFamille")

    assert surname(first) == surname(second)


# --- PDFs ---------------------------------------------------------------------------------------------


def xref_offsets(pdf: bytes) -> dict[int, int]:
    """Object number -> offset, read from the classic xref table the trailer points to."""
    start = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", pdf)[1])  # type: ignore[index]
    assert pdf[start : start + 4] == b"xref"
    lines = pdf[start:].split(b"\n")
    first, count = map(int, lines[1].split())
    entries = pdf[start + len(lines[0]) + len(lines[1]) + 2 :][: 20 * count]
    offsets = {}
    for i in range(count):
        entry = entries[20 * i : 20 * i + 20]
        assert re.fullmatch(rb"\d{10} \d{5} [nf]\r\n", entry), entry
        if entry[17:18] == b"n":
            offsets[first + i] = int(entry[:10])
    return offsets


@pytest.mark.parametrize("size", [0, 5_000, 100_000], ids=["bare", "5k", "100k"])
def test_pdf_has_header_correct_xref_and_eof(size: int) -> None:
    pdf = make_pdf("Cerfa n°10870 — (test) \\ été", size_bytes=size)
    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.endswith(b"%%EOF\n")
    offsets = xref_offsets(pdf)
    assert sorted(offsets) == list(range(1, len(offsets) + 1))
    for number, offset in offsets.items():
        assert pdf[offset:].startswith(b"%d 0 obj\n" % number)
    assert b"/Size %d " % (len(offsets) + 1) in pdf
    if size:
        assert len(pdf) == size


def test_pdf_length_entries_match_their_streams() -> None:
    pdf = make_pdf("Titre", size_bytes=3_000)
    for match in re.finditer(rb"/Length (\d+) >>\nstream\n", pdf):
        end = match.end() + int(match[1])
        assert pdf[end:].startswith((b"endstream", b"\nendstream"))


# --- broken demands -----------------------------------------------------------------------------------


def _raw_names(demand: Demand) -> list[str]:
    with open_zip(demand) as z:
        return z.namelist()


def _listed(demand: Demand) -> list[str]:
    root = message_of(demand)
    return texts(root, ".//m:Fichier") + texts(root, ".//m:FichierDonnees")


def check_corrupt(d: Demand) -> None:
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(d.data))
    assert len(d.data) > 1000


def check_empty(d: Demand) -> None:
    assert d.data == b"" and ZIP_NAME.fullmatch(d.name)


def check_zip_slip(d: Demand) -> None:
    escaping = [n for n in _raw_names(d) if ".." in n.split("/")]
    assert escaping and escaping[0] in _listed(d)


def check_zip_bomb(d: Demand) -> None:
    with open_zip(d) as z:
        bomb = max(z.infolist(), key=lambda i: i.file_size)
        assert bomb.file_size >= 1 << 30 and bomb.file_size > 500 * bomb.compress_size
        with z.open(bomb) as f:
            assert f.read(1 << 20) == bytes(1 << 20)  # really zeros; never expanded in full here
    assert bomb.filename in _listed(d)


def check_symlink(d: Demand) -> None:
    with open_zip(d) as z:
        links = [i for i in z.infolist() if stat.S_ISLNK(i.external_attr >> 16)]
        assert len(links) == 1 and z.read(links[0]) == b"/etc/passwd"
    assert links[0].filename in _listed(d)


def check_duplicate_member(d: Demand) -> None:
    names = _raw_names(d)
    assert names.count("message.xml") == 2
    with open_zip(d) as z:
        routes = [
            texts(etree.fromstring(z.open(i).read(), SAFE), ".//m:Routage/m:Donnee/m:Valeur")
            for i in z.infolist()
            if i.filename == "message.xml"
        ]
    assert routes[0] != routes[1]


def check_missing_message(d: Demand) -> None:
    names = _raw_names(d)
    assert "message.xml" not in names and any(n.endswith(f"-ent-{d.step}.xml") for n in names)


def check_missing_attachment(d: Demand) -> None:
    missing = set(_listed(d)) - set(_raw_names(d))
    assert len(missing) == 1 and "-pj-" in missing.pop()


def check_xxe(d: Demand) -> None:
    with open_zip(d) as z:
        data = z.read("message.xml")
    assert b'<!ENTITY xxe SYSTEM "file:///etc/passwd">' in data
    root = etree.fromstring(data, SAFE)  # well-formed; a safe parser leaves the entity unexpanded
    assert root.getroottree().docinfo.internalDTD is not None
    assert any(isinstance(e, etree._Entity) for e in root.iter())


def check_billion_laughs(d: Demand) -> None:
    with open_zip(d) as z:
        data = z.read("message.xml")
    assert data.count(b"<!ENTITY lol") == 10
    with pytest.raises(etree.XMLSyntaxError):  # libxml2 refuses the expansion by default
        etree.fromstring(data, etree.XMLParser(resolve_entities=True, huge_tree=False))


def check_invalid_xml(d: Demand) -> None:
    with open_zip(d) as z:
        data = z.read("message.xml")
        etree.fromstring(z.read(f"{d.numero}-{d.flow}-ent-1.xml"), SAFE)  # the rest is fine
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(data, SAFE)


def check_unknown_flow(d: Demand) -> None:
    assert d.name.endswith("-DDPACS-1.zip")
    assert texts(message_of(d), "ns2:Header/ns2:Routing/ns2:FlowType") == ["DDPACS"]


def check_unknown_insee(d: Demand) -> None:
    assert texts(message_of(d), ".//m:Routage/m:Donnee/m:Valeur") == ["99999"]


def check_bad_name(d: Demand) -> None:
    assert not ZIP_NAME.fullmatch(d.name) and d.name.endswith(".zip")
    assert "message.xml" in _raw_names(d)


def check_non_utf8_name(d: Demand) -> None:
    with open_zip(d) as z:
        odd = [i for i in z.infolist() if not i.filename.isascii()]
    assert len(odd) == 1 and not odd[0].flag_bits & 0x800
    raw = odd[0].orig_filename.encode("cp437")  # zipfile decodes flagless names as CP437
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("cp850") in _listed(d)


def check_flow_mismatch(d: Demand) -> None:
    match = ZIP_NAME.fullmatch(d.name)
    assert match and texts(message_of(d), "ns2:Header/ns2:Routing/ns2:FlowType") != [match["flow"]]


BROKEN_CHECKS: dict[str, Callable[[Demand], None]] = {
    "corrupt": check_corrupt,
    "empty": check_empty,
    "zip_slip": check_zip_slip,
    "zip_bomb": check_zip_bomb,
    "symlink": check_symlink,
    "duplicate_member": check_duplicate_member,
    "missing_message": check_missing_message,
    "missing_attachment": check_missing_attachment,
    "xxe": check_xxe,
    "billion_laughs": check_billion_laughs,
    "invalid_xml": check_invalid_xml,
    "unknown_flow": check_unknown_flow,
    "unknown_insee": check_unknown_insee,
    "bad_name": check_bad_name,
    "non_utf8_name": check_non_utf8_name,
    "flow_mismatch": check_flow_mismatch,
}


def test_every_broken_kind_has_a_check() -> None:
    assert set(BROKEN_CHECKS) == set(BROKEN_KINDS)


@pytest.mark.parametrize("kind", BROKEN_KINDS)
def test_broken_demand_is_broken_in_the_stated_way(kind: str, tmp_path: Path) -> None:
    portal = MdelPortal(seed=5)
    demand = portal.make_broken(kind, directory=tmp_path)
    assert demand.broken == kind
    assert (tmp_path / demand.name).read_bytes() == demand.data
    assert portal.demands == {} and portal.broken == [demand.header]  # nobody should answer it
    BROKEN_CHECKS[kind](demand)


def test_unknown_broken_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown broken kind"):
        MdelPortal().make_broken("nope")


# --- returns ------------------------------------------------------------------------------------------


def build_return(
    numero: str,
    flow: str,
    increment: int,
    etat: str = "14",
    *,
    numero_in_xml: str | None = None,
    message_id: str | None = None,
    with_message: bool = True,
    extra: dict[str, bytes] | None = None,
) -> tuple[str, bytes]:
    """A return zip as seed 002 §IV.3 shows it, built independently of the fake."""

    def p(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
        element = etree.SubElement(parent, f"{{{PEC_NS}}}{tag}")
        element.text = text
        return element

    root = etree.Element(f"{{{PEC_NS}}}Message", nsmap={"ns2": PEC_NS})
    routing = p(p(root, "Header"), "Routing")
    p(routing, "MessageId", message_id or f"{numero}-{flow}-retour-{increment}")
    p(routing, "FlowType", flow)
    retour = p(p(p(root, "Body"), "Content"), "Retour")
    p(p(retour, "Enveloppe"), "NumeroTeledemarche", numero_in_xml or numero)
    maj = p(p(retour, "Instruction"), "Maj")
    p(maj, "Etat", etat)
    p(maj, "Commentaire", "Le dossier a été reçu et sera traité prochainement.")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        if with_message:
            z.writestr("message.xml", etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
        for name, content in (extra or {}).items():
            z.writestr(name, content)
    return f"{numero}-{flow}-{increment}.zip", buffer.getvalue()


@pytest.fixture
def portal() -> MdelPortal:
    return MdelPortal(seed=6)


@pytest.fixture
def demand(portal: MdelPortal) -> Demand:
    return portal.make_demand("RCO-LA", "06088")


def test_check_return_accepts_a_well_formed_return(demand: Demand) -> None:
    attestation = make_pdf("Attestation de recensement")
    name, data = build_return(demand.numero, "RCO-LA", 2, "19", extra={"attestation.pdf": attestation})
    seen = check_return(name, data, demand.header)
    assert (seen.numero, seen.flow, seen.increment, seen.etat) == (demand.numero, "RCO-LA", 2, 19)
    assert seen.commentaire.startswith("Le dossier a été reçu")
    assert seen.documents == {"attestation.pdf": attestation}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param({"name": "retour.zip"}, "name does not follow", id="bad-name"),
        pytest.param({"with_message": False}, "no message.xml", id="missing-message"),
        pytest.param({"etat": "18"}, "Etat '18'", id="wrong-etat"),
        pytest.param({"etat": "quatorze"}, "Etat 'quatorze'", id="etat-not-a-number"),
        pytest.param({"numero_in_xml": "A-1-AAAAAAAA"}, "NumeroTeledemarche", id="numero-mismatch"),
        pytest.param({"data": b"PK\x03\x04 not really"}, "not a readable zip", id="not-a-zip"),
    ],
)
def test_check_return_rejects(demand: Demand, change: dict[str, object], reason: str) -> None:
    options = {k: v for k, v in change.items() if k not in ("name", "data")}
    name, data = build_return(demand.numero, "RCO-LA", 1, **options)  # type: ignore[arg-type]
    name = str(change.get("name", name))
    data = change.get("data", data)  # type: ignore[assignment]
    with pytest.raises(ReturnRejected, match=re.escape(reason)):
        check_return(name, data, demand.header)


def test_check_return_rejects_a_return_for_another_demand(portal: MdelPortal, demand: Demand) -> None:
    other = portal.make_demand("AEC-LA", "06088")
    with pytest.raises(ReturnRejected, match="does not match the demand"):
        check_return(*build_return(other.numero, "AEC-LA", 1), demand.header)


def test_check_return_rejects_a_dtd(demand: Demand) -> None:
    name, data = build_return(demand.numero, "RCO-LA", 1)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        message = z.read("message.xml").replace(b"?>", b'?>\n<!DOCTYPE x [<!ENTITY e "e">]>', 1)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("message.xml", message)
    with pytest.raises(ReturnRejected, match="DTD"):
        check_return(name, buffer.getvalue(), demand.header)


def drop(directory: Path, *returns: tuple[str, bytes]) -> None:
    for name, data in returns:
        (directory / name).write_bytes(data)


def test_collect_returns_records_statuses_and_consumes_files(
    portal: MdelPortal, demand: Demand, tmp_path: Path
) -> None:
    n = demand.numero
    drop(tmp_path, *(build_return(n, "RCO-LA", i, etat) for i, etat in enumerate(("14", "16", "19"), 1)))
    (tmp_path / f"{n}-RCO-LA-4.zip.part").write_bytes(b"upload in progress")
    seen = portal.collect_returns(tmp_path)
    assert [r.increment for r in seen] == [1, 2, 3]
    assert portal.statuses(n) == [14, 16, 19]
    assert portal.problems == [] and portal.rejected == []
    assert [p.name for p in tmp_path.iterdir()] == [f"{n}-RCO-LA-4.zip.part"]


def test_collect_returns_reports_a_gap_until_it_is_filled(
    portal: MdelPortal, demand: Demand, tmp_path: Path
) -> None:
    n = demand.numero
    drop(tmp_path, build_return(n, "RCO-LA", 1), build_return(n, "RCO-LA", 3, "16"))
    portal.collect_returns(tmp_path)
    assert portal.problems == [f"{n}: return increment(s) 2 missing (got 1, 3)"]
    drop(tmp_path, build_return(n, "RCO-LA", 2, "16"))
    portal.collect_returns(tmp_path)
    assert portal.problems == [f"{n}: return increment 2 arrived after 3"]


def test_collect_returns_reports_a_repeated_increment(
    portal: MdelPortal, demand: Demand, tmp_path: Path
) -> None:
    n = demand.numero
    drop(tmp_path, build_return(n, "RCO-LA", 1))
    portal.collect_returns(tmp_path)
    drop(tmp_path, build_return(n, "RCO-LA", 1, "16", message_id="another id"))
    assert portal.collect_returns(tmp_path) == []
    assert portal.problems == [f"{n}: return increment 1 received twice"]
    assert portal.statuses(n) == [14]


def test_collect_returns_without_consuming_reads_each_file_once(
    portal: MdelPortal, demand: Demand, tmp_path: Path
) -> None:
    drop(tmp_path, build_return(demand.numero, "RCO-LA", 1))
    assert len(portal.collect_returns(tmp_path, consume=False)) == 1
    assert portal.collect_returns(tmp_path, consume=False) == []
    assert portal.problems == [] and len(list(tmp_path.iterdir())) == 1


def test_collect_returns_flags_a_reused_message_id(
    portal: MdelPortal, demand: Demand, tmp_path: Path
) -> None:
    n = demand.numero
    drop(tmp_path, *(build_return(n, "RCO-LA", i, message_id=demand.header.message_id) for i in (1, 2)))
    portal.collect_returns(tmp_path)
    assert len(portal.problems) == 1 and "already used by" in portal.problems[0]


def test_collect_returns_rejects_unknown_dossiers_and_bad_files(portal: MdelPortal, tmp_path: Path) -> None:
    drop(tmp_path, build_return("A-1-ZZZZZZZZ", "RCO-LA", 1), ("notes.txt", b"hello"))
    assert portal.collect_returns(tmp_path) == []
    reasons = sorted(r.reason for r in portal.rejected)
    assert reasons[0] == "name does not follow <NumeroTeledemarche>-<FlowType>-<increment>.zip"
    assert reasons[1] == "the portal never sent a demand A-1-ZZZZZZZZ"


# --- SFTP server --------------------------------------------------------------------------------------


@pytest.fixture
def client_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")


@pytest.fixture
def sftp_server(tmp_path: Path, client_key: asyncssh.SSHKey) -> Iterator[SftpPortalServer]:
    public = client_key.export_public_key("openssh").decode()
    with SftpPortalServer(tmp_path / "portal", [public]) as server:
        yield server


@pytest.fixture
def known_hosts(sftp_server: SftpPortalServer, tmp_path: Path) -> Path:
    return sftp_server.write_known_hosts(tmp_path / "known_hosts")


def connect(server: SftpPortalServer, known_hosts: Path, **options: object) -> Any:
    """An asyncssh connection (async context manager) as the hub would open it: pinned host key, no
    ~/.ssh config, no agent."""
    settings: dict[str, object] = {
        "username": "mairie",
        "known_hosts": str(known_hosts),
        "config": None,
        "agent_path": None,
        "password": None,
    }
    settings.update(options)
    return asyncssh.connect("127.0.0.1", server.port, **settings)


@pytest.mark.integration
def test_sftp_host_key_line_pins_the_server(sftp_server: SftpPortalServer) -> None:
    assert re.fullmatch(
        rf"\[127\.0\.0\.1\]:{sftp_server.port} ssh-ed25519 AAAA\S+", sftp_server.host_key_public
    )


@pytest.mark.integration
def test_sftp_list_download_upload_and_collect(
    sftp_server: SftpPortalServer, known_hosts: Path, client_key: asyncssh.SSHKey, tmp_path: Path
) -> None:
    portal = MdelPortal(seed=9)
    demand = portal.make_demand("AEC-LA", "06088", directory=sftp_server.depot_dir)
    path = sftp_server.depot_dir / demand.name
    name, data = build_return(demand.numero, demand.flow, 1)

    async def session() -> tuple[list[str], bytes]:
        async with (
            connect(sftp_server, known_hosts, client_keys=[client_key]) as conn,
            conn.start_sftp_client() as sftp,
        ):
            listing = sorted(await sftp.listdir("/depot"))
            async with sftp.open(f"/depot/{path.name}", "rb") as f:
                content = await f.read()
            await sftp.remove(f"/depot/{path.name}")
            async with sftp.open(f"/retours/{name}.part", "wb") as f:
                await f.write(data)
            await sftp.posix_rename(f"/retours/{name}.part", f"/retours/{name}")
            return listing, content

    listing, content = asyncio.run(session())
    assert [n for n in listing if n not in (".", "..")] == [path.name]
    assert content == demand.data
    assert list(sftp_server.depot_dir.iterdir()) == []
    assert [r.etat for r in portal.collect_returns(sftp_server.retours_dir)] == [14]


@pytest.mark.integration
def test_sftp_refuses_writes_outside_the_return_folder(
    sftp_server: SftpPortalServer, known_hosts: Path, client_key: asyncssh.SSHKey
) -> None:
    async def session() -> None:
        async with (
            connect(sftp_server, known_hosts, client_keys=[client_key]) as conn,
            conn.start_sftp_client() as sftp,
            sftp.open("/depot/x.zip", "wb") as f,
        ):
            await f.write(b"x")

    with pytest.raises(asyncssh.SFTPPermissionDenied):
        asyncio.run(session())
    assert list(sftp_server.depot_dir.iterdir()) == []


@pytest.mark.integration
def test_sftp_refuses_passwords(sftp_server: SftpPortalServer, known_hosts: Path) -> None:
    async def session() -> None:
        async with connect(sftp_server, known_hosts, client_keys=None, password="mairie"):
            pass

    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(session())


@pytest.mark.integration
def test_sftp_refuses_an_unknown_key(sftp_server: SftpPortalServer, known_hosts: Path) -> None:
    stranger = asyncssh.generate_private_key("ssh-ed25519")

    async def session() -> None:
        async with connect(sftp_server, known_hosts, client_keys=[stranger]):
            pass

    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(session())


@pytest.mark.integration
def test_sftp_client_refuses_a_server_with_another_host_key(
    sftp_server: SftpPortalServer, client_key: asyncssh.SSHKey, tmp_path: Path
) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()
    pinned = tmp_path / "other_known_hosts"
    pinned.write_text(f"[127.0.0.1]:{sftp_server.port} {other[0]} {other[1]}\n")

    async def session() -> None:
        async with connect(sftp_server, pinned, client_keys=[client_key]):
            pass

    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        asyncio.run(session())


@pytest.mark.integration
def test_sftp_fault_refuse_auth(
    sftp_server: SftpPortalServer, known_hosts: Path, client_key: asyncssh.SSHKey
) -> None:
    sftp_server.faults.refuse_auth = True

    async def session() -> None:
        async with connect(sftp_server, known_hosts, client_keys=[client_key]):
            pass

    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(session())


@pytest.mark.integration
def test_sftp_fault_drops_the_connection_after_n_operations(
    sftp_server: SftpPortalServer, known_hosts: Path, client_key: asyncssh.SSHKey
) -> None:
    MdelPortal(seed=10).write_demands(sftp_server.depot_dir, 2)
    sftp_server.faults.drop_after_ops = 1

    async def session() -> None:
        async with (
            connect(sftp_server, known_hosts, client_keys=[client_key]) as conn,
            conn.start_sftp_client() as sftp,
        ):
            await sftp.listdir("/depot")  # operation 1
            await sftp.stat("/depot")  # operation 2: cut

    with pytest.raises((asyncssh.SFTPConnectionLost, asyncssh.ConnectionLost, asyncssh.DisconnectError)):
        asyncio.run(session())
    assert sftp_server.faults.drops == 1


@pytest.mark.integration
def test_sftp_fault_slow_reads(
    sftp_server: SftpPortalServer, known_hosts: Path, client_key: asyncssh.SSHKey
) -> None:
    (sftp_server.depot_dir / "petit.zip").write_bytes(b"PK small")
    sftp_server.faults.read_delay_s = 0.5

    async def session() -> tuple[bool, bytes]:
        async with (
            connect(sftp_server, known_hosts, client_keys=[client_key]) as conn,
            conn.start_sftp_client() as sftp,
            sftp.open("/depot/petit.zip", "rb") as f,
        ):
            read = asyncio.ensure_future(f.read())
            done, _ = await asyncio.wait({read}, timeout=0.1)  # the server cannot answer before 0.5 s
            # Let the read finish: abandoning it would leave asyncssh tasks with unretrieved errors,
            # whose finalizers trip a CPython 3.11 bug if they run during ast.parse (pytest rewriting).
            return bool(done), await read

    answered_early, content = asyncio.run(session())
    assert not answered_early
    assert content == b"PK small"


@pytest.mark.integration
def test_serve_forever_creates_and_pins_its_host_key(
    tmp_path: Path, client_key: asyncssh.SSHKey, capsys: pytest.CaptureFixture[str]
) -> None:
    authorized = tmp_path / "authorized_keys"
    authorized.write_text("# the commune\n" + client_key.export_public_key("openssh").decode())
    host_key = tmp_path / "keys" / "host_ed25519"
    stop = threading.Event()
    stop.set()  # serve, print the pin, return at once
    serve_forever(tmp_path / "portal", 0, authorized, host_key, stop=stop)
    public = asyncssh.read_private_key(host_key).export_public_key("openssh").decode().split()
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(rf"\[127\.0\.0\.1\]:\d+ {public[0]} {re.escape(public[1])}", line)
    assert stat.S_IMODE(host_key.stat().st_mode) == 0o600
    assert (tmp_path / "portal" / "depot").is_dir() and (tmp_path / "portal" / "retours").is_dir()


if importlib.util.find_spec("paramiko") is not None:  # optional: only where paramiko is installed

    @pytest.mark.integration
    def test_sftp_with_paramiko(
        sftp_server: SftpPortalServer, known_hosts: Path, client_key: asyncssh.SSHKey, tmp_path: Path
    ) -> None:
        import paramiko

        key_file = tmp_path / "id_ed25519"
        client_key.write_private_key(key_file)
        portal = MdelPortal(seed=12)
        (path,) = portal.write_demands(sftp_server.depot_dir, 1)
        (demand,) = (sent[0] for sent in portal.demands.values())
        name, data = build_return(demand.numero, demand.flow, 1)
        client = paramiko.SSHClient()
        client.load_host_keys(str(known_hosts))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            "127.0.0.1",
            sftp_server.port,
            username="mairie",
            key_filename=str(key_file),
            allow_agent=False,
            look_for_keys=False,
        )
        try:
            sftp = client.open_sftp()
            assert sftp.listdir("/depot") == [path.name]
            with sftp.open(f"/depot/{path.name}", "rb") as f:
                assert f.read() == path.read_bytes()
            sftp.putfo(io.BytesIO(data), f"/retours/{name}.part")
            sftp.posix_rename(f"/retours/{name}.part", f"/retours/{name}")
        finally:
            client.close()
        assert portal.statuses(demand.numero) == []
        portal.collect_returns(sftp_server.retours_dir)
        assert portal.statuses(demand.numero) == [14]
